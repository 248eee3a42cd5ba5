"""Warm-up: run each demo's warm-up function once, in the background, after a hub is serving.

Both hubs use it, so the first click in a lecture finds its model loaded and its default example computed.
GLASSBOX_WARMUP=0 turns it off (tests that measure a cold start).
"""

from __future__ import annotations

import logging
import os
import threading

from core.weights import import_ref

log = logging.getLogger("glassbox.warmup")


def enabled() -> bool:
    return os.environ.get("GLASSBOX_WARMUP", "1").strip().lower() not in ("0", "false", "no", "off")


_lock = threading.Lock()
_pending: list[str] = []  # warm-ups not finished yet, in order ("module:function")


def pending() -> list[str]:
    """The warm-ups still to finish (the first is running): what a page can show while it waits."""
    with _lock:
        return list(_pending)


def start(refs: list[str]) -> threading.Thread | None:
    """Run each warm-up ("module:function") in one background thread; a failure is logged, not raised."""
    if not refs or not enabled():
        return None
    with _lock:
        _pending[:] = list(refs)

    def work():
        for ref in refs:
            try:
                import_ref(ref)()
                log.info("warm-up done: %s", ref)
            except Exception:  # a failed warm-up only means a slower first click
                log.exception("warm-up failed: %s", ref)
            finally:
                with _lock:
                    _pending.remove(ref)

    thread = threading.Thread(target=work, name="glassbox-warmup", daemon=True)
    thread.start()
    return thread
