"""A small thread-safe LRU map for computed results: each demo keeps one, keyed by its inputs."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable, Hashable, TypeVar

from core import lane, memwatch

T = TypeVar("T")


class ResultCache:
    def __init__(self, maxsize: int, name: str = ""):
        self.maxsize = maxsize
        self.name = name or f"cache{id(self):x}"
        _all.add(self)
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[Hashable, threading.Event] = {}

    def get(self, key: Hashable) -> Any | None:
        """The cached value (now the most recently used), or None."""
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value, or compute() once even when several callers ask for the same key at the
        same moment (a hall of learners clicking the same sample): the others wait for the first and
        share its result. If the first fails, the next waiter tries itself (and meets the same error)."""
        while True:
            with self._lock:
                if key in self._data:
                    self._data.move_to_end(key)
                    return self._data[key]
                done = self._inflight.get(key)
                owner = done is None
                if owner:
                    done = self._inflight[key] = threading.Event()
            if not owner:
                if lane.on_lane():  # waiting here would block the very lane the owner's job needs
                    return compute()
                done.wait()
                continue
            try:
                value = compute()
                self.put(key, value)
                return value
            finally:
                with self._lock:
                    self._inflight.pop(key, None)
                done.set()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


_all: weakref.WeakSet[ResultCache] = weakref.WeakSet()


def clear_all() -> None:
    """Empty every ResultCache of the process (tests that must see the work done again)."""
    for cache in list(_all):
        cache.clear()

memwatch.register("result_caches", lambda: {c.name: f"{len(c)}/{c.maxsize}" for c in list(_all)})
