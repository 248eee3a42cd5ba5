"""The one header every JSON endpoint answers with, and a clock for its per-phase timing.

Every response starts with: `model` (the name of the model that actually ran), `model_label`
(model, source and device in words), `device`, `offline` (true when an offline model ran),
`notices` (a list of sentences: fallbacks, capped values), `elapsed_ms` (server time for the
whole call), `timing_ms` (that time split into decode, model and encode) and `worker` (who ran the model
work: `local`, a Ray Serve replica's id, or `frontend` when a front end answered alone, from its result cache
or with no model work to do).
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from core import remote


class Clock:
    """Split one API call's server time into named phases: lap("decode"), lap("model"), lap("encode")."""

    def __init__(self) -> None:
        remote.begin_call()  # the `worker` field names who ran this call's model work, not an earlier call's
        self.start = self._last = time.perf_counter()
        self.phases: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + (now - self._last) * 1000
        self._last = now

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000


def unique(notices: Iterable[str]) -> list[str]:
    """Notices in order, each once, empty ones dropped."""
    out: list[str] = []
    for n in notices:
        if n and n not in out:
            out.append(n)
    return out


def respond(result: Any, body: dict, clock: Clock, notices: Iterable[str] = ()) -> dict:
    """The header (read from a result's model, model_label, device, offline) followed by body.

    Call it last: the encode phase ends here, so elapsed_ms covers the whole call.
    """
    clock.lap("encode")
    head = {
        "model": result.model,
        "model_label": result.model_label,
        "device": result.device,
        "offline": bool(result.offline),
        "notices": unique(notices),
        "elapsed_ms": round(clock.elapsed_ms(), 1),
        "timing_ms": {k: round(v, 1) for k, v in clock.phases.items()},
        "worker": remote.answered_by(),
    }
    return {**head, **body}
