"""Launching a Gradio app the Glassbox way: settings, bounded sessions, browser tabs marked, disk kept tidy.

`serve()` is the one way a Blocks app is started (the hub, a page alone, the tests). What it does with Gradio's
private internals lives in internals.py; this file only calls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Callable

import gradio as gr
from starlette.middleware import Middleware

from apps.gradio_common import classbar, internals
from apps.gradio_common.look import CSS, HEAD, theme
from apps.gradio_common.widgets import describe_images, page_footer
from core import files, images, memwatch, models

log = logging.getLogger("glassbox.hub")

EXPORT_DIR = files.private_temp() / "exports"
CACHE_MAX_AGE_S = 2 * 3600  # uploads and outputs outlive a lesson: a page's state may still point at one
MAX_CACHE_FILES = 3000  # ~10 per browser click (each image output is a file), so hundreds of clicks
EXPORT_MAX_AGE_S = 3600
MAX_EXPORTS = 500
HOUSEKEEPING_EVERY_S = 30.0  # an attention click writes ~75 image files (the model view): prune often
STRAY_MAX_AGE_S = 600


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
        # The live class's routes go ahead of Gradio's own (classbar.py: polled every second, outside the queue).
        "app_kwargs": {"exception_handlers": {OSError: _disk_full}, "lifespan": _remember_loop,
                       "routes": classbar.routes()},
        "max_file_size": images.MAX_UPLOAD_BYTES,
        "allowed_paths": [str(models.ASSETS)],
        "css": CSS,
        "theme": theme(),
        "footer_links": ["api"],
        "head": HEAD,
        # Gradio 6 can record every public call for a run-history page; a lecture has no use for it.
        "run_history": False,
    }


def housekeeping(demo: gr.Blocks) -> None:
    """One pass: the files Gradio wrote for this app (uploads, data-URL inputs, every image output and
    download) and our exports, each bounded by count and age."""
    sets, keep = internals.served_files(demo)
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
    upload_dir = internals.upload_dir(demo)
    if upload_dir and Path(upload_dir).is_dir():
        strays = [p for p in Path(upload_dir).glob("tmp*") if p.is_file()]
        files.prune(strays, len(strays), STRAY_MAX_AGE_S)


def _housekeeper(demo: gr.Blocks) -> None:
    while True:
        time.sleep(HOUSEKEEPING_EVERY_S)
        if not demo.is_running:  # closed (tests close theirs): nothing left to keep tidy
            return
        try:
            housekeeping(demo)
            internals.drop_finished_sessions(demo)
            # What a call frees (decoded images, tensors, PNG buffers), glibc keeps in its per-thread arenas for
            # reuse, and those fragment: over 3,000 soak calls the heap in use stayed at ~500 MB while the freed
            # memory it held grew 190 -> 425 MB, and RSS with it. Handing the free pages back every pass keeps RSS
            # at what is in use (measured: 35-140 ms per pass under the soak's load, once every 30 s; glibc locks one
            # arena at a time, so the compute lane keeps running).
            memwatch.trim()
        except Exception:  # housekeeping must never take the server down
            log.exception("housekeeping failed")


def serve(demo: gr.Blocks, **overrides):
    """Queue and launch a Blocks app with Glassbox's settings, bounded session state and housekeeping.

    Every page load marks its session as a browser tab (kept for hours; an API call's session is kept briefly):
    serve() adds that load event itself, so no page has to remember to.

    Returns launch()'s (app, local_url, share_url); the server runs in the background
    (prevent_thread_lock); call demo.block_thread() to wait on it.
    """
    describe_images(demo)
    internals.encode_images_once()
    store = internals.SessionStore()
    with demo:  # the app's own load event fires once per page opened, on every page of the hub
        demo.load(store.mark_tab, None, None, api_visibility="private", show_progress="hidden")
    # Handlers mostly wait for the one compute lane, which schedules fairly (short clicks first):
    # many slots let a click reach the lane instead of queueing behind long jobs in Gradio's FIFO.
    demo.queue(default_concurrency_limit=int(internals.env_number("GLASSBOX_CONCURRENCY", 32)))
    internals.bound_queue(demo)
    kwargs = {**launch_kwargs(), "prevent_thread_lock": True, **overrides}
    kwargs["app_kwargs"] = {**kwargs["app_kwargs"],
                            "middleware": [Middleware(internals.FillOmittedInputs, blocks=demo)]}
    out = demo.launch(**kwargs)
    internals.remember_startup_files(demo)
    internals.install_session_store(demo, store)
    memwatch.register("gradio", lambda: internals.gradio_sizes(demo, store))
    threading.Thread(target=_housekeeper, args=(demo,), name="glassbox-housekeeping", daemon=True).start()
    return out


def launch_page(build: Callable[[], None], title: str) -> None:
    """Run one demo page alone (each ui_gradio.py is runnable by itself)."""
    with gr.Blocks(title=title) as demo:
        build()
        classbar.add_api()
        page_footer(demo)
    serve(demo)
    demo.block_thread()
