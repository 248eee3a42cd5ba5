"""Links that reproduce a view: each demo's settings as a URL query string, and back.

A demo declares its settings once, as a `View` of `Param`s (framework-free, in its logic module). Both hubs
and the API use it: the pages keep the browser's URL in step with their controls and open a link on the
view it names; every API response carries `share_url`, the page path and query for the view it computed.

Reading a link never fails: a value that is unknown, out of range or no longer on the server falls back to
the default, and `View.parse` says so in a notice the page shows.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlencode

import numpy as np

from core import memwatch

# Query keys every page understands besides its own settings.
LECTURE = "lecture"  # "1": lecture mode (bigger text, folded advanced controls)
LESSON = "lesson"  # "1".."6": the lesson beat this link opens on
RESERVED = (LECTURE, LESSON)

UPLOAD_NOTE = ("This view uses an uploaded image, which cannot travel in a link: the link opens on the default "
               "image. To share the upload's view, use the downloads (the figure and a JSON of its settings).")
UPLOAD_HINT = "Uploaded images cannot travel in a link; for an upload, share the downloads (figure and JSON)."
# The lesson's arrow keys (both hubs' page scripts) leave alone a focused element inside any of these: the
# controls that use the arrow keys themselves (a field, a slider, a radio group, a menu, tabs).
ARROW_KEY_CONTROLS = ("input, textarea, select, [contenteditable], [role=slider], [role=spinbutton], [role=listbox], "
                      "[role=combobox], [role=option], [role=radiogroup], [role=radio], [role=tablist], [role=tab], "
                      "[role=menu]")


@dataclass(frozen=True)
class Param:
    """One setting of a view. `parse` turns the query text into a value (ValueError if it is not one),
    `format` a value back into text; parse(format(v)) == v for every value the page can hold."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    format: Callable[[Any], str] = str
    describe: str = ""  # what a valid value looks like, for the notice


def choice(name: str, default: str, choices: Iterable[str] | Callable[[], Iterable[str]]) -> Param:
    """One of a fixed list (a model key, a method, a sample image's name). choices may be a function, for
    lists that grow while the server runs (kept adversarial images)."""
    def options() -> list[str]:
        return [str(c) for c in (choices() if callable(choices) else choices)]

    def parse(text: str) -> str:
        if text not in options():
            raise ValueError(text)
        return text

    listed = options()
    shown = ", ".join(listed[:8]) + (", ..." if len(listed) > 8 else "")
    return Param(name, default, parse, str, f"one of {shown}")


def number(name: str, default: float, lo: float, hi: float, integer: bool = False) -> Param:
    def parse(text: str):
        v = float(text)
        if not np.isfinite(v) or not lo <= v <= hi:
            raise ValueError(text)
        if integer:
            if v != int(v):
                raise ValueError(text)
            return int(v)
        return v

    def fmt(v) -> str:
        return str(int(v)) if integer else f"{float(v):g}"

    kind = "a whole number" if integer else "a number"
    return Param(name, default, parse, fmt, f"{kind} from {lo:g} to {hi:g}")


def text(name: str, default: str, max_chars: int = 500) -> Param:
    def parse(t: str) -> str:
        if len(t) > max_chars:
            raise ValueError(t[:20])
        return t

    return Param(name, default, parse, str, f"text of at most {max_chars} characters")


def flag(name: str, default: bool) -> Param:
    def parse(t: str) -> bool:
        if t.lower() in ("1", "true", "yes", "on"):
            return True
        if t.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(t)

    return Param(name, default, parse, lambda v: "1" if v else "0", "1 or 0")


def as_json(name: str, default: Any, check: Callable[[Any], Any]) -> Param:
    """A structured value (SAM's clicks, a box) as compact JSON; check validates and normalises it."""
    def parse(t: str):
        return check(json.loads(t))

    return Param(name, default, parse, lambda v: json.dumps(v, separators=(",", ":")), "a valid list")


