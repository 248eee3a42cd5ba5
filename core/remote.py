"""Where model work runs: this process's compute lane, or Ray Serve replicas.

GLASSBOX_BACKEND=local (the default) keeps today's single process: core.lane runs every job on its one thread.
GLASSBOX_BACKEND=ray sends each lane job (the same closure, pickled by Ray) to the `glassbox` Serve application
(deploy/serve_app.py), whose replicas are processes with their own lane and their own bounded model cache. The
front end keeps its result caches, so a slider move that was computed before costs no round trip.

Ray is imported here only when the backend is `ray` (the hub must start without heavy imports), and only
this module talks to it: a demo never knows which backend ran its job.

Which worker answered: every lane job run through here records the replica's id in the calling thread, and
core.api.respond() puts it in the response header as `worker`: "local", a replica id, or "frontend" when the
front end answered alone (from its result cache, or a call with no model work, such as /gan_real's faces).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable, Iterator, TypeVar

from core.errors import UserError

log = logging.getLogger("glassbox.remote")
T = TypeVar("T")

APP = "glassbox"  # the Serve application and deployment the front ends call (deploy/serve.yaml names it)
DEPLOYMENT = "Worker"
SERVING = False  # set in a replica: its own lane runs its jobs, never a round trip to itself
_local = threading.local()  # .worker: who ran this thread's latest job
_handle = None
_handle_lock = threading.Lock()
_init_lock = threading.Lock()  # apart from _handle_lock: _connect holds that one while it joins the cluster


class WorkerLost(UserError):
    """A replica died (or could not be reached) while it ran this request, and it could not be run again.

    A UserError although the learner caused nothing: trying again is the fix, and pages show these as a message
    beside the last good result instead of as a crash."""


def backend() -> str:
    """`local` or `ray`, from GLASSBOX_BACKEND (read at call time, so a test or a deployment can set it late)."""
    name = os.environ.get("GLASSBOX_BACKEND", "local").strip().lower() or "local"
    if name not in ("local", "ray"):
        raise ValueError(f"GLASSBOX_BACKEND={name!r}: choose 'local' or 'ray'.")
    return name


def wanted() -> bool:
    """Whether lane work should go to Ray from here: the backend is ray and this process is not a replica."""
    return not SERVING and backend() == "ray"


def timeout_s() -> float:
    """How long a front end waits for one job (or for one chunk of a stream) before it says the worker is lost."""
    return float(os.environ.get("GLASSBOX_RAY_TIMEOUT_S", "300"))


# --------------------------------------------------------------------------- who answered

def begin_call() -> None:
    """An API call starts in this thread: forget the worker of the previous one (core.api.Clock calls it)."""
    _local.worker = None


def note_worker(worker: str) -> None:
    _local.worker = worker


class affinity:
    """`with remote.affinity(key):` the jobs sent inside go, where Serve can, to the replica that ran the last job
    with this key (SAM: the replica that holds the image's encoding). Nothing changes on the local backend."""

    def __init__(self, key: str):
        self.key = key

    def __enter__(self):
        self.before = getattr(_local, "affinity", None)
        _local.affinity = self.key

    def __exit__(self, *exc):
        _local.affinity = self.before


def _routed(handle):
    key = getattr(_local, "affinity", None)
    return handle.options(multiplexed_model_id=key) if key else handle


def answered_by() -> str:
    """The `worker` header field for the call running in this thread."""
    alone = "local" if SERVING or backend() == "local" else "frontend"  # no replica ran anything for this call
    return getattr(_local, "worker", None) or alone


# --------------------------------------------------------------------------- the Ray side

def connect_cluster() -> str:
    """Join the Ray cluster at GLASSBOX_RAY_ADDRESS (once per process); its address."""
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("GLASSBOX_BACKEND=ray needs Ray Serve: pip install -r requirements-ray.txt") from exc
    address = os.environ.get("GLASSBOX_RAY_ADDRESS", "auto")
    with _init_lock:
        if not ray.is_initialized():
            try:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False, namespace="serve")
            except Exception as exc:
                raise WorkerLost(f"The model workers cannot be reached (no Ray cluster at {address}: "
                                 f"{type(exc).__name__}). Please try again in a minute; if it persists, the "
                                 "host should start them (README: Beyond one box).") from exc
    return address


def _connect():
    """The handle of the Serve deployment, connecting to the Ray cluster the first time."""
    global _handle
    with _handle_lock:
        if _handle is None:
            address = connect_cluster()
            from ray import serve

            logging.getLogger("ray.serve").setLevel(logging.WARNING)
            try:
                _handle = serve.get_deployment_handle(DEPLOYMENT, app_name=APP)
            except Exception as exc:
                raise WorkerLost(f"The model workers are not running (no Serve application {APP!r} on the Ray "
                                 f"cluster at {address}). Please try again in a minute; if it persists, the host "
                                 "should deploy them: python -m deploy.serve_app up deploy/serve.yaml.") from exc
            log.info("model work goes to Ray Serve application %r at %s", APP, address)
        return _handle


