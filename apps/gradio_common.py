"""What every Gradio page shares: launching with bounded memory and disk, the footer, warm-up.

Gradio keeps a SessionState per session hash (a copy of every component's config: about 1.3 MB
for this hub) and, by default, up to 10,000 of them; every REST or gradio_client call is a new
session. Left alone, a lecture's API traffic grows the server by megabytes a call. `serve()` swaps
in SessionStore, which keeps browser tabs (marked by their page-load event) for hours but API
one-shots only briefly, and a housekeeping thread that bounds uploads and exports on disk.
"""

from __future__ import annotations

import datetime
import logging
import os
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Callable

import gradio as gr
from gradio.state_holder import SessionState, StateHolder

from core import explainer as core_explainer
from core import files, images, models

log = logging.getLogger("glassbox.hub")

CSS = """
.gb-cards {display:grid; grid-template-columns:repeat(auto-fill,minmax(260px,1fr)); gap:16px;}
.gb-card {display:block; text-align:left; border:1px solid var(--border-color-primary); border-radius:12px; padding:18px;
          background:var(--block-background-fill); text-decoration:none !important; color:inherit !important;}
.gb-card h3 {margin:4px 0 6px 0; font-size:1.25rem;}
.gb-card .gb-icon {font-size:2.2rem;}
.gb-card .gb-tag {font-size:.8rem; font-weight:600; padding:2px 8px; border-radius:999px;}
.gb-ready .gb-tag {background:#16a34a; color:white;}
.gb-soon {opacity:.6;}
.gb-soon .gb-tag {background:#9ca3af; color:white;}
.gb-error {border:2px solid #dc2626; border-radius:12px; padding:16px;}
/* Gradio's "Use via API" lists the current page's endpoints: none on the landing page, which lists them all. */
body:has(.gb-cards) footer .show-api {display:none;}
.gb-api {margin-top:8px;} .gb-api h2 {font-size:1.2rem; margin:0 0 4px 0;} .gb-api li {margin:2px 0;}
/* Galleries: the asked number of columns, each shrinking to fit. Gradio sizes them in fixed pixels, which cut
   off the last column (and heads 9-11 of the attention model view) on a 1024-pixel projector. */
.grid-container {grid-template-columns:repeat(var(--grid-cols), minmax(0, 1fr)) !important;}
.grid-container .thumbnail-item {width:100% !important; height:auto !important; aspect-ratio:1 / 1;}
/* ...and the gallery is as tall as its rows (Gradio's height="auto" still reserves 450 px). */
.grid-wrap.fixed-height {min-height:0 !important; max-height:none !important; height:auto !important;}
/* A dropdown's text stops short of its arrow instead of running under it. */
.secondary-wrap input {padding-right:26px !important; text-overflow:ellipsis;}
#gb-footer {font-size:.85rem; opacity:.85; border-top:1px solid var(--border-color-primary); padding-top:6px;}
"""