@dataclass(frozen=True)
class Beat:
    """One step of a lesson: a title, a sentence or two, and the settings it opens (the rest are defaults)."""

    title: str
    text: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class View:
    slug: str
    params: tuple[Param, ...]
    lesson: tuple[Beat, ...] = ()
    # Settings a link cannot hold (an upload) show as None; the page says what the link opens instead.
    note_when_missing: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= len(self.lesson) <= 6 or len(self.lesson) in (1, 2):
            raise ValueError(f"{self.slug}: a lesson has 3 to 6 beats")
        names = {p.name for p in self.params}
        for beat in self.lesson:
            unknown = set(beat.settings) - names
            if unknown:
                raise ValueError(f"{self.slug} lesson '{beat.title}': unknown settings {sorted(unknown)}")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def parse(self, query: Mapping[str, str] | None) -> tuple[dict, list[str]]:
        """(values, notices): every setting, from the query where it is valid, else the default."""
        values, notices, _ = self._parse(query)
        return values, notices

    def _parse(self, query: Mapping[str, str] | None) -> tuple[dict, list[str], set[str]]:
        """parse(), and the names of the settings the query gave usable values for."""
        query = query or {}
        values, notices, given = self.defaults(), [], set()
        for p in self.params:
            raw = query.get(p.name)
            if raw is None:
                continue
            try:
                values[p.name] = p.parse(str(raw))
                given.add(p.name)
            except (ValueError, TypeError):
                shown = str(raw) if len(str(raw)) <= 40 else str(raw)[:40] + "…"
                notices.append(f"The link's {p.name}={shown!r} is not usable here ({p.describe}); "
                               f"showing the default, {p.format(p.default) if p.default is not None else 'none'}.")
        return values, notices, given

    def open_link(self, query: Mapping[str, str] | None) -> tuple[dict, list[str], int]:
        """What a page shows for a link: (values, notices, 0-based lesson step or -1). A lesson step's
        settings come first, then the settings the link names itself (a hand-typed `?lesson=2` opens step 2)."""
        query = query or {}
        values, notices, given = self._parse(query)
        beat = self.beat_index(query)
        if beat is None:
            if LESSON in query and self.lesson:
                notices.append(f"The link's lesson={query[LESSON]!r} is not a step of this lesson "
                               f"(1 to {len(self.lesson)}).")
            return values, notices, -1
        return {**self.beat_values(beat), **{k: values[k] for k in given}}, notices, beat

    def query(self, values: Mapping[str, Any], lecture: bool = False, beat: int | None = None) -> str:
        """The query string (without '?') for these values; settings a link cannot hold are left out."""
        pairs = []
        for p in self.params:
            v = values.get(p.name, p.default)
            if v is None:
                continue
            pairs.append((p.name, p.format(v)))
        if lecture:
            pairs.append((LECTURE, "1"))
        if beat is not None:
            pairs.append((LESSON, str(beat)))
        return urlencode(pairs, safe=",;:")  # readable clicks and lists; browsers keep them as they are

    def url(self, values: Mapping[str, Any], lecture: bool = False, beat: int | None = None) -> str:
        """Path and query of the page showing this view, relative to the hub's root: "/gradcam?image=cat&..."."""
        return f"/{self.slug}?{self.query(values, lecture, beat)}"

    def link_params(self, values: Mapping[str, Any]) -> dict[str, str]:
        """The query parameters of a link from another page to this one, with only the given settings (the page
        opens the rest on its defaults). A name that is not a setting of this page raises ValueError: renaming a
        setting breaks the pages that link here loudly, at once, instead of leaving them a dead link."""
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            raise ValueError(f"{self.slug} has no setting {unknown}; its settings are {self.names}")
        return {p.name: p.format(values[p.name]) for p in self.params if values.get(p.name) is not None}

    def href(self, **values: Any) -> str:
        """A link to this page from another page of the hub (relative, so it holds under any root path):
        "sam?image=cat&prompt=120,80,1". See link_params."""
        return f"{self.slug}?{urlencode(list(self.link_params(values).items()), safe=',;:')}"

    def missing_notes(self, values: Mapping[str, Any]) -> list[str]:
        return [note for name, note in self.note_when_missing.items() if values.get(name, 0) is None]

    def beat_values(self, i: int) -> dict:
        """The settings of lesson beat i (0-based): the defaults with the beat's own on top."""
        return {**self.defaults(), **dict(self.lesson[i].settings)}

    def current_beat(self, values: Mapping[str, Any], beat: int) -> int | None:
        """beat (0-based) if the values are still that beat's view, else None: a link names a lesson step
        only while the page shows it."""
        if 0 <= beat < len(self.lesson) and all(values.get(k) == v for k, v in self.beat_values(beat).items()):
            return beat
        return None

    def lesson_text(self, beat: int) -> str:
        """The lesson panel's markdown: the invitation to start (beat -1), or the beat's title and text."""
        n = len(self.lesson)
        if beat < 0:
            return (f"📖 **Lesson, {n} steps:** press **Next ➡️** or the → key (← goes back). Each step is a link "
                    "of its own.")
        b = self.lesson[beat]
        end = "" if b.title[-1:] in ".?!" else "."
        return f"📖 **Step {beat + 1} of {n}: {b.title}{end}** {b.text}"

    def beat_index(self, query: Mapping[str, str] | None) -> int | None:
        """The 0-based beat a link opens on, or None (no lesson, or a number out of range)."""
        raw = (query or {}).get(LESSON)
        try:
            i = int(str(raw)) - 1
        except (TypeError, ValueError):
            return None
        return i if 0 <= i < len(self.lesson) else None


