"""Everything here leans on Gradio's private internals, and on nothing else: read it again on a Gradio upgrade.

CHECKED_WITH names the Gradio release this file was read against; tests/unit/test_gradio_internals.py fails,
naming what moved, when the installed Gradio is another release or no longer has the attributes used here.

Gradio keeps a SessionState per session hash (a copy of every component's config: about 1.3 MB for this hub) and,
by default, up to 10,000 of them; every REST or gradio_client call is a new session. Left alone, a lecture's API
traffic grows the server by megabytes a call. SessionStore keeps browser tabs for hours but API one-shots only
briefly; LeanSessionState builds component configs lazily and stops a per-update leak; the queue's per-event
records are kept short and empty ones dropped.
"""

from __future__ import annotations

import datetime
import logging
import os

import gradio as gr
from gradio.state_holder import SessionState, StateHolder

log = logging.getLogger("glassbox.hub")

CHECKED_WITH = "6.31.0"  # the Gradio release whose source this file follows

def root_block():
    """The Blocks being built right now (the hub, or a page run alone), or None outside a `with gr.Blocks()`.
    Gradio keeps it on its private Context; a page registers its load event there."""
    return gr.context.Context.root_block


def env_number(name: str, default: float) -> float:
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
        self.max_browser = int(env_number("GLASSBOX_MAX_SESSIONS", 400))
        self.browser_idle_s = env_number("GLASSBOX_SESSION_IDLE_MIN", 120) * 60
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

    def mark_tab(self, request: gr.Request) -> None:
        """A page's load event: its session is a browser tab's."""
        if request is not None and request.session_hash:
            self.mark_browser(request.session_hash)

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


ANALYTICS_EVENTS = 500  # Gradio's record of recent events (for analytics we do not use): kept short


def drop_finished_sessions(demo: gr.Blocks) -> None:
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


def bound_queue(demo: gr.Blocks) -> None:
    """Keep the queue's record of past events short, and never summarise it.

    After every event Gradio 6.31 builds a pandas table of all the events it has recorded (up to 10,000) to
    summarise them for a monitoring page this hub does not serve. That cost CPU on every click, and the table's
    Arrow string buffers went to pyarrow's allocator (mimalloc), which kept them: the soak measured RSS growing
    ~35 MB per 1,000 calls outside the heap. Record few events, and never summarise them.
    """
    demo._queue.ANALYTICS_MAX_EVENTS = ANALYTICS_EVENTS
    demo._queue.ANAYLTICS_CACHE_FREQUENCY = 2**62  # (sic: Gradio's spelling) events between two summaries


def install_session_store(demo: gr.Blocks, store: SessionStore) -> None:
    """Make a launched app keep its sessions in store."""
    store.set_blocks(demo)
    demo.server_app.state_holder = store


def upload_dir(demo: gr.Blocks) -> str | None:
    """The folder Gradio writes browser uploads to."""
    return getattr(getattr(demo, "server_app", None), "uploaded_file_dir", None)


def served_files(demo: gr.Blocks) -> tuple[list[set[str]], set[str]]:
    """The sets of files Gradio serves for this app (uploads, data-URL inputs, every image output and download),
    and the ones that must stay: what the pages show when they open (the sample gallery, first images) and what
    a component keeps in its cache."""
    keep = set(getattr(demo, "_glassbox_startup_files", ()))
    for block in demo.blocks.values():
        keep.update(getattr(block, "keep_in_cache", set()))
    return list(demo.temp_file_sets), keep


def remember_startup_files(demo: gr.Blocks) -> None:
    """Note the files a freshly launched app serves from the start (see served_files)."""
    demo._glassbox_startup_files = {p for fs in demo.temp_file_sets for p in fs}  # type: ignore[attr-defined]


