"""The compute lane: one long-lived thread that runs all model work of all demos.

Why one thread: torch's CPU kernels use an OpenMP pool per calling thread. Once two or
more threads have run torch ops, every parallel op on a 2-core box gets several times
slower (measured while building the diffusion demo: group_norm 11 -> 73 us). Gradio runs
each handler in a worker thread of its own, so without a lane every request paid that.

Scheduling is least-attained-service with ageing: the lane always runs the waiting job
that has used the least compute so far, minus a credit for how long it has waited. A
fresh 60 ms click therefore runs before the next chunk of a 13 s DDPM run, and a long job
still gets at least a third of the lane under a flood of clicks. Long jobs are generators
that yield between chunks (`TICK` marks a chunk boundary that carries no output), so they
can be paused for a click and dropped when their consumer goes away (a browser tab closed).

Work submitted from the lane thread itself runs inline (no deadlock for nested calls, e.g.
FGSM explaining its adversarial image with Grad-CAM).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TypeVar

from core import remote

log = logging.getLogger("glassbox.lane")
T = TypeVar("T")

TICK = object()  # yielded by a job between chunks when it has no output to hand over
AGEING = 0.5  # seconds of attained compute forgiven per second of waiting


@dataclass(eq=False)
class _Job:
    gen: Iterator[Any]
    name: str
    queued_at: float = field(default_factory=time.perf_counter)
    attained: float = 0.0  # compute seconds used so far
    outbox: deque = field(default_factory=deque)  # ("item", value) | ("error", exc) | ("done", None)
    ready: threading.Condition = field(default_factory=threading.Condition)
    state: str = "new"  # queued | running | paused (an item waits for its consumer) | done
    cancelled: bool = False

    def score(self, now: float) -> float:
        return self.attained - AGEING * (now - self.queued_at)

    def deliver(self, kind: str, value: Any = None) -> None:
        with self.ready:
            self.outbox.append((kind, value))
            self.ready.notify()


@dataclass
class LaneStats:
    jobs: int = 0
    chunks: int = 0
    busy_s: float = 0.0
    cancelled: int = 0
    max_wait_s: float = 0.0  # longest a chunk waited for the lane


class Lane:
    def __init__(self, name: str = "glassbox-compute"):
        self.name = name
        self._waiting: list[_Job] = []
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._ident: int | None = None
        self.stats = LaneStats()

    # ---------------------------------------------------------------- public API

    def on_lane(self) -> bool:
        return threading.get_ident() == self._ident

    def run(self, fn: Callable[[], T], name: str = "") -> T:
        """fn() on the lane; blocks the caller until it is done and returns its value (or raises its error)."""
        if self.on_lane():
            return fn()

        def one_chunk():
            yield fn()

        for item in self.stream(one_chunk, name or getattr(fn, "__name__", "job"), _single=True):
            return item
        raise RuntimeError("lane job ended without a result")  # unreachable: one_chunk always yields

    def stream(self, gen_fn: Callable[[], Iterator[T]], name: str = "", _single: bool = False) -> Iterator[T]:
        """Iterate gen_fn() on the lane, one chunk (one next()) at a time, handing items to the caller.

        Like a plain generator, the job is paused after each item until the caller asks for the next
        one. Items equal to TICK are chunk boundaries and are not handed over. Closing this iterator
        early (the consumer went away) drops the job; its generator is closed on the lane.
        """
        if self.on_lane():
            yield from (item for item in gen_fn() if item is not TICK)
            return
        self._ensure_thread()
        job = _Job(gen=_lazy(gen_fn), name=name or getattr(gen_fn, "__name__", "job"))
        self._enqueue(job)
        try:
            while True:
                with job.ready:
                    while not job.outbox:
                        job.ready.wait()
                    kind, value = job.outbox.popleft()
                if kind == "error":
                    raise value
                if kind == "done":
                    return
                if _single:  # run(): the one item is the answer; nothing is left to compute
                    self._finish(job)
                    yield value
                    return
                yield value
                self._enqueue(job)  # the caller wants the next item: resume the job
        finally:
            self._abandon(job)

    def pending(self) -> int:
        with self._cv:
            return len(self._waiting)

    # ---------------------------------------------------------------- the worker

    def _ensure_thread(self) -> None:
        with self._cv:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()
                while self._ident is None:
                    self._cv.wait()

    def _enqueue(self, job: _Job) -> None:
        with self._cv:
            if job.state == "done":
                return
            job.state = "queued"
            job.queued_at = time.perf_counter()
            self._waiting.append(job)
            self._cv.notify()

    def _finish(self, job: _Job) -> None:
        with self._cv:
            job.state = "done"

    def _abandon(self, job: _Job) -> None:
        """The consumer stopped listening. A paused job is queued once more so the lane closes it."""
        with self._cv:
            if job.state == "done":
                return
            job.cancelled = True
            if job.state == "paused":
                job.state = "queued"
                self._waiting.append(job)
                self._cv.notify()

    def _next(self) -> _Job:
        with self._cv:
            while not self._waiting:
                self._cv.wait()
            now = time.perf_counter()
            job = min(self._waiting, key=lambda j: j.score(now))
            self._waiting.remove(job)
            job.state = "running"
            self.stats.max_wait_s = max(self.stats.max_wait_s, now - job.queued_at)
            return job

    def _work(self) -> None:
        threads = os.environ.get("GLASSBOX_TORCH_THREADS", "").strip()
        if threads:  # torch's intra-op threads for model work (default: torch's choice, one per core)
            import torch

            torch.set_num_threads(max(1, int(threads)))
        with self._cv:
            self._ident = threading.get_ident()
            self._cv.notify_all()
        while True:
            job = self._next()
            if job.cancelled:
                self._drop(job)
                continue
            t0 = time.perf_counter()
            try:
                item = TICK
                # Run until the job hands something over or someone else is waiting: a lone job
                # pays no switching cost, a waiting click gets the lane at the next chunk boundary.
                while item is TICK:
                    item = next(job.gen)
                    if item is TICK and (job.cancelled or self.pending()):
                        break
            except StopIteration:
                self._close(job, t0, "done")
                continue
            except BaseException as exc:  # noqa: BLE001 - the consumer re-raises it in its own thread
                self._close(job, t0, "error", exc)
                continue
            self._account(job, t0)
            if item is TICK:
                self._enqueue(job)  # preempted at a chunk boundary: back in the queue
            else:
                with self._cv:
                    gone = job.cancelled
                    if not gone:
                        job.state = "paused"  # until the consumer asks for more (or leaves)
                if gone:  # the consumer left while this chunk ran
                    self._drop(job)
                else:
                    job.deliver("item", item)

    def _close(self, job: _Job, t0: float, kind: str, exc: BaseException | None = None) -> None:
        self._account(job, t0)
        self._finish(job)
        self.stats.jobs += 1
        job.deliver(kind, exc)

    def _account(self, job: _Job, t0: float) -> None:
        dt = time.perf_counter() - t0
        job.attained += dt
        self.stats.busy_s += dt
        self.stats.chunks += 1

    def _drop(self, job: _Job) -> None:
        self._finish(job)
        self.stats.cancelled += 1
        log.info("dropped %s after %.2f s of compute: its consumer went away", job.name, job.attained)
        try:
            job.gen.close()  # runs the generator's clean-up (hooks, locks) on the lane thread
        except Exception:  # clean-up failures must not kill the lane
            log.exception("closing %s failed", job.name)


def _lazy(gen_fn: Callable[[], Iterator[T]]) -> Iterator[T]:
    """Call gen_fn on the lane at the first chunk (so even building the generator runs there)."""
    yield from gen_fn()


LANE = Lane()


def run(fn: Callable[[], T], name: str = "") -> T:
    """Run fn() on the process's compute lane (inline when already on it), or with GLASSBOX_BACKEND=ray on a
    Ray Serve replica's lane (core.remote): fn and its value must then pickle, and fn must not change objects
    the caller keeps (it runs on a copy of them)."""
    if remote.wanted():
        return remote.run(fn, name)
    return LANE.run(fn, name)


def stream(gen_fn: Callable[[], Iterator[T]], name: str = "") -> Iterator[T]:
    """Iterate gen_fn() chunk by chunk on the compute lane (Lane.stream), or on a replica's (core.remote)."""
    if remote.wanted():
        return remote.stream(gen_fn, name)
    return LANE.stream(gen_fn, name)


def on_lane() -> bool:
    return LANE.on_lane()
