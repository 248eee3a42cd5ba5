"""Editing a SAM prompt, written once for both hubs: clicks, a box drawn with two corner clicks, undo, and the
names of generated scenes. No UI here: the pages turn their own events into these calls.

A prompt is {"points": [(x, y, label), ...], "box": (x0, y0, x1, y1) or None, "corner": (x, y) or None}, in
the picture's pixels; "corner" is the first corner of a box still being drawn. (A generated scene's names
are in scenes.py.)
"""

from __future__ import annotations

from apps.sam import logic

MIN_BOX_SIDE = 2  # pixels: a thinner box is a slip of the mouse, not an object
THIN_BOX = "That box is too thin: click two opposite corners of the object."
# Short enough to sit in one row above the picture at lecture size (the box's corners are explained by THIN_BOX).
MODES = {"pos": "➕ keep (positive)", "neg": "➖ leave out (negative)", "box": "🔲 box: two corners"}


def empty() -> dict:
    return {"points": [], "box": None, "corner": None}


def copy(prompt: dict) -> dict:
    return {"points": list(prompt["points"]), "box": prompt["box"], "corner": prompt.get("corner")}


def click(prompt: dict, x: float, y: float, mode: str) -> tuple[dict, str | None]:
    """The prompt after a click in `mode` ("pos", "neg" or "box"), and why the click was refused (else None).

    In box mode the first click sets a corner and the second makes the box; a box thinner than MIN_BOX_SIDE is
    refused and the prompt stays as it was (its first corner kept). The prompt given is not changed."""
    new = copy(prompt)
    if mode != "box":
        new["points"].append((x, y, 1 if mode == "pos" else 0))
        return new, None
    if new["corner"] is None:
        new["corner"] = (x, y)
        return new, None
    (ax, ay), new["corner"] = new["corner"], None
    x0, x1, y0, y1 = min(ax, x), max(ax, x), min(ay, y), max(ay, y)
    if x1 - x0 < MIN_BOX_SIDE or y1 - y0 < MIN_BOX_SIDE:
        return copy(prompt), THIN_BOX
    new["box"] = (x0, y0, x1, y1)
    return new, None


def undo(prompt: dict) -> dict:
    """Take back the last thing added: a half-drawn box's corner, else the last click, else the box."""
    new = copy(prompt)
    if new["corner"] is not None:
        new["corner"] = None
    elif new["points"]:
        new["points"].pop()
    else:
        new["box"] = None
    return new


def from_link(text: str) -> dict:
    """A link's prompt text ("x,y,1;x0,y0,x1,y1") as a prompt."""
    points, box = logic.parse_prompt(text)
    return {"points": points, "box": box, "corner": None}


def to_link(prompt: dict | None) -> str:
    p = prompt or {}
    return logic.format_prompt(p.get("points"), p.get("box"))


def is_empty(prompt: dict) -> bool:
    return not prompt["points"] and prompt["box"] is None
