"""What holds the hub's memory: a snapshot of every long-lived structure, for the soak and for whoever hosts.

`snapshot()` returns one JSON-able dict: the process's RSS and glibc's heap figures (bytes in use and bytes
free but still held: fragmentation), open files and threads, the size of every registered structure (result
caches, the model cache, Gradio's sessions and file sets, ...), and, when tracemalloc runs
(GLASSBOX_TRACEMALLOC=1), the source lines whose allocations grew most since the previous snapshot.

With GLASSBOX_MEMLOG=<file>, the hub appends a snapshot to that file whenever it receives SIGUSR1 (the soak
sends one after every round). Nothing here runs unless asked.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable

log = logging.getLogger("glassbox.memwatch")

_probes: dict[str, Callable[[], object]] = {}
_lock = threading.Lock()
_last_trace = None
_last_types: Counter | None = None


def register(name: str, probe: Callable[[], object]) -> None:
    """Report `probe()` (a size, or a dict of sizes) under `name` in every snapshot."""
    with _lock:
        _probes[name] = probe


@functools.lru_cache(maxsize=1)
def _libc():
    """The C library this process runs on (its symbols are global), or None: no fork to ldconfig, which
    ctypes.util.find_library would run, from a 2 GB server."""
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]


def heap() -> dict:
    """glibc's view of the heap in MB: `in_use` by live objects, `free_held` (freed but not returned to the
    system: fragmentation), `mmapped` (large blocks, returned when freed). {} where glibc is not there."""
    libc = _libc()
    fn = getattr(libc, "mallinfo2", None) if libc else None
    if fn is None:
        return {}
    fn.restype = _Mallinfo2
    m = fn()
    mb = 1 / 2**20
    return {"in_use": round(m.uordblks * mb, 1), "free_held": round(m.fordblks * mb, 1),
            "mmapped": round(m.hblkhd * mb, 1), "arena": round(m.arena * mb, 1)}


_trims = {"count": 0, "last_ms": 0.0, "max_ms": 0.0}


def trim() -> bool:
    """Hand the free pages of every heap arena back to the system (glibc's malloc_trim, which also releases
    free pages in the middle of a heap). False where there is no glibc (musl, macOS, Windows)."""
    libc = _libc()
    fn = getattr(libc, "malloc_trim", None) if libc else None
    if fn is None:
        return False
    t0 = time.perf_counter()
    fn(0)
    ms = (time.perf_counter() - t0) * 1000
    _trims.update(count=_trims["count"] + 1, last_ms=round(ms, 2), max_ms=round(max(_trims["max_ms"], ms), 2))
    return True


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def snapshot(top: int = 12) -> dict:
    global _last_trace, _last_types
    gc.collect()
    out: dict = {"time": time.time(), "rss_mb": round(rss_mb(), 1), "heap_mb": heap(),
                 "threads": threading.active_count(), "malloc_trim": dict(_trims)}
    try:
        out["open_files"] = len(os.listdir("/proc/self/fd"))
    except OSError:
        pass
    with _lock:
        probes = dict(_probes)
    sizes = {}
    for name, probe in probes.items():
        try:
            sizes[name] = probe()
        except Exception as exc:  # noqa: BLE001 - a broken probe must not break the report
            sizes[name] = f"error: {exc}"
    out["structures"] = sizes
    arrow = sys.modules.get("pyarrow")  # pandas' strings live in Arrow buffers, outside glibc's heap
    if arrow is not None:
        pool = arrow.default_memory_pool()
        out["arrow_mb"] = {"allocated": round(pool.bytes_allocated() / 2**20, 1),
                           "peak": round(pool.max_memory() / 2**20, 1), "backend": pool.backend_name}
    types = Counter(type(o).__name__ for o in gc.get_objects())
    out["objects"] = sum(types.values())
    if _last_types is not None:
        grown = (types - _last_types).most_common(top)
        out["objects_grown"] = dict(grown)
    _last_types = types
    import tracemalloc

    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        if _last_trace is not None:
            stats = snap.compare_to(_last_trace, "lineno")[:top]
            out["traced_growth_kb"] = {str(s.traceback[0]): round(s.size_diff / 1024, 1) for s in stats}
        out["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
        _last_trace = snap
    return out


def install_from_env() -> None:
    """GLASSBOX_TRACEMALLOC=1: trace Python allocations; GLASSBOX_MEMLOG=<file>: a snapshot there on SIGUSR1."""
    if os.environ.get("GLASSBOX_TRACEMALLOC", "") == "1":
        import tracemalloc

        tracemalloc.start(1)
    target = os.environ.get("GLASSBOX_MEMLOG")
    if not target:
        return
    import signal

    def on_signal(signum, frame):  # runs in the main thread; the server's threads go on meanwhile
        try:
            with open(target, "a", encoding="utf-8") as f:
                f.write(json.dumps(snapshot(), default=str) + "\n")
        except Exception:  # diagnostics must never stop the server
            log.exception("memory snapshot failed")

    if hasattr(signal, "SIGUSR1") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, on_signal)
