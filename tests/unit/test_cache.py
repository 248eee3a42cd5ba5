"""The per-demo result cache: least recently used goes first."""

from core.cache import ResultCache


def test_lru_order_and_bound():
    c = ResultCache(2)
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1  # a is now the most recent
    c.put("c", 3)  # evicts b
    assert c.get("b") is None and c.get("a") == 1 and c.get("c") == 3 and len(c) == 2
    c.clear()
    assert len(c) == 0 and c.get("a") is None


def test_concurrent_askers_of_one_key_share_one_computation():
    """Forty learners click the same sample at once: one computation, forty identical answers."""
    import threading
    import time

    c = ResultCache(4)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.2)
        return object()

    out = []
    threads = [threading.Thread(target=lambda: out.append(c.get_or_compute("cat", compute))) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(out) == 40 and all(o is out[0] for o in out)
    assert c.get_or_compute("cat", compute) is out[0] and len(calls) == 1


def test_a_failed_computation_is_not_cached_and_the_next_asker_retries():
    c = ResultCache(4)

    def boom():
        raise ValueError("no")

    for _ in range(2):
        try:
            c.get_or_compute("k", boom)
        except ValueError:
            pass
    assert c.get("k") is None and c.get_or_compute("k", lambda: 5) == 5
