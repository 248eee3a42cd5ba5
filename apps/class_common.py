"""The live class as both hubs and the JSON API use it: one function per request, plain data in and out.

The store (core.classroom) keeps classes; this module adds what needs the pages: a page's own question for the
class's view (registry.class_question), the join link and its QR code, and the record for a page's JSON export.
No UI framework here: the Gradio hub wraps these as routes and `gr.api` endpoints, the Streamlit hub calls them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from apps import registry
from core import classroom
from core.classroom import ClassError
from core.errors import UserError

ACTIONS = ("view", "ask", "ask_page", "reveal", "end_poll", "close")


def join_link(code: str, base: str = "") -> str:
    """The address a learner opens: the hub's root with ?class=CODE (the page then follows the lecturer's view)."""
    return f"{base.rstrip('/')}/?{classroom.CLASS_KEY}={code}"


def qr_svg(text: str) -> str:
    """A QR code of `text` as an SVG data URL, dark on white with a quiet zone (phones read it off a projector)."""
    import segno

    return segno.make(text, error="m").svg_data_uri(scale=6, border=4, dark="#000", light="#fff")


def page_question(view: str) -> dict:
    """The page's own question for a class view ({question, options, answer, explain}), computed with the page's
    model (through its result cache: the view on screen is usually computed already)."""
    slug = classroom.slug_of(view)
    make = registry.class_question(slug)
    if make is None:
        title = registry.BY_SLUG[slug].title if slug in registry.BY_SLUG else "This page"
        raise ClassError(f"{title} has no question of its own yet: type the question and 2 to "
                         f"{classroom.MAX_OPTIONS} options.")
    values, _ = registry.view(slug).parse(dict(parse_qsl(urlsplit(view).query, keep_blank_values=True)))
    try:
        return make(values)
    except UserError as exc:
        raise ClassError(str(exc)) from exc


def page_view(view: str) -> str:
    """`view` as a class shares it (core.classroom.view_of), refused unless it is the home page or a built page of
    this hub: followers' pages open it, so it must never lead them elsewhere."""
    view = classroom.view_of(view)
    slug = classroom.slug_of(view)
    if view.split("?")[0] != "/" + slug or (slug and not (slug in registry.BY_SLUG and registry.BY_SLUG[slug].built)):
        pages = ", ".join("/" + d.slug for d in registry.DEMOS if d.built)
        raise ClassError(f"{view[:60]!r} is not a page of this hub. A class shows / or one of: {pages}.")
    return view


def class_open(view: str = "/") -> dict:
    """Start a class on `view` (a page's path and query). Returns its state, `code` and the lecturer's `token`."""
    return classroom.store().open(page_view(view))


def class_state(code: str, member: str | None = None, following: bool = True, token: str | None = None) -> dict:
    """The class's view, version, how many follow, and its question (answers only after the reveal)."""
    return classroom.store().state(code, member, bool(following), token or None)


def class_set(code: str, token: str, action: str = "view", view: str | None = None, question: str = "",
              options: Any = None, answer: int | None = None) -> dict:
    """The lecturer's requests, all with the token: `view` (move everyone to `view`), `ask` (a question with 2 to
    6 options), `ask_page` (the page's own question for the class's view), `reveal` (optionally naming the
    answer's option index), `end_poll`, `close`."""
    s = classroom.store()
    if action not in ACTIONS:
        raise ClassError(f"Unknown action {action!r}. Choose one of: {', '.join(ACTIONS)}.")
    if action == "view":
        if not view:
            raise ClassError("Give the view to share: a page's path and query (its link without the host).")
        return s.set_view(code, token, page_view(view))
    if action == "ask":
        return s.ask(code, token, question, options, answer)
    if action == "ask_page":
        where = s.state(code, token=token)["view"]  # checks the token before any model work
        q = page_question(where)
        return s.ask(code, token, q["question"], q["options"], q["answer"], q.get("explain", ""), source="page")
    if action == "reveal":
        return s.reveal(code, token, answer)
    if action == "end_poll":
        return s.end_poll(code, token)
    return s.close(code, token)


def class_vote(code: str, member: str, option: int, poll: int | None = None) -> dict:
    """One anonymous vote from this browser (`member`: its random id) for option index `option`."""
    return classroom.store().vote(code, member, option, poll)


def class_results(code: str, token: str | None = None) -> dict:
    """The class's questions as anonymous counts; answers once revealed (the token shows them before)."""
    return classroom.store().results(code, token or None)


def export_record(code: str | None) -> dict | None:
    """The class part of a page's JSON export: its code and questions with their results (no token, no ids)."""
    if not code:
        return None
    try:
        return class_results(code)
    except ClassError:
        return None
