"""The live class in the Gradio hub: plain JSON routes for the pages' script, and the `gr.api` endpoints.

A page in a class asks `GET /gb_class/state` every second (classbar.js, in every page's <head>). That route is a
plain Starlette route, not a Gradio event: it does not enter Gradio's queue, starts no session and never waits
for the compute lane, so 40 or 500 learners polling cost the server a dictionary lookup each. Only when the
lecturer's view changes does a follower's page fire a Gradio event (the ShareBar's `follow` box), and that view's
results come from the result caches the lecturer's own click filled.

The same requests are `gr.api` endpoints (`/class_open`, `/class_state`, `/class_set`, `/class_vote`,
`/class_results`) for gradio_client, a slide deck or a clicker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging

import gradio as gr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from apps import class_common
from core import remote
from core.classroom import ClassError

log = logging.getLogger("glassbox.hub")

PREFIX = "/gb_class"
MAX_BODY = 16_384  # bytes of a request body: a question, its options and a view fit in far less
TOKEN_HEADER = "x-class-token"
# The routes' own threads: a class request never waits for a thread that Gradio's handlers (and so the compute
# lane) hold. Most requests are a lookup under a lock; a page's question (ask_page) runs the page's model.
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="glassbox-class")


async def _answer(fn, *args, inline: bool = False, **kwargs) -> JSONResponse:
    """A class request's JSON, or 400 with the ClassError's sentence. `inline`: a lookup in this process's store
    (microseconds under its lock), answered on the event loop; anything else (the Ray actor, a page's question)
    runs in the class threads."""
    loop = asyncio.get_running_loop()
    try:
        if inline and remote.backend() == "local":
            out = fn(*args, **kwargs)
        else:
            out = await loop.run_in_executor(_pool, lambda: fn(*args, **kwargs))
    except ClassError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    except Exception as exc:  # a bug must not look like a dead server to the page's script
        log.exception("class request failed")
        return JSONResponse({"error": f"The class request failed ({type(exc).__name__})."}, status_code=500)
    return JSONResponse(out, headers={"Cache-Control": "no-store"})


async def _body(request: Request) -> dict:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ClassError(f"A class request has at most {MAX_BODY} bytes.")
    try:
        data = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ClassError("A class request's body is JSON.") from exc
    if not isinstance(data, dict):
        raise ClassError("A class request's body is a JSON object.")
    return data


def _int_or_none(v):
    if v in (None, ""):
        return None
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise ClassError("An option or question is named by its number.")
    try:
        return int(v)
    except ValueError as exc:
        raise ClassError("An option or question is named by its number.") from exc


async def _state(request: Request):
    q = request.query_params
    return await _answer(class_common.class_state, q.get("code", ""), q.get("member") or None,
                         q.get("following", "1") != "0", request.headers.get(TOKEN_HEADER) or None, inline=True)


async def _results(request: Request):
    return await _answer(class_common.class_results, request.query_params.get("code", ""),
                         request.headers.get(TOKEN_HEADER) or None)


async def _qr(request: Request):
    """The join link's QR code (SVG), for the lecturer's screen."""
    q = request.query_params
    code = q.get("code", "")[:8]
    base = q.get("base", "")[:200]
    if not code.isalnum() or not (base.startswith("http://") or base.startswith("https://")):
        return JSONResponse({"error": "Give the class code and the hub's address (base=http...)."}, status_code=400)
    link = class_common.join_link(code.upper(), base)
    return JSONResponse({"join": link, "qr": class_common.qr_svg(link)})


async def _post(request: Request):
    op = request.path_params["op"]
    try:
        b = await _body(request)
        token = request.headers.get(TOKEN_HEADER) or b.get("token")
        if op == "open":
            return await _answer(class_common.class_open, str(b.get("view") or "/"))
        if op == "set":
            return await _answer(class_common.class_set, str(b.get("code", "")), token, str(b.get("action", "view")),
                                 b.get("view"), b.get("question", ""), b.get("options"), _int_or_none(b.get("answer")))
        if op == "vote":
            return await _answer(class_common.class_vote, str(b.get("code", "")), str(b.get("member", "")),
                                 _int_or_none(b.get("option")), _int_or_none(b.get("poll")), inline=True)
    except ClassError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"error": f"No class request {op!r}: open, set or vote."}, status_code=404)


ROUTES = (Route(f"{PREFIX}/state", _state, methods=["GET"]),
          Route(f"{PREFIX}/results", _results, methods=["GET"]),
          Route(f"{PREFIX}/qr", _qr, methods=["GET"]),
          Route(PREFIX + "/{op}", _post, methods=["POST"]))


def routes() -> list[Route]:
    """The routes every Glassbox Gradio app serves (launch_kwargs puts them ahead of Gradio's own)."""
    return list(ROUTES)


# ---------------------------------------------------------------------- the JSON API (gradio_client, curl)

def _api(fn):
    def call(*args):
        try:
            return fn(*args)
        except ClassError as exc:
            raise gr.Error(str(exc)) from exc
    return call


def class_open(view: str = "/") -> dict:
    """Start a live class on a view (a page's path and query: its link without the host). Returns the class's
    state with its `code` and the lecturer's secret `token` (shown only here: keep it)."""
    return _api(class_common.class_open)(view)


def class_state(code: str, member: str = "", following: bool = True, token: str = "") -> dict:
    """A class's view, its version, how many learners follow it and its question (anonymous counts; the answer
    only after the reveal). A learner's page sends its random member id to be counted."""
    return _api(class_common.class_state)(code, member or None, following, token or None)


def class_set(code: str, token: str, action: str = "view", view: str = "", question: str = "",
              options: list[str] | None = None, answer: int | None = None) -> dict:
    """The lecturer's requests (the token is required): action `view` (move every follower to `view`), `ask`
    (question and 2-6 options), `ask_page` (the page's own question for the current view), `reveal` (optionally
    the answer's option index), `end_poll`, `close`."""
    return _api(class_common.class_set)(code, token, action, view or None, question, options, answer)


def class_vote(code: str, member: str, option: int, poll: int | None = None) -> dict:
    """One anonymous vote for an option (its index, from 0) of the class's current question, once per member id,
    before the reveal."""
    return _api(class_common.class_vote)(code, member, option, poll)


def class_results(code: str, token: str = "") -> dict:
    """A class's questions and their vote counts (answers once revealed; with the token, before too)."""
    return _api(class_common.class_results)(code, token or None)


def add_api() -> None:
    """The five class endpoints, in the current Blocks (the hub's landing page; a page run alone)."""
    for fn in (class_open, class_state, class_set, class_vote, class_results):
        gr.api(fn, api_name=fn.__name__)
