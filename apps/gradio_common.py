"""What every Gradio page shares: launching with bounded memory and disk, the footer, warm-up.

Gradio keeps a SessionState per session hash (a copy of every component's config: about 1.3 MB
for this hub) and, by default, up to 10,000 of them; every REST or gradio_client call is a new
session. Left alone, a lecture's API traffic grows the server by megabytes a call. `serve()` swaps
in SessionStore, which keeps browser tabs (marked by their page-load event) for hours but API
one-shots only briefly, and a housekeeping thread that bounds uploads and exports on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Callable

import gradio as gr
from gradio.state_holder import SessionState, StateHolder

from core import explainer as core_explainer
from core import files, images, memwatch, models, share

log = logging.getLogger("glassbox.hub")

CSS = """
.gb-cards {display:grid; grid-template-columns:repeat(auto-fill,minmax(260px,1fr)); gap:16px;}
.gb-card {display:block; text-align:left; border:1px solid var(--border-color-primary); border-radius:12px;
          padding:18px;
          background:var(--block-background-fill); text-decoration:none !important; color:inherit !important;}
.gb-card h3 {margin:4px 0 6px 0; font-size:1.25rem;}
.gb-card .gb-icon {font-size:2.2rem;}
.gb-card .gb-step {float:right; font-size:.8rem; font-weight:700; opacity:.7;}
.gb-card .gb-try {font-size:.9rem; border-left:3px solid #0072b2; padding-left:6px;}
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
.gb-share {align-items:end;} .gb-share-note {font-size:.85rem; opacity:.85;}
.gb-lesson {align-items:center; border:1px solid var(--border-color-primary); border-radius:8px; padding:2px 6px;}
.gb-lesson-text p {margin:0;}
/* Lecture mode (?lecture=1 or the toggle): every text size 1.5x (the theme defines them on :root, so the
   class goes on <html> too), bigger figures and plot labels, advanced controls out of the way. */
html.gb-lecture {font-size:150%; --text-xxs:14px; --text-xs:15px; --text-sm:18px; --text-md:21px; --text-lg:24px;
                 --text-xl:33px; --text-xxl:39px;}
html.gb-lecture .prose h1 {font-size:1.6rem;}
html.gb-lecture .nav-holder a {font-size:15px;}  /* the top bar stays one line; the page below is what is read */
/* Results first and the whole width wide, the controls below them: the pictures grow about 1.5x. */
html.gb-lecture .gb-main {flex-wrap:wrap;}
html.gb-lecture .gb-main > div:first-child {order:2; flex:1 1 100% !important; min-width:100% !important;}
html.gb-lecture .gb-main > div:nth-child(2) {order:1; flex:1 1 100% !important; min-width:100% !important;}
html.gb-lecture .block:has(> .image-container) {height:auto !important;}
/* A block's label takes its own lines instead of covering the picture or box under it. */
html.gb-lecture label[data-testid="block-label"] {position:relative !important;}
html.gb-lecture .gb-advanced {display:none !important;}
html.gb-lecture .js-plotly-plot .main-svg text {font-size:18px !important;}
html.gb-lecture .gb-share-note {font-size:1rem;}
"""

# Runs once in every page's <head>: lecture mode from the URL before the first paint, and the lesson's arrow keys.
HEAD = """<script>
(function () {
  const q = new URLSearchParams(window.location.search);
  if (["1", "true", "yes", "on"].includes((q.get("lecture") || "").toLowerCase())) {
    document.documentElement.classList.add("gb-lecture");
  }
  function press(cls) {
    const el = document.querySelector("." + cls);
    const btn = el && (el.tagName === "BUTTON" ? el : el.querySelector("button"));
    if (btn) { btn.click(); return true; }
    return false;
  }
  document.addEventListener("keydown", function (e) {
    const t = e.target;
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    // A control that uses the arrow keys itself (a field, a slider, a radio group, tabs) keeps them.
    if (t && t.closest && t.closest("ARROW_KEY_CONTROLS")) return;
    if (e.key === "ArrowRight" && press("gb-lesson-next")) e.preventDefault();
    if (e.key === "ArrowLeft" && press("gb-lesson-prev")) e.preventDefault();
  });
})();
</script>""".replace("ARROW_KEY_CONTROLS", share.ARROW_KEY_CONTROLS)


# Gradio's default theme asks for Source Sans Pro at 400 and 600, but the SemiBold file it ships is a
# 55-glyph subset (A and B among the capitals, no C-Z): 600-weight text mixed those glyphs with a fallback
# font, so "Grad-CAM" read "Grad-CᴀM". The Regular and Bold files are complete; 600 renders as Bold.
# Nothing is fetched from the network: both files ship inside Gradio.
def theme() -> gr.themes.Base:
    font = [gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"]
    return gr.themes.Default(font=font)


EXPORT_DIR = files.private_temp() / "exports"


def export_file(name: str, content: bytes | str | Callable[[], bytes | str]) -> str | None:
    """Write a download (PNG, HTML, GIF) and return its path for a gr.DownloadButton.

    Names carry a content key, so two sessions never overwrite each other's different files.
    For that reason content may be a function: it is only called when the file is not there yet
    (a repeated run reuses its export instead of encoding it again).

    A download is never worth losing the result for: when the file cannot be written (a full disk), the
    learner gets a warning that says so, the page shows its result without that download (None), and no
    half-written file is left to be served.
    """
    path = EXPORT_DIR / name
    try:
        EXPORT_DIR.mkdir(parents=True, exist_ok=True)
        if callable(content):
            if path.exists():
                path.touch()  # in use again: the housekeeper measures age from the last use
                return str(path)
            content = content()
        files.write_atomic(path, content)
    except OSError as exc:
        log.warning("export %s not written: %s", name, exc)
        gr.Warning(f"{files.write_failure(exc)} The download {name} could not be made; the result on screen is "
                   "complete. Try again later.")
        return None
    return str(path)


async def _disk_full(request, exc: OSError):
    """A request that could not write its file (an upload onto a full disk) gets a sentence that says so,
    not a bare 500. Gradio's upload route does not catch it; its half-written temporary file is never handed
    out and the housekeeper removes it. Other OSErrors go on to the usual error response."""
    from starlette.responses import PlainTextResponse

    if exc.errno not in files.DISK_FULL:
        raise exc
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return PlainTextResponse(f"{files.write_failure(exc)} The file was not saved; try again later.", status_code=507)


@contextlib.asynccontextmanager
async def _remember_loop(app):
    """The server's event loop, for housekeeping that must run on it (see _drop_finished_sessions)."""
    app.state.glassbox_loop = asyncio.get_running_loop()
    yield


def launch_kwargs() -> dict:
    """Settings for every launch. Host/port come from GRADIO_SERVER_NAME/PORT (Spaces sets them)."""
    return {
        "app_kwargs": {"exception_handlers": {OSError: _disk_full}, "lifespan": _remember_loop},
        "max_file_size": images.MAX_UPLOAD_BYTES,
        "allowed_paths": [str(models.ASSETS)],
        "css": CSS,
        "theme": theme(),
        "footer_links": ["api"],
        "head": HEAD,
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


def on_user_set(controls, fn, inputs, outputs, **kwargs):
    """One event for all the controls that recompute the same view.

    `trigger_mode="always_last"` orders runs only within one event. With an event per control, moving one
    slider and then another started two runs side by side, and the lane (which favours short jobs) could
    finish the older one last, leaving the page on a view nobody asked for. One event for all of them runs
    one at a time per tab: a change made meanwhile waits, the newest replaces older waiting ones, and each run
    reads every control's value when it starts, so the last run is the view on screen.
    """
    return gr.on([user_set(c) for c in controls], fn, inputs, outputs, trigger_mode="always_last",
                 api_visibility="private", **kwargs)


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
                self[key]  # __missing__ builds it

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
    """Gradio's SessionState with config_values built lazily (see _LazyConfigs), and without Gradio 6.31's
    leak of component copies.

    When an event updates a component (a dropdown's choices, a slider's range), Gradio stores a new copy of it in
    the session, and the copy gets an id of its own. The next event that reads that component looks it up by
    the app's id, gets the copy, then stores the copy once more under the copy's id (blocks.py,
    preprocess_data) together with a config entry: one more component and config per update, for as long as
    the tab lives. The soak counted about 450 per 1,000 calls. Here a copy's id is read as the id of the
    component it stands for, so the session holds one entry per component, as Gradio means it to.
    """

    def __init__(self, blocks: gr.Blocks):  # mirrors SessionState.__init__ but for config_values
        from copy import copy

        self.app_blocks = blocks.blocks
        self.blocks_config = copy(blocks.default_config)
        self.config_values = _LazyConfigs(self)
        self.state_data = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 3600
        self._stands_for: dict[int, int] = {}  # a session copy's own id -> the app component's id (one per component)

    def _app_id(self, key):
        return self._stands_for.get(key, key)

    def __getitem__(self, key):
        return super().__getitem__(self._app_id(key))

    def __setitem__(self, key, value) -> None:
        key = self._app_id(key)
        copy_id = getattr(value, "_id", key)
        if copy_id != key and isinstance(value, gr.blocks.Block):  # a new session copy of component `key`
            old = self.blocks_config.blocks.get(key)
            self._stands_for.pop(getattr(old, "_id", key), None)
            self._stands_for[copy_id] = key
        super().__setitem__(key, value)

    def __contains__(self, key) -> bool:
        return super().__contains__(self._app_id(key))

    def _update_config(self, key) -> None:
        super()._update_config(self._app_id(key))

    def _update_value_in_config(self, key, value) -> None:
        super()._update_value_in_config(self._app_id(key), value)


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
ANALYTICS_EVENTS = 500  # Gradio's record of recent events (for analytics we do not use): kept short

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
    # Gradio 6.31 leaves an empty, untracked tmpXXXX file in its upload folder per browser upload, and a
    # half-written one when an upload fails (a full disk): untracked, so never served, but never removed either.
    upload_dir = getattr(getattr(demo, "server_app", None), "uploaded_file_dir", None)
    if upload_dir and Path(upload_dir).is_dir():
        strays = [p for p in Path(upload_dir).glob("tmp*") if p.is_file()]
        files.prune(strays, len(strays), STRAY_MAX_AGE_S)


def _drop_finished_sessions(demo: gr.Blocks) -> None:
    """Gradio 6.31 keeps an empty set in its queue's pending_event_ids_session for every session whose events
    have all finished, and never removes it: one per REST call, for ever (the soak counted 820 more per 1,000
    calls). On the server's event loop, the only thread that touches that dict, drop the empty ones."""
    loop = getattr(getattr(getattr(demo, "server_app", None), "state", None), "glassbox_loop", None)
    if loop is None or loop.is_closed():
        return

    def drop() -> None:
        pending = demo._queue.pending_event_ids_session
        for sid in [sid for sid, ids in pending.items() if not ids]:
            pending.pop(sid, None)

    loop.call_soon_threadsafe(drop)


def _housekeeper(demo: gr.Blocks) -> None:
    while True:
        time.sleep(HOUSEKEEPING_EVERY_S)
        if not demo.is_running:  # closed (tests close theirs): nothing left to keep tidy
            return
        try:
            housekeeping(demo)
            _drop_finished_sessions(demo)
            # What a call frees (decoded images, tensors, PNG buffers), glibc keeps in its per-thread arenas for
            # reuse, and those fragment: over 3,000 soak calls the heap in use stayed at ~500 MB while the freed
            # memory it held grew 190 -> 425 MB, and RSS with it. Handing the free pages back every pass keeps RSS
            # at what is in use (measured: 35-140 ms per pass under the soak's load, once every 30 s; glibc locks one
            # arena at a time, so the compute lane keeps running).
            memwatch.trim()
        except Exception:  # housekeeping must never take the server down
            log.exception("housekeeping failed")


def gradio_sizes(demo: gr.Blocks, store: SessionStore) -> dict:
    """The sizes of what Gradio keeps between requests (for memwatch's snapshots)."""
    queue, app = demo._queue, demo.server_app
    return {"sessions_browser": len(store.browser & set(store.session_data)),
            "sessions_all": len(store.session_data), "session_times": len(store.time_last_used),
            "temp_files": sum(len(fs) for fs in demo.temp_file_sets), "upload_file_set": len(demo.upload_file_set),
            "event_analytics": len(queue.event_analytics), "events_by_id": len(queue.event_ids_to_events),
            "pending_sessions": len(queue.pending_event_ids_session),
            "pending_messages": len(getattr(queue, "pending_messages_per_session", {})),
            "iterators": len(app.iterators), "pending_streams": len(demo.pending_streams)}


def serve(demo: gr.Blocks, **overrides):
    """Queue and launch a Blocks app with Glassbox's settings, bounded session state and housekeeping.

    Returns launch()'s (app, local_url, share_url); the server runs in the background
    (prevent_thread_lock); call demo.block_thread() to wait on it.
    """
    # Handlers mostly wait for the one compute lane, which schedules fairly (short clicks first):
    # many slots let a click reach the lane instead of queueing behind long jobs in Gradio's FIFO.
    demo.queue(default_concurrency_limit=int(_env_number("GLASSBOX_CONCURRENCY", 32)))
    # After every event Gradio 6.31 builds a pandas table of all the events it has recorded (up to 10,000) to
    # summarise them for a monitoring page this hub does not serve. That cost CPU on every click, and the
    # table's Arrow string buffers went to pyarrow's allocator (mimalloc), which kept them: the soak measured
    # RSS growing ~35 MB per 1,000 calls outside the heap. Record few events, and never summarise them.
    demo._queue.ANALYTICS_MAX_EVENTS = ANALYTICS_EVENTS
    demo._queue.ANAYLTICS_CACHE_FREQUENCY = 2**62  # (sic: Gradio's spelling) events between two summaries
    kwargs = {**launch_kwargs(), "prevent_thread_lock": True, **overrides}
    out = demo.launch(**kwargs)
    demo._glassbox_startup_files = {p for fs in demo.temp_file_sets for p in fs}  # type: ignore[attr-defined]
    store = SessionStore()
    store.set_blocks(demo)
    _stores.add(store)
    demo.server_app.state_holder = store
    memwatch.register("gradio", lambda: gradio_sizes(demo, store))
    threading.Thread(target=_housekeeper, args=(demo,), name="glassbox-housekeeping", daemon=True).start()
    return out


def launch_page(build: Callable[[], None], title: str) -> None:
    """Run one demo page alone (each ui_gradio.py is runnable by itself)."""
    with gr.Blocks(title=title) as demo:
        build()
        page_footer(demo)
    serve(demo)
    demo.block_thread()


# --- links, lecture mode, lessons, export: the bar every page carries -----------------------------------

# After the server sends a page's query string: keep the address bar in step (so the browser's own
# copy and reload work too) and show the whole link, with this page's path, in the link box.
_LINK_JS = """(q) => {
  if (typeof q !== "string" || !q.startsWith("?")) return q;
  window.history.replaceState(window.history.state, "", window.location.pathname + q);
  return window.location.origin + window.location.pathname + q;
}"""
_LECTURE_JS = "(on) => { document.documentElement.classList.toggle('gb-lecture', !!on); return []; }"


def _is_update(x) -> bool:
    return isinstance(x, dict) and x.get("__type__") == "update"


class ShareBar:
    """What every page carries for a class: a link to its current view (kept in the address bar too), the
    lecture-mode toggle, the lesson stepper, the JSON export and cross-links to other pages.

    Create it under the page's title (the lesson and the toggle go there), then call `wire` at the end of the
    page, once its controls exist (the link box, downloads and cross-links go there). The page opens on the
    view its address names (or its defaults), computed.

    `wire` takes a dict of setting name -> control (a component or a gr.State), in the order of the view's
    settings; `show`, from the controls' values to the page's outputs (its usual run); and optionally
    `record` (the results for the JSON export) and `links` (markdown links to other pages). Conversions
    between a control's value and the link's (a gallery path and its name) go in to_param / to_control.
    """

    def __init__(self, view: share.View) -> None:
        """The top of the bar: the lesson stepper and the lecture-mode toggle (the link, downloads and
        cross-links go at the end of the page, made by wire(), so the first screen is the demo)."""
        self.view = view
        slug = view.slug
        self.beat = gr.State(-1)  # the lesson beat shown (-1: none yet)
        self.link_notices = gr.State([])  # what was wrong with the link this page opened on
        self.has_lesson = bool(view.lesson)
        # A plain row, not an accordion: Gradio leaves a closed accordion's buttons out of the page.
        with gr.Row(equal_height=True, elem_id=f"{slug}-lesson", elem_classes="gb-lesson"):
            if view.lesson:
                self.prev = gr.Button("⬅️ Back", elem_id=f"{slug}-lesson-prev", elem_classes="gb-lesson-prev",
                                      scale=0, min_width=100, size="sm")
                self.beat_text = gr.Markdown(view.lesson_text(-1), elem_id=f"{slug}-lesson-text",
                                             elem_classes="gb-lesson-text")
                self.next = gr.Button("Next ➡️", elem_id=f"{slug}-lesson-next", elem_classes="gb-lesson-next",
                                      variant="primary", scale=0, min_width=100, size="sm")
            self.lecture = gr.Checkbox(False, label="🎓 Lecture mode", elem_id=f"{slug}-lecture", scale=0,
                                       min_width=170, container=False)

    def _bottom(self) -> None:
        slug = self.view.slug
        self.cross = gr.Markdown("", elem_id=f"{slug}-crosslinks")  # links to other pages, carrying this view
        with gr.Row(elem_classes="gb-share"):
            self.link = gr.Textbox(label="🔗 Link to this view (copy it into a slide)", interactive=False, lines=1,
                                   max_lines=1, buttons=["copy"], elem_id=f"{slug}-link", scale=5, min_width=260)
            self.json = gr.DownloadButton("⬇️ JSON of this view (settings, model, results, link)",
                                          elem_id=f"{slug}-json", scale=1, size="sm", min_width=180)
        self.note = gr.Markdown("", elem_id=f"{slug}-link-note", elem_classes="gb-share-note")

    def wire(self, controls: dict, outputs: list, show: Callable[..., tuple],
             to_param: dict[str, Callable] | None = None, to_control: dict[str, Callable] | None = None,
             record: Callable[[dict], dict] | None = None, links: Callable[[dict], str] | None = None) -> None:
        """Make the end of the bar here and connect it all. links: markdown of links to other pages that carry
        the current view (from the controls' values)."""
        self._bottom()
        view = self.view
        assert list(controls) == view.names, f"{view.slug}: controls {list(controls)} != settings {view.names}"
        to_param, to_control = to_param or {}, to_control or {}
        comps = list(controls.values())
        extra = [o for o in outputs if all(o is not c for c in comps)]
        hidden = {"api_visibility": "private"}

        def params_of(raw: dict) -> dict:
            return {k: to_param[k](v) if k in to_param else v for k, v in raw.items()}

        def controls_of(values: dict) -> dict:
            return {k: to_control[k](v) if k in to_control else v for k, v in values.items()}

        def merged(raw: dict, outs: tuple) -> list:
            """Updates for comps + extra: where the page's outputs set a control, the page's value wins (it
            clamps a layer to the model's last one, picks the middle patch); else the link's value."""
            res = dict(zip((id(o) for o in outputs), outs))
            result = []
            for k, c in controls.items():
                out = res.get(id(c), raw[k])
                result.append({**out, "value": raw[k]} if _is_update(out) and "value" not in out else out)
            return result + [res[id(o)] for o in extra]

        def shown(updates: list) -> dict:
            """The controls' values after merged()'s updates: what the link must say."""
            vals = [u.get("value") if _is_update(u) else u for u in updates[:len(comps)]]
            return dict(zip(controls, vals))

        def link_state(raw: dict, lecture: bool, beat: int, notices: list) -> tuple:
            values = params_of(raw)
            on_beat = view.current_beat(values, beat)
            query = "?" + view.query(values, bool(lecture), None if on_beat is None else on_beat + 1)
            lines = [f"⚠️ {n}" for n in notices] + [f"ℹ️ {n}" for n in view.missing_notes(values)]
            if not lines and view.note_when_missing:
                lines = [share.UPLOAD_HINT]
            download = None
            if record is not None:
                def build() -> str:
                    return share.export_view(view, values, bool(lecture), lambda: record(raw))

                # The link follows every slider move; the export is built once per view (an upload, which the
                # settings cannot name, is told apart by its path) and reused after that.
                uploads = {k: raw[k] for k, v in values.items() if v is None and isinstance(raw[k], str)}
                name = share.export_name(view.slug, values, ".json", {"lecture": bool(lecture), **uploads})
                download = export_file(name, build)
            cross = ""
            if links is not None:
                try:
                    cross = links(raw)
                except Exception:  # a link that cannot be made is left out, the page goes on
                    log.exception("%s: cross-links failed", view.slug)
            return query, "\n\n".join(lines), download, cross

        def on_change(*args):
            *vals, lecture, beat, notices = args
            return link_state(dict(zip(controls, vals)), lecture, beat, notices)

        link_outputs = [self.link, self.note, self.json, self.cross]
        link_inputs = [*comps, self.lecture, self.beat, self.link_notices]
        gr.on([c.change for c in comps] + [self.lecture.change], on_change, link_inputs, link_outputs,
              trigger_mode="always_last", show_progress="hidden", **hidden).then(
            None, self.link, self.link, js=_LINK_JS, **hidden)
        self.lecture.change(None, self.lecture, None, js=_LECTURE_JS, **hidden)

        lesson_outputs = [self.beat_text] if self.has_lesson else []
        all_outputs = [*comps, *extra, *link_outputs, self.lecture, self.beat, self.link_notices, *lesson_outputs]

        def open_view(values: dict, lecture: bool, beat: int, notices: list) -> list:
            raw = controls_of(values)
            updates = merged(raw, show(raw))
            lesson = [view.lesson_text(beat)] if self.has_lesson else []
            return [*updates, *link_state(shown(updates), lecture, beat, notices), lecture, beat, notices, *lesson]

        def on_load(request: gr.Request):
            q = dict(request.query_params) if request is not None else {}
            values, notices, beat = view.open_link(q)
            return open_view(values, share.lecture_on(q), beat, notices)

        root = gr.context.Context.root_block  # the hub (or the page alone): its load event fires per page
        if root is not None:
            root.load(on_load, None, all_outputs, **hidden).then(None, self.link, self.link, js=_LINK_JS, **hidden)
        if self.has_lesson:
            def step(delta: int):
                def go(beat: int, lecture: bool):
                    i = min(max(beat + delta, 0), len(view.lesson) - 1)
                    return open_view(view.beat_values(i), lecture, i, [])
                return go

            for btn, delta in ((self.prev, -1), (self.next, 1)):
                btn.click(step(delta), [self.beat, self.lecture], all_outputs, trigger_mode="always_last",
                          **hidden).then(None, self.link, self.link, js=_LINK_JS, **hidden)
