"""The live class in the Streamlit hub: the same class store and requests as the Gradio hub (apps/class_common.py).

What differs from Gradio, and why:
- The bar is a fragment that reruns every second (`st.fragment(run_every=...)`): Streamlit has no route a page
  script could poll, and a fragment reruns alone, without the page's own script.
- A follower takes the lecturer's view by switching to her page with her link's settings (`st.switch_page`),
  which runs the page as a link opened; the result caches make that cheap.
- The lecturer's token lives in her Streamlit session, on the server: a reload of her tab starts a new session,
  which is no longer the lecturer (the class goes on; learners keep following its last view).
- A browser is told apart by Streamlit's XSRF cookie when there is one (a vote per browser), else by its session.
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import parse_qsl, urlsplit

import streamlit as st

from apps import class_common, registry
from core import classroom
from core.classroom import ClassError

STATE = "gb_class"  # {code, token or None, following, applied: the class view this session last took}


def _member() -> str:
    cookie = (st.context.cookies or {}).get("_streamlit_xsrf")
    if cookie:
        return hashlib.sha256(cookie.encode()).hexdigest()[:32]
    if "gb_member" not in st.session_state:
        st.session_state["gb_member"] = secrets.token_hex(16)
    return st.session_state["gb_member"]


def join_from_link() -> None:
    """/?class=K7Q2 on any page: this session joins and follows (the code leaves the address)."""
    code = str(st.query_params.get(classroom.CLASS_KEY, "") or "").upper()
    if code:
        st.session_state[STATE] = {"code": "".join(c for c in code if c.isalnum())[:8], "token": None,
                                   "following": True, "applied": None}
        del st.query_params[classroom.CLASS_KEY]


def lecturer() -> dict | None:
    me = st.session_state.get(STATE)
    return me if me and me.get("token") else None


def start(view: str) -> None:
    """The "Start a live class" button's callback."""
    try:
        s = class_common.class_open(view)
    except ClassError as exc:
        st.session_state["gb_class_error"] = str(exc)
        return
    st.session_state[STATE] = {"code": s["code"], "token": s["token"], "following": True, "applied": s["view"]}


def moved(view: str) -> None:
    """A page's settings changed (PageView.close): a lecturer's class follows her view."""
    me = lecturer()
    if me is None or me.get("pushed") == view:
        return
    try:
        class_common.class_set(me["code"], me["token"], "view", view)
        me["pushed"] = view
    except ClassError as exc:
        st.session_state["gb_class_error"] = str(exc)


def start_button(view: str) -> None:
    """Under a page's link: start a class on this view (nothing when this session is in one already)."""
    if st.session_state.get(STATE):
        return
    st.button("🏫 Start a live class on this view", key="gb_class_start", on_click=start, args=(view,),
              help="Learners join with a code or a QR code, follow your view and answer your questions.")
    if "gb_class_error" in st.session_state:
        st.warning(st.session_state.pop("gb_class_error"))


def _follow(s: dict, me: dict) -> None:
    """Take the lecturer's view when it changed: switch to its page with its settings."""
    if me.get("token") or not me["following"] or me.get("applied") == s["view"]:
        return
    me["applied"] = s["view"]
    path, _, query = s["view"].partition("?")
    slug = path.strip("/")
    params = dict(parse_qsl(query, keep_blank_values=True))
    if slug in registry.BY_SLUG and registry.BY_SLUG[slug].built:
        st.switch_page(f"apps/{slug}/page_streamlit.py", query_params=params)
    elif not slug:
        st.switch_page("streamlit_app.py")


