"""The compute lane: one thread runs all model work, short jobs overtake long ones between chunks,
a job whose consumer left is dropped, nested calls run inline, errors reach the caller."""

from __future__ import annotations

import importlib
import threading
import time

import pytest

from apps.registry import DEMOS
from core import lane
from core.lane import TICK, Lane


def test_work_runs_on_one_long_lived_thread_and_returns_its_value():
    ln = Lane("test-lane")
    idents = {ln.run(threading.get_ident) for _ in range(5)}
    idents |= {ln.run(lambda: threading.get_ident()) for _ in range(5)}
    assert len(idents) == 1 and threading.get_ident() not in idents
    assert ln.run(lambda: 6 * 7) == 42


def test_errors_reach_the_caller_and_the_lane_keeps_serving():
    ln = Lane("test-lane")
    with pytest.raises(ZeroDivisionError):
        ln.run(lambda: 1 / 0)
    assert ln.run(lambda: "still here") == "still here"


def test_a_call_from_the_lane_itself_runs_inline():
    ln = Lane("test-lane")
    # A nested run would deadlock if it queued behind the job that waits for it.
    assert ln.run(lambda: ln.run(lambda: ln.on_lane())) is True
    assert list(ln.stream(lambda: iter([1, TICK, 2]))) == [1, 2]


def test_a_click_overtakes_a_long_chunked_job():
    """A 2 s job made of 20 ms chunks must not make a 5 ms job wait for the whole of it."""
    ln = Lane("test-lane")
    ln.run(lambda: None)  # the thread exists
    started = threading.Event()

    def long_job():
        started.set()
        for _ in range(100):
            time.sleep(0.02)  # one chunk of "model work"
            yield TICK
        yield "long done"

    out = {}

    def consume_long():
        out["long"] = list(ln.stream(long_job, "long"))
        out["long_end"] = time.perf_counter()

    t = threading.Thread(target=consume_long)
    t.start()
    started.wait(5)
    time.sleep(0.1)
    t0 = time.perf_counter()
    assert ln.run(lambda: "click") == "click"
    click_wait = time.perf_counter() - t0
    t.join(10)
    assert out["long"] == ["long done"]
    assert click_wait < 0.3, f"the click waited {click_wait:.2f} s behind the long job"
    assert out["long_end"] > t0 + 1.0  # the long job was still running when the click was served


def test_a_long_job_still_progresses_under_a_flood_of_clicks():
    """Ageing: a job that has waited long enough gets the lane even if fresh clicks keep coming."""
    ln = Lane("test-lane")
    ln.run(lambda: None)
    progress = []

    def long_job():
        for i in range(20):
            time.sleep(0.01)
            progress.append(i)
            yield TICK
        yield "done"

    result = {}
    t = threading.Thread(target=lambda: result.setdefault("v", list(ln.stream(long_job))))
    t.start()
    stop = time.perf_counter() + 3.0
    flooders = [threading.Thread(target=lambda: [ln.run(lambda: time.sleep(0.01)) for _ in range(400)
                                                 if time.perf_counter() < stop]) for _ in range(4)]
    for f in flooders:
        f.start()
    t.join(10)
    for f in flooders:
        f.join(10)
    assert result["v"] == ["done"] and len(progress) == 20


def test_a_job_whose_consumer_left_is_dropped_and_cleaned_up():
    ln = Lane("test-lane")
    ran, closed = [], threading.Event()

    def job():
        try:
            for i in range(1000):
                time.sleep(0.005)
                ran.append(i)
                yield i
        finally:
            closed.set()  # e.g. hooks released, on the lane thread

    it = ln.stream(job)
    assert next(it) == 0
    it.close()  # the browser tab went away
    assert closed.wait(5)
    time.sleep(0.05)
    n = len(ran)
    time.sleep(0.1)
    assert len(ran) == n < 1000
    assert ln.stats.cancelled >= 1


def test_device_fallback_helpers_run_on_the_process_lane():
    from core import device

    ran = device.run_with_fallback(lambda dev: (dev, lane.on_lane()), "cpu")
    assert ran.value == ("cpu", True)
    items = [r.value for r in device.stream_with_fallback(lambda dev: iter([lane.on_lane(), TICK, dev]), "cpu")]
    assert items == [True, "cpu"]


@pytest.mark.parametrize("slug", [d.slug for d in DEMOS if d.built])
def test_every_demo_loads_and_runs_its_model_on_the_lane(slug, monkeypatch, sample_cat):
    """No model work on a request thread: every models.load a demo's work makes happens on the lane. Each demo
    of the registry says in its logic's exercise() what work its page does."""
    from core import cache, models

    real_load = models.load
    off_lane = []

    def watched(name, device=None):
        if not lane.on_lane():
            off_lane.append(name)
        return real_load(name, device)

    monkeypatch.setattr(models, "load", watched)
    cache.clear_all()  # computed results would skip the loads
    importlib.import_module(f"apps.{slug}.logic").exercise(sample_cat)
    assert off_lane == []