def disconnect() -> None:
    """Leave the Ray cluster (tests, before they stop the cluster they started: a driver whose cluster is gone
    would end its own process)."""
    global _handle, _described
    with _handle_lock:
        _handle, _described = None, (0.0, "")
        try:
            import ray
        except ImportError:
            return
        if ray.is_initialized():
            ray.shutdown()


def _lost_types() -> tuple[type, ...]:
    """The errors that mean the replica went away (not that the job failed)."""
    import ray.exceptions as rex

    return tuple(getattr(rex, n) for n in ("RayActorError", "ActorDiedError", "ActorUnavailableError",
                                           "WorkerCrashedError", "NodeDiedError") if hasattr(rex, n))


def _unwrap(exc: BaseException) -> BaseException:
    """The job's own error (a UserError stays a UserError with its message) instead of Ray's wrapper."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def _lost(exc: BaseException, name: str) -> WorkerLost:
    return WorkerLost(f"The model worker running {name or 'this request'} stopped before it answered "
                      f"({type(exc).__name__}); please try again: another worker takes over.")


RETRIES = 1  # a job whose replica died runs once more elsewhere: model work has no side effects to repeat


def run(fn: Callable[[], T], name: str = "") -> T:
    """fn() on a replica's lane; its value, or its own error. A job whose replica dies is run once more."""
    handle = _routed(_connect())
    lost = _lost_types()
    for attempt in range(RETRIES + 1):
        try:
            worker, value = _blocking(lambda: handle.run.remote(fn, name).result(timeout_s=timeout_s()))
        except lost as exc:
            if attempt == RETRIES:
                raise _lost(exc, name) from exc
            log.warning("replica lost while running %s; running it again", name)
            continue
        except TimeoutError as exc:
            raise WorkerLost(f"No model worker answered {name or 'this request'} within {timeout_s():g} s.") from exc
        except Exception as exc:  # noqa: BLE001 - re-raised as the job's own error
            raise _unwrap(exc) from None
        note_worker(worker)
        return value
    raise AssertionError("unreachable")


def stream(gen_fn: Callable[[], Iterator[T]], name: str = "") -> Iterator[T]:
    """Iterate gen_fn() on a replica's lane, items streamed back as they come (Serve streaming responses).
    Closing this iterator (the learner left) cancels the job on the replica. If the replica dies before the
    first item, the job starts again elsewhere; after that the stream ends with a WorkerLost error."""
    handle = _routed(_connect()).options(stream=True)
    lost = _lost_types()
    for attempt in range(RETRIES + 1):
        gen = handle.stream.remote(gen_fn, name)
        got_any = False
        try:
            while True:
                chunk = _next_chunk(gen)
                if chunk is _END:
                    return
                worker, item = chunk
                got_any = True
                note_worker(worker)
                yield item
        except lost as exc:
            if got_any or attempt == RETRIES:
                raise _lost(exc, name) from exc
            log.warning("replica lost before the first chunk of %s; starting it again", name)
        except WorkerLost:
            raise
        except Exception as exc:  # noqa: BLE001 - re-raised as the job's own error
            raise _unwrap(exc) from None
        finally:
            gen.cancel()  # a no-op when the stream ended; otherwise the replica drops the job


def _blocking(call: Callable[[], T]) -> T:
    """call() here, or in a helper thread when this thread runs an asyncio loop: Ray's blocking calls refuse to
    run inside one (Playwright's sync API, say, keeps a loop running in its thread)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    return _pool().submit(call).result()


_END = object()


def _next_chunk(gen) -> tuple[str, Any]:
    """The next (worker, item) of a Serve stream, or _END; waits at most timeout_s(). Serve's iterator has no
    timeout of its own, so the blocking next() runs in a helper thread: a stuck replica cannot hang a learner."""
    import concurrent.futures

    future = _pool().submit(next, gen, _END)
    try:
        return future.result(timeout=timeout_s())
    except concurrent.futures.TimeoutError as exc:
        raise WorkerLost(f"No model worker sent the next part of the result within {timeout_s():g} s.") from exc


_pool_obj = None


def _pool():
    global _pool_obj
    import concurrent.futures

    with _handle_lock:
        if _pool_obj is None:  # one waiting thread per stream being read: as many as the front end's handlers
            _pool_obj = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="glassbox-ray")
    return _pool_obj


# --------------------------------------------------------------------------- what the footer says

_described: tuple[float, str] = (0.0, "")


def describe() -> str:
    """One line for a page's footer: where model work runs (cached for 30 s: a footer must never wait)."""
    global _described
    if backend() == "local":
        return ""
    if time.monotonic() - _described[0] < 30:
        return _described[1]
    try:
        from ray import serve

        _connect()
        app = serve.status().applications.get(APP)
        dep = app.deployments.get(DEPLOYMENT) if app else None
        n = sum(dep.replica_states.values()) if dep else 0
        line = f"Model work: Ray Serve, {n} replica{'s' if n != 1 else ''} of {APP!r} (each loads its own models)"
    except Exception as exc:  # noqa: BLE001 - the footer must never break a page
        line = f"Model work: Ray Serve (status unknown: {type(exc).__name__})"
    _described = (time.monotonic(), line)
    return line