def _poll(p: dict, me: dict) -> None:
    st.markdown(f"**Question:** {p['question']}  ·  **{p['votes']} vote{'' if p['votes'] == 1 else 's'}**"
                f"{'' if p['revealed'] else ' so far'}")
    votes = st.session_state.setdefault("gb_class_votes", {})
    mine = votes.get(f"{me['code']}#{p['id']}")
    if "counts" in p:  # revealed, or the lecturer's view of the votes coming in
        total = max(1, sum(p["counts"]))
        for i, (o, n) in enumerate(zip(p["options"], p["counts"])):
            right = p.get("revealed") and p.get("answer") == i
            st.progress(n / total, text=f"{'✅ ' if right else ''}{o}: {n} ({n / total:.0%})")
    elif mine is None and not me.get("token"):
        cols = st.columns(min(len(p["options"]), 5))
        for i, o in enumerate(p["options"]):
            if cols[i % len(cols)].button(o, key=f"gb_vote_{p['id']}_{i}", width="stretch"):
                try:
                    class_common.class_vote(me["code"], _member(), i, p["id"])
                except ClassError as exc:
                    st.warning(str(exc))
                votes[f"{me['code']}#{p['id']}"] = i
                st.rerun(scope="fragment")
    elif mine is not None:
        st.markdown(f"Your vote: **{p['options'][mine]}**. The answer comes when the lecturer reveals it.")
    if p.get("revealed"):
        who = "The model's answer" if p["source"] == "page" else "The answer"
        answer = "" if p.get("answer") is None else f"{who}: **{p['answer_text']}**. "
        st.success(f"{answer}{p.get('explain', '')}")


def _lecturer_tools(s: dict, me: dict) -> None:
    code, token = me["code"], me["token"]

    def do(action: str, **kw) -> None:
        try:
            class_common.class_set(code, token, action, **kw)
        except ClassError as exc:
            st.session_state["gb_class_error"] = str(exc)

    p = s["poll"]
    cols = st.columns(4)
    if p and not p["revealed"]:
        cols[0].button("Reveal the answer", key="gb_class_reveal", on_click=do, args=("reveal",))
    elif p:
        cols[0].button("Close the question", key="gb_class_endpoll", on_click=do, args=("end_poll",))
    cols[1].button("Ask this page's question", key="gb_class_askpage", on_click=do, args=("ask_page",))
    if cols[3].button("End class", key="gb_class_close"):
        do("close")
        st.session_state.pop(STATE, None)
        st.rerun(scope="app")
    with cols[2].popover("Ask a question"):
        q = st.text_input("Question", "What will the model answer?", max_chars=classroom.MAX_QUESTION,
                          key="gb_class_q")
        opts = st.text_area(f"Options, one per line (2 to {classroom.MAX_OPTIONS})", key="gb_class_opts")
        if st.button("Ask", key="gb_class_ask"):
            do("ask", question=q, options=opts)
    if "gb_class_error" in st.session_state:
        st.warning(st.session_state.pop("gb_class_error"))


@st.fragment(run_every=classroom.POLL_SECONDS)
def _bar() -> None:
    me = st.session_state.get(STATE)
    if not me:
        return
    try:
        s = class_common.class_state(me["code"], None if me.get("token") else _member(), me["following"],
                                     me.get("token"))
    except ClassError as exc:  # the class ended (or was never there)
        st.session_state.pop(STATE, None)
        st.warning(f"Class {me['code']}: {exc}")
        return
    _follow(s, me)
    with st.container(border=True, key="gb_class_bar"):
        if me.get("token"):
            url = urlsplit(str(st.context.url or ""))
            link = class_common.join_link(me["code"], f"{url.scheme}://{url.netloc}" if url.netloc else "")
            left, right = st.columns([3, 1])
            left.markdown(f"🏫 **Class code: `{me['code']}`** · join at {link} · {s['following']} following · "
                          f"{s['learners']} in class")
            right.markdown(f'<img src="{class_common.qr_svg(link)}" width="160" height="160" '
                           f'alt="QR code of the join link {link}">', unsafe_allow_html=True)
            _lecturer_tools(s, me)
        else:
            left, right = st.columns([3, 1])
            mode = "Following the lecturer's view" if me["following"] else "Exploring on your own"
            left.markdown(f"🏫 **Class `{me['code']}`** · {mode} · {s['following']} following")
            if right.button("Explore on my own" if me["following"] else "Follow again", key="gb_class_toggle"):
                me["following"] = not me["following"]
                me["applied"] = None if me["following"] else me.get("applied")
                st.rerun(scope="fragment")
        if s["poll"]:
            _poll(s["poll"], me)


def bar() -> None:
    """The class bar at the top of every page (nothing when this session is in no class)."""
    join_from_link()
    if st.session_state.get(STATE):
        _bar()


def export_record(record):
    """A page's JSON export record with the class's questions and results added (when in a class)."""
    me = st.session_state.get(STATE)
    live = class_common.export_record(me["code"]) if me else None
    if record is None or not live:
        return record
    return lambda: {**record(), "live_class": live}
