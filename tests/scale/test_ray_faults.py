"""The Ray backend under faults: a replica killed during a load run, a learner leaving a long job.

Uses the session's Ray head (tests/conftest.py ray_serve, 2 replicas); the front end is this process.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from conftest import SAMPLES, backend

pytestmark = pytest.mark.api


def replicas(want: int = 2, timeout: float = 90) -> dict[str, int]:
    """{replica id: pid} once `want` distinct replicas have answered a ping."""
    from core import remote

    handle = remote._connect()
    seen: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        rid, pid = remote._blocking(lambda: handle.ping.remote().result(timeout_s=30))
        seen[rid] = pid
    assert len(seen) >= want, f"only {len(seen)} replicas answered within {timeout} s"
    return seen


def on_every_replica(fn, want: int = 2) -> dict[str, object]:
    """fn() as a lane job on each replica: {replica id: value}."""
    from core import lane, remote

    out: dict[str, object] = {}
    for _ in range(60):
        value = lane.run(fn, "probe")
        out[remote.answered_by()] = value
        if len(out) >= want:
            break
    return out


def test_a_replica_killed_during_a_load_run(ray_cluster):
    """Four learners click Grad-CAM (every click a new target: no cache answers) while one replica is killed.
    Every click ends (none hangs), with its result or with the clear "worker stopped" message; the clicks after
    the kill are answered by the survivor; Serve starts a new replica, and it answers too."""
    from apps.gradcam import logic
    from core import images, remote

    rgb = images.load_image(SAMPLES / "cat.png")
    with backend("ray", ray_cluster):
        before = replicas()
        logic.explain(rgb)  # warm: the model is loaded on at least one replica
        outcomes: list[tuple[float, str, str]] = []  # (finished at, "ok" | error message, worker)
        lock = threading.Lock()
        stop_at = time.monotonic() + 12

        def learner(k: int) -> None:
            j = 0
            while time.monotonic() < stop_at:
                try:
                    logic.explain(rgb, target=(k * 250 + j) % 1000)
                    what = "ok"
                except Exception as exc:  # noqa: BLE001 - every outcome is recorded and judged below
                    what = f"{type(exc).__name__}: {exc}"
                with lock:
                    outcomes.append((time.monotonic(), what, remote.answered_by()))
                j += 1

        threads = [threading.Thread(target=learner, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(3)
        victim, pid = next(iter(before.items()))
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)  # a replica of the cluster this session started
        for t in threads:
            t.join(timeout=180)
        assert not any(t.is_alive() for t in threads), "a learner's click hung after the replica died"
        failed = [what for _, what, _ in outcomes if what != "ok"]
        assert all("model worker" in f and "try again" in f for f in failed), failed  # clear, never a traceback
        after_kill = [(what, worker) for at, what, worker in outcomes if at > killed_at + 2]
        assert after_kill and all(what == "ok" for what, _ in after_kill), after_kill
        assert all(worker != victim for _, worker in after_kill)
        # Serve replaces the dead replica: two answer again, one of them new.
        now = replicas(2, timeout=120)
        assert victim not in now and len(set(now) - set(before)) >= 1
        late = logic.explain(rgb, target=999)
        assert late.target["index"] == 999


def test_a_learner_leaving_a_long_job_cancels_it_on_the_replica(ray_cluster):
    """A diffusion run streams its steps from a replica; the learner closes the page after two steps. The
    replica's lane drops the job (as the local lane does), and a click right after is answered at once."""
    from apps.diffusion import logic as diffusion
    from core import lane

    with backend("ray", ray_cluster):
        def cancelled() -> int:
            return sum(on_every_replica(lambda: lane.LANE.stats.cancelled).values())

        before = cancelled()
        settings, _ = diffusion.check(seed=424242, steps=400, scheduler="ddpm")
        run = diffusion.stream(settings)
        next(run), next(run)  # two steps arrived
        run.close()  # the learner left
        deadline = time.monotonic() + 30
        while cancelled() <= before and time.monotonic() < deadline:
            time.sleep(0.5)
        assert cancelled() > before, "the replica kept running a job nobody reads"
        t0 = time.monotonic()
        diffusion.run(diffusion.check(seed=5, steps=4)[0])
        assert time.monotonic() - t0 < 20