def lecture_on(query: Mapping[str, str] | None) -> bool:
    return str((query or {}).get(LECTURE, "")).lower() in ("1", "true", "yes", "on")


# --- images a link can name -------------------------------------------------------------------------

_sample_keys: dict[str, str] | None = None
_sample_lock = threading.Lock()


def sample_name(rgb: np.ndarray | None) -> str | None:
    """The shared gallery's name for these exact pixels, or None: an API caller who sends a gallery file
    gets a share_url that names it (any other upload cannot travel in a link)."""
    global _sample_keys
    from core import images, vision

    if rgb is None:
        return None
    with _sample_lock:
        if _sample_keys is None:
            _sample_keys = {vision.image_key(images.load_image(p)): n for n, p in vision.SAMPLES.items()}
        keys = _sample_keys
    return keys.get(vision.image_key(rgb))


class Shelf:
    """Images one page hands to another by link (FGSM's adversarial image to Grad-CAM): kept in memory,
    newest `size` of them, under a content key. A link to one that has gone (the server restarted, or it
    was pushed out) falls back to the default image with a notice."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, rgb: np.ndarray, prefix: str) -> str:
        from core import vision

        key = f"{prefix}-{vision.image_key(rgb)[:12]}"
        with self._lock:
            self._items[key] = rgb
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return key

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return self._items.get(key)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._items)


SHELF = Shelf()
memwatch.register("shelf", lambda: f"{len(SHELF.keys())}/{SHELF.size}")


def name_of(path, samples: Mapping[str, Any]) -> str | None:
    """The gallery name of a control's image path, or None (an upload)."""
    return next((n for n, p in samples.items() if str(p) == str(path)), None)


def json_safe(x):
    """Results for a JSON export: numpy to lists and numbers; data-URL images stay in the figure download."""
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, np.ndarray):
        return json_safe(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, str) and x.startswith("data:image/"):
        return "(an image: see the figure download)"
    return x


def export_doc(view: View, values: Mapping[str, Any], lecture: bool, results: Mapping[str, Any]) -> str:
    """The JSON download of a view: the demo, its link, its settings, then the results (model header first)."""
    doc = {"demo": view.slug, "share_url": view.url(values, lecture), "settings": dict(values), **json_safe(results)}
    # One line per field: readable at the top, compact inside (a 256 x 256 heatmap one number per line would
    # be 65,000 lines).
    fields = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in doc.items()]
    return "{\n" + ",\n".join(fields) + "\n}\n"


def export_view(view: View, values: Mapping[str, Any], lecture: bool, record: Callable[[], Mapping[str, Any]]) -> str:
    """`export_doc` with the results from `record()`; a failing record goes in as an error field, since the
    export must never break the page."""
    try:
        results = record()
    except Exception as exc:  # noqa: BLE001 - see above
        results = {"error": str(exc)}
    return export_doc(view, values, lecture, results)


def export_name(slug: str, values: Mapping[str, Any], suffix: str, extra: Mapping[str, Any] | None = None) -> str:
    """A download's name: the demo, then its settings (model first), then a short key of all of them, so
    two different views never share a name. `extra` goes into the key only (what the settings cannot say,
    such as which upload)."""
    import hashlib
    import re

    shown = [values.get("model")] + [v for k, v in values.items() if k != "model"]
    text = [f"{v:g}" if isinstance(v, float) else str(v) for v in shown if v not in (None, "")]
    words = [re.sub(r"[^A-Za-z0-9.+]+", "_", t).strip("_")[:24] for t in text]
    stem = "-".join([slug, *words])[:120]
    keyed = {**values, **{f"+{k}": v for k, v in (extra or {}).items()}}
    key = hashlib.sha1(repr(sorted(keyed.items(), key=lambda kv: kv[0])).encode()).hexdigest()[:8]
    return f"{stem}-{key}{suffix}"
