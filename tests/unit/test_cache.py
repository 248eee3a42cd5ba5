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