class FillOmittedInputs:
    """ASGI middleware: a plain-HTTP call may leave out an endpoint's trailing optional inputs.

    The README promises plain HTTP with the documented defaults (`POST /gradio_api/call/gradcam` with only the
    image). Gradio 6.31 checks the number of values before our function runs and fails with a ValueError whose
    message it hides (`"error": null`), so the caller never learned what was wrong, not even for a bad image.
    Here the missing trailing values are filled with the Python function's own defaults, and a call that
    leaves out a required value is answered at once (422) with the names of the values it must send.
    """

    def __init__(self, app, blocks: gr.Blocks) -> None:
        self.app, self.blocks = app, blocks
        self._parameters: dict[str, list | None] = {}  # by endpoint: every REST call asks, the answer never changes

    def parameters(self, api_name: str) -> list[tuple[str, object]] | None:
        """The endpoint's inputs in order, (name, default or REQUIRED); None when there is no such endpoint."""
        import inspect

        if api_name not in self._parameters:
            fn = next((f.fn for f in self.blocks.fns.values() if f.api_name == api_name and f.fn is not None), None)
            self._parameters[api_name] = None if fn is None else [
                (p.name, REQUIRED if p.default is inspect.Parameter.empty else p.default)
                for p in inspect.signature(fn).parameters.values()]
        return self._parameters[api_name]

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope.get("method") != "POST" or "/call/" not in path:
            return await self.app(scope, receive, send)
        api_name = path.rsplit("/call/", 1)[1].strip("/")
        params = self.parameters(api_name)
        if not params:
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        body, missing = self._filled(body, params)
        if missing:
            from starlette.responses import JSONResponse

            names = ", ".join(name for name, _ in params)
            error = (f"/{api_name} needs a value for {', '.join(missing)}: send \"data\": [{names}] in this "
                     "order (trailing values that have a default may be left out).")
            return await JSONResponse({"error": error}, status_code=422)(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # what comes after the body (a disconnect)

        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, replay, send)

    @staticmethod
    def _filled(body: bytes, params: list) -> tuple[bytes, list[str]]:
        """The body with omitted trailing defaults filled in, and the names of required values it lacks."""
        import json

        try:
            doc = json.loads(body)
            data = doc["data"]
        except (ValueError, TypeError, KeyError):
            return body, []  # not ours to judge: Gradio answers it as before
        if not isinstance(data, list) or len(data) >= len(params):
            return body, []
        rest = params[len(data):]
        missing = [name for name, default in rest if default is REQUIRED]
        if missing:
            return body, missing
        doc["data"] = data + [default for _, default in rest]
        return json.dumps(doc).encode(), []


REQUIRED = object()  # an input without a default: a call must send it


# ---------------------------------------------------------------------- image outputs encoded once

IMAGE_FILES_KEPT = 4096  # content hash -> the file Gradio wrote for it: ~100 bytes an entry


def encode_images_once() -> None:
    """Gradio writes every numpy picture a handler returns to its cache folder as WebP, and names the file by the
    encoded bytes, so it encodes the same picture again on every event that returns it. A live class's 40
    followers taking one view returned the same pictures 40 times: the encoding was 80% of a follower's redraw
    (measured with py-spy). Here a picture is known by a hash of its pixels (blake2b, about 1 ms a megabyte
    against 10-30 ms of WebP): one seen before, whose file is still there, gets the same file back unencoded.
    The file is the one Gradio's own code would have written, so serving and housekeeping are unchanged."""
    import hashlib
    import threading
    from collections import OrderedDict

    import numpy as np
    from gradio import processing_utils

    original = processing_utils.save_img_array_to_cache
    if getattr(original, "glassbox_memo", False):
        return
    memo: OrderedDict[str, str] = OrderedDict()
    lock = threading.Lock()

    def save_img_array_to_cache(arr, cache_dir: str, format: str = "webp") -> str:  # Gradio's signature
        a = np.ascontiguousarray(arr)
        h = hashlib.blake2b(a.data, digest_size=20)
        h.update(repr((a.shape, a.dtype.str, str(cache_dir), format)).encode())
        key = h.hexdigest()
        with lock:
            path = memo.get(key)
            if path is not None:
                memo.move_to_end(key)
        if path is not None and os.path.exists(path):
            return path
        path = original(arr, cache_dir, format=format)
        with lock:
            memo[key] = path
            while len(memo) > IMAGE_FILES_KEPT:
                memo.popitem(last=False)
        return path

    save_img_array_to_cache.glassbox_memo = True
    processing_utils.save_img_array_to_cache = save_img_array_to_cache