# Gradio's default theme asks for Source Sans Pro at 400 and 600, but the SemiBold file it ships is a
# 55-glyph subset (A and B among the capitals, no C-Z): 600-weight text mixed those glyphs with a fallback
# font, so "Grad-CAM" read "Grad-CᴀM". The Regular and Bold files are complete; 600 renders as Bold.
# Nothing is fetched from the network: both files ship inside Gradio.
def theme() -> gr.themes.Base:
    font = [gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"]
    return gr.themes.Default(font=font)


EXPORT_DIR = Path(tempfile.gettempdir()) / "glassbox-exports"


def export_file(name: str, content: bytes | str | Callable[[], bytes | str]) -> str:
    """Write a download (PNG, HTML, GIF) and return its path for a gr.DownloadButton.

    Names carry a content key, so two sessions never overwrite each other's different files.
    For that reason content may be a function: it is only called when the file is not there yet
    (a repeated run reuses its export instead of encoding it again).
    """
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    path = EXPORT_DIR / name
    if callable(content):
        if path.exists():
            path.touch()  # in use again: the housekeeper measures age from the last use
            return str(path)
        content = content()
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return str(path)


def launch_kwargs() -> dict:
    """Settings for every launch. Host/port come from GRADIO_SERVER_NAME/PORT (Spaces sets them)."""
    return {
        "max_file_size": images.MAX_UPLOAD_BYTES,
        "allowed_paths": [str(models.ASSETS)],
        "css": CSS,
        "theme": theme(),
        "footer_links": ["api"],
        # Gradio 6 can record every public call for a run-history page; a lecture has no use for it.
        "run_history": False,
    }


LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


def explainer(title: str, demo_dir: Path, values: dict[str, str] | None = None) -> None:
    """The theory panel: the demo's explainer.md (shared with Streamlit) in a closed accordion;
    values fill its {{placeholders}} (measured numbers of the model that ships)."""
    with gr.Accordion(title, open=False):
        gr.Markdown(core_explainer.load(demo_dir, values), latex_delimiters=LATEX)


def keep_others(message: str, n_outputs: int) -> tuple:
    """An event's answer to a user error: the message in its first output (the status panel), and every
    other output left as it was, so the last good result stays visible beside the message."""
    return (f"### ⚠️ {message}", *(gr.update() for _ in range(n_outputs - 1)))


def image_picker(samples: dict[str, Path], elem_prefix: str,
                 upload_label: str = "…or upload an image (max 20 MB)") -> tuple[gr.State, list]:
    """The sample gallery and upload box an image page starts with, and the session's State holding the
    chosen image's path. Returns (source, events): chain `.then(...)` on each event to react to a new image
    (a gallery pick or an upload)."""
    items = list(samples.items())
    gallery = gr.Gallery(value=[(str(p), name) for name, p in items], label="Sample gallery (click one)",
                         columns=3, height="auto", allow_preview=False, buttons=[], elem_id=f"{elem_prefix}-gallery")
    upload = gr.File(label=upload_label, file_types=["image"], type="filepath", height=150,
                     elem_id=f"{elem_prefix}-upload")
    source = gr.State(None)  # path of the current image; per browser session

    def pick(evt: gr.SelectData) -> str:
        return str(items[evt.index][1])

    hidden = {"api_visibility": "private"}
    return source, [gallery.select(pick, None, source, **hidden), upload.upload(lambda f: f, upload, source, **hidden)]


def user_set(component):
    """The event for "the learner gave this control a new value".

    Gradio 6's Dropdown fires `input` twice for one pick of an option (measured: a pick, then the same value
    again), which queued a second run of the page behind the first; `select` fires once. Dropdowns that take
    typed values (allow_custom_value) keep `input`, which is the event a typed value raises.
    """
    if isinstance(component, gr.Dropdown) and not component.allow_custom_value:
        return component.select
    return component.input


def footer() -> gr.Markdown:
    """The device/model line at the bottom of every page, filled in when the page loads."""
    return gr.Markdown("Checking device and models…", elem_id="gb-footer")


def page_loaded(request: gr.Request, page_models: list[str] | None = None) -> str:
    """Every page's load event: marks the session as a browser tab (kept long), returns the footer line
    (naming the page's own models when page_models is given)."""
    if request.session_hash:
        for store in list(_stores):  # one per running app (tests may run several); hashes are random
            store.mark_browser(request.session_hash)
    return models.status_line(page_models)


def page_footer(demo: gr.Blocks, page_models: list[str] | None = None) -> None:
    """A page's footer line, filled in (and the tab marked as a browser) when the page loads."""
    md = footer()

    def on_load(request: gr.Request) -> str:
        return page_loaded(request, page_models)

    demo.load(on_load, None, md, api_visibility="private")


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        log.warning("%s=%r is not a number; using %s", name, os.environ.get(name), default)
        return default


class _LazyConfigs(dict):
    """SessionState.config_values, built one component at a time when asked for.

    Gradio builds a config copy of every component of the app when a session starts (27 ms and
    about 1 MB for this hub), and every REST or gradio_client call starts a session; an event only
    ever touches the few components it reads or writes. Whole-dict reads (deep links) fill it all.
    """

    def __init__(self, state: LeanSessionState):
        super().__init__()
        self._state = state

    def _valid(self, key) -> bool:
        return key in self._state.blocks_config.blocks and key in self._state.app_blocks

    def __missing__(self, key):
        if not self._valid(key):
            raise KeyError(key)
        value = self._state.blocks_config.config_for_block(key, [], self._state.blocks_config.blocks[key])
        self[key] = value
        return value

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or self._valid(key)

    def _fill(self) -> None:
        for key in list(self._state.blocks_config.blocks):
            if not dict.__contains__(self, key) and self._valid(key):
                self[key]  # noqa: B018 - __missing__ builds it

    def items(self):
        self._fill()
        return super().items()

    def values(self):
        self._fill()
        return super().values()

    def keys(self):
        self._fill()
        return super().keys()

    def __iter__(self):
        self._fill()
        return super().__iter__()

    def __len__(self) -> int:
        self._fill()
        return super().__len__()


class LeanSessionState(SessionState):
    """Gradio's SessionState with config_values built lazily (see _LazyConfigs)."""

    def __init__(self, blocks: gr.Blocks):  # mirrors SessionState.__init__ but for config_values
        from copy import copy

        self.app_blocks = blocks.blocks
        self.blocks_config = copy(blocks.default_config)
        self.config_values = _LazyConfigs(self)
        self.state_data = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 3600


class SessionStore(StateHolder):
    """Gradio's per-session state, bounded by count and by idle time, in two classes.

    Browser tabs (sessions whose page-load event ran) keep their state for GLASSBOX_SESSION_IDLE_MIN
    minutes of idleness (default 120: a learner back from a 20-minute exercise finds the page as she
    left it), at most GLASSBOX_MAX_SESSIONS of them. Every other session is an API call's one-shot:
    at most 64 are kept, for at most 5 minutes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.max_browser = int(_env_number("GLASSBOX_MAX_SESSIONS", 400))
        self.browser_idle_s = _env_number("GLASSBOX_SESSION_IDLE_MIN", 120) * 60
        self.max_other = 64
        self.other_idle_s = 300.0
        self.browser: set[str] = set()

    def __getitem__(self, session_id: str) -> SessionState:
        if session_id not in self.session_data:
            self.session_data[session_id] = LeanSessionState(self.blocks)
        return super().__getitem__(session_id)

    def mark_browser(self, session_id: str) -> None:
        with self.lock:
            self.browser.add(session_id)
            self._evict()

    def update(self, session_id: str) -> None:
        with self.lock:
            if session_id in self.session_data:
                self.session_data.move_to_end(session_id)
            self._evict()

    def _evict(self) -> None:
        now = datetime.datetime.now()
        kept = {True: 0, False: 0}
        doomed = []
        for sid in reversed(self.session_data):  # newest first
            is_browser = sid in self.browser
            kept[is_browser] += 1
            idle = (now - self.time_last_used.get(sid, now)).total_seconds()
            limit, max_idle = (self.max_browser, self.browser_idle_s) if is_browser else (self.max_other,
                                                                                          self.other_idle_s)
            if kept[is_browser] > limit or idle > max_idle:
                doomed.append(sid)
        for sid in doomed:
            self.session_data.pop(sid, None)
            self.time_last_used.pop(sid, None)
            self.browser.discard(sid)


_stores: weakref.WeakSet[SessionStore] = weakref.WeakSet()

CACHE_MAX_AGE_S = 2 * 3600  # uploads and outputs outlive a lesson: a page's state may still point at one
MAX_CACHE_FILES = 3000  # ~10 per browser click (each image output is a file), so hundreds of clicks
EXPORT_MAX_AGE_S = 3600
MAX_EXPORTS = 500
HOUSEKEEPING_EVERY_S = 30.0  # an attention click writes ~75 image files (the model view): prune often
STRAY_MAX_AGE_S = 600


def housekeeping(demo: gr.Blocks) -> None:
    """One pass: the files Gradio wrote for this app (uploads, data-URL inputs, every image output and
    download) and our exports, each bounded by count and age."""
    # Files the pages show when they open (the sample gallery, first images) must stay servable.
    keep = set(getattr(demo, "_glassbox_startup_files", ()))
    for block in demo.blocks.values():
        keep.update(getattr(block, "keep_in_cache", set()))
    sets = list(demo.temp_file_sets)
    paths = [Path(p) for fs in sets for p in list(fs) if p not in keep]
    gone = {str(p) for p in files.prune(paths, MAX_CACHE_FILES, CACHE_MAX_AGE_S)}
    for fs in sets:
        fs.difference_update(gone)
    for p in gone:  # gradio keeps each file in a folder of its own
        try:
            Path(p).parent.rmdir()
        except OSError:
            pass
    files.prune_dir(EXPORT_DIR, MAX_EXPORTS, EXPORT_MAX_AGE_S)
    # Gradio 6.31 leaves an empty, untracked tmpXXXX file in its upload folder per browser upload.
    upload_dir = getattr(getattr(demo, "server_app", None), "uploaded_file_dir", None)
    if upload_dir and Path(upload_dir).is_dir():
        strays = [p for p in Path(upload_dir).glob("tmp*") if p.is_file() and p.stat().st_size == 0]
        files.prune(strays, len(strays), STRAY_MAX_AGE_S)


def _housekeeper(demo: gr.Blocks) -> None:
    while True:
        time.sleep(HOUSEKEEPING_EVERY_S)
        if not demo.is_running:  # closed (tests close theirs): nothing left to keep tidy
            return
        try:
            housekeeping(demo)
        except Exception:  # noqa: BLE001 - housekeeping must never take the server down
            log.exception("housekeeping failed")


def serve(demo: gr.Blocks, **overrides):
    """Queue and launch a Blocks app with Glassbox's settings, bounded session state and housekeeping.

    Returns launch()'s (app, local_url, share_url); the server runs in the background
    (prevent_thread_lock); call demo.block_thread() to wait on it.
    """
    # Handlers mostly wait for the one compute lane, which schedules fairly (short clicks first):
    # many slots let a click reach the lane instead of queueing behind long jobs in Gradio's FIFO.
    demo.queue(default_concurrency_limit=int(_env_number("GLASSBOX_CONCURRENCY", 32)))
    kwargs = {**launch_kwargs(), "prevent_thread_lock": True, **overrides}
    out = demo.launch(**kwargs)
    demo._glassbox_startup_files = {p for fs in demo.temp_file_sets for p in fs}  # type: ignore[attr-defined]
    store = SessionStore()
    store.set_blocks(demo)
    _stores.add(store)
    demo.server_app.state_holder = store
    threading.Thread(target=_housekeeper, args=(demo,), name="glassbox-housekeeping", daemon=True).start()
    return out


def launch_page(build: Callable[[], None], title: str) -> None:
    """Run one demo page alone (each ui_gradio.py is runnable by itself)."""
    with gr.Blocks(title=title) as demo:
        build()
        page_footer(demo)
    serve(demo)
    demo.block_thread()
