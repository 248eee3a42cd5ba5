"""What the Streamlit pages share: model loading, pickers with thumbnails, clickable pictures, and
keeping the last good result on screen beside an error."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import numpy as np
import streamlit as st

from apps import registry, streamlit_class
from apps.registry import DEMOS
from core import images, lane, models, share, warmup


@st.cache_resource(show_spinner=False)
def start_warmup() -> bool:
    """Once per server process (not per session): the demos' warm-ups, as the Gradio hub runs them, so
    the first visit of a page finds its model loaded and its default example computed."""
    warmup.start([d.warmup for d in DEMOS if d.built and d.warmup])
    return True


def warming_text(slug: str, left: list[str]) -> tuple[float, str] | None:
    """(share done, sentence) while the start-up warm-up has not finished this page's warm-up (left: the
    warm-ups still to run, the first running); None when this page is warm."""
    refs = [d.warmup for d in DEMOS if d.built and d.warmup]
    mine = next((d.warmup for d in DEMOS if d.slug == slug), None)
    if mine not in left:
        return None
    done = len(refs) - len(left)
    now = next((d.title for d in DEMOS if d.warmup == left[0]), left[0])
    return done / max(len(refs), 1), (f"⏳ The hub is getting its models ready after a start: {done} of {len(refs)} "
                                      f"pages warm (now: {now}). This page follows; later visits are quick.")


def warming_notice(slug: str):
    """A progress bar while the hub's start-up warm-up has not reached this page yet (the page waits behind it
    for the same models: a first visit right after a start took 10 to 30 s with no sign of why). Returns the
    bar's placeholder, to clear once the page is drawn, or None when this page is warm."""
    said = warming_text(slug, warmup.pending())
    if said is None:
        return None
    bar = st.empty()
    bar.progress(said[0], text=said[1])
    return bar


def load_model(name: str) -> None:
    """Load the model into core's one bounded cache (shared by every session, GLASSBOX_MAX_MODELS applies) on the
    compute lane, with a spinner while that takes a moment. Nothing comes back: with GLASSBOX_BACKEND=ray the
    model stays on the replica that loaded it."""
    def warm() -> None:
        models.load(name)

    with st.spinner("Loading the model (first time only)…"):
        lane.run(warm, "load_model")


def top5_chart(top5: list[dict], height: int = 220) -> None:
    """Horizontal probability bars on a fixed 0..1 axis, so before/after charts compare honestly."""
    import altair as alt

    data = alt.Data(values=[{"class": f"{t['label']} ({t['index']})", "probability": t["prob"]} for t in top5])
    chart = alt.Chart(data).mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        y=alt.Y("class:N", sort="-x", title=None),
        tooltip=["class:N", alt.Tooltip("probability:Q", format=".2%")],
    ).properties(height=height)
    st.altair_chart(chart, width="stretch")


# --- pickers ------------------------------------------------------------------------------------

def sample_or_upload(samples: dict[str, Any], key: str, default: str, types: list[str]) -> tuple[Any, str, Any]:
    """The sample thumbnails and the upload box an image page starts with: (the image to use: the upload's
    bytes when there is one, else the chosen sample's path; the sample's name; the upload or None).
    Session keys: f"{key}_sample" (the thumbnail chosen) and f"{key}_upload"."""
    names = list(samples)
    st.caption("Sample image")
    sample = names[thumbnail_picker([(n, samples[n]) for n in names], f"{key}_sample", names.index(default))]
    upload = st.file_uploader("…or upload an image (max 20 MB)", type=types, key=f"{key}_upload")
    return (upload.getvalue() if upload is not None else samples[sample]), sample, upload


def captioned(text: str) -> dict:
    """st.image's caption and the same words as its alt text: Streamlit never turns a caption into alt text, and a
    picture without it is skipped by a screen reader (WCAG 1.1.1). The captions say what each picture shows."""
    return {"caption": text, "alt": text}


def _square(rgb: np.ndarray, side: int) -> np.ndarray:
    """The centre square, at side pixels: every thumbnail the same shape, so the buttons line up."""
    from PIL import Image

    h, w = rgb.shape[:2]
    k = min(h, w)
    crop = rgb[(h - k) // 2:(h - k) // 2 + k, (w - k) // 2:(w - k) // 2 + k]
    if k < side:  # tiny inputs (64-pixel digits) are enlarged crisply
        return images.enlarge(crop, side)
    return np.asarray(Image.fromarray(crop).resize((side, side), Image.Resampling.LANCZOS))


@lru_cache(maxsize=64)
def _thumb(path: str, side: int) -> np.ndarray:
    return _square(images.load_image(path), side)


def thumbnail_picker(items: list[tuple[str, Any]], key: str, default: int = 0, columns: int = 3,
                     side: int = 160) -> int:
    """A grid of thumbnails with a button under each; returns the index chosen (kept per session).

    Sources are file paths (thumbnails cached) or numpy images; each shows as a centred square.
    """
    if key not in st.session_state:
        st.session_state[key] = default

    def choose(i: int) -> None:
        st.session_state[key] = i

    chosen = int(st.session_state[key])
    cols = st.columns(columns)
    for i, (name, source) in enumerate(items):
        with cols[i % columns]:
            thumb = _square(source, side) if isinstance(source, np.ndarray) else _thumb(str(source), side)
            st.image(thumb, width="stretch", alt=f"Thumbnail: {name}")
            st.button(name, key=f"{key}_{i}", on_click=choose, args=(i,), width="stretch",
                      type="primary" if i == chosen else "secondary")
    return chosen


def picture_picker(images_: list[np.ndarray], key: str, default: int = 0, columns: int = 4, side: int = 96,
                   width: int = 240) -> int:
    """Small images as one clickable sheet, the chosen one outlined; returns the index chosen. For many
    small pictures where a button under each would not fit (the ViT page's digits)."""
    from PIL import Image

    st.session_state.setdefault(key, default)
    rows = -(-len(images_) // columns)
    tile = side + 4  # a white gap between tiles
    sheet = Image.new("RGB", (columns * tile, rows * tile), "white")
    for i, rgb in enumerate(images_):
        r, c = divmod(i, columns)
        sheet.paste(Image.fromarray(_square(rgb, side)), (c * tile, r * tile))

    def choose() -> None:
        cell = clicked_cell(st.session_state.get(f"{key}_sheet"), len(images_))
        if cell is not None:
            st.session_state[key] = cell

    st.plotly_chart(grid_figure(np.asarray(sheet), rows, columns, (tile, tile), marked=st.session_state[key],
                                width=width),
                    key=f"{key}_sheet", on_select=choose, selection_mode="points", width="content",
                    config={"displayModeBar": False})
    return int(st.session_state[key])


# --- clickable pictures -------------------------------------------------------------------------

def _display_url(picture: np.ndarray) -> str:
    """A data URL for showing a picture: PNG when that is small (flat colours, sheets of thumbnails), else a
    high-quality JPEG (photos)."""
    import base64
    import io

    from PIL import Image

    png = images.to_png_bytes(picture)
    if len(png) <= 150_000:
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="JPEG", quality=92)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def grid_figure(picture: np.ndarray, rows: int, cols: int, cell: tuple[float, float], origin=(0.0, 0.0),
                marked: int | None = None, width: int = 320):
    """A picture drawn `width` pixels wide, with an invisible clickable marker on every cell of a rows x cols
    grid on it (cell = (width, height) in the picture's pixels, origin = the grid's top-left corner).
    Streamlit reports a click on a marker as a selected point, whose index is the cell (row-major).

    Show it with st.plotly_chart(..., width="content"): the figure's size is fixed, so each marker can be
    exactly as big as its cell on screen (plotly picks the marker under the pointer; markers bigger than
    their cells would overlap and tie, smaller ones would leave dead corners)."""
    import plotly.graph_objects as go

    h, w = picture.shape[:2]
    scale = width / w
    cw, ch = cell
    ox, oy = origin
    rr, cc = np.divmod(np.arange(rows * cols), cols)
    xs, ys = ox + (cc + 0.5) * cw - 0.5, oy + (rr + 0.5) * ch - 0.5  # go.Image puts pixel centres on integers
    # The picture as one compressed image, not as z: plotly writes z as a number per channel per pixel (1 MB of
    # JSON for a 600 x 400 photo, sent and parsed again on every click); a JPEG of it is some 50 KB.
    fig = go.Figure(go.Image(source=_display_url(picture), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", hoverinfo="none", showlegend=False,
                             marker={"size": max(4.0, 0.98 * min(cw, ch) * scale), "symbol": "square",
                                     "color": "rgba(0,0,0,0.01)"},
                             selected={"marker": {"color": "rgba(255,140,0,0.3)"}},
                             unselected={"marker": {"opacity": 0.01}}))
    if marked is not None:
        r, c = divmod(int(marked), cols)
        fig.add_shape(type="rect", x0=ox + c * cw - 0.5, x1=ox + (c + 1) * cw - 0.5, y0=oy + r * ch - 0.5,
                      y1=oy + (r + 1) * ch - 0.5, line={"color": "#ff8c00", "width": 3})
    fig.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0, "pad": 0}, clickmode="event+select", dragmode=False,
                      width=width, height=int(round(h * scale)), autosize=False,
                      xaxis={"visible": False, "range": [-0.5, w - 0.5], "fixedrange": True},
                      yaxis={"visible": False, "range": [h - 0.5, -0.5], "fixedrange": True})
    return fig


def clicked_cell(event: Any, n: int) -> int | None:
    """The cell a grid_figure click chose (None when nothing is selected or it no longer exists)."""
    try:
        points = event.selection.points
    except AttributeError:
        return None
    for p in points:
        if p.get("curve_number") == 1 and 0 <= int(p.get("point_index", -1)) < n:
            return int(p["point_index"])
    return None


# --- errors keep the last good result -------------------------------------------------------------

def compute_or_last(key: str, compute: Callable[[], Any]) -> Any:
    """compute(); on a user error, the message and this session's last good result (None if none yet).

    Streamlit reruns the whole script: without this an error would wipe the page (st.stop() also hid the
    explainer and the footer). Kept in session_state, so one learner's result never reaches another.
    """
    from core.errors import UserError

    try:
        value = compute()
    except UserError as exc:
        st.error(f"⚠️ {exc}")
        value = st.session_state.get(f"_last_{key}")
        if value is not None:
            st.caption("Below: the last result that worked, kept for comparison.")
        return value
    st.session_state[f"_last_{key}"] = value
    return value


# --- links, lecture mode, lessons, export ------------------------------------------------------------

# Streamlit cannot bind keys itself; a zero-height component's script (same origin as the page) listens on
# the page's document and presses the lesson's buttons. Controls that use the arrow keys keep them.
_ARROW_KEYS_JS = """<script>
// This script's own frame is empty and 0 px tall: it must not be a stop for the Tab key (WCAG 2.4.3).
if (window.frameElement) { window.frameElement.tabIndex = -1; window.frameElement.title = "lesson keys"; }
const doc = window.parent.document;
if (!doc.gbLessonKeys) {
  doc.gbLessonKeys = true;
  doc.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    // A control that uses the arrow keys itself (a field, a slider, a radio group, tabs) keeps them.
    if (t && t.closest && t.closest("ARROW_KEY_CONTROLS")) return;
    const cls = e.key === "ArrowRight" ? ".st-key-gb_lesson_next button" : e.key === "ArrowLeft" ?
      ".st-key-gb_lesson_prev button" : null;
    const b = cls && doc.querySelector(cls);
    if (b) { b.click(); e.preventDefault(); }
  });
}
</script>""".replace("ARROW_KEY_CONTROLS", share.ARROW_KEY_CONTROLS)

# Lecture mode: Streamlit sizes its text in rem, so a bigger root font scales all of it.
# Lecture mode on a 1024x768 projector: the page menu goes (a lecture moves by links and lesson steps, and at
# 1.5x text the menu left the page a column too narrow for its own Back / Next buttons), the page takes the width.
_LECTURE_CSS = """<style>
html {font-size: 150% !important;}
h1 {font-size: 2.2rem !important;}
.gb-advanced, .st-key-gb_advanced {display: none !important;}
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {display: none !important;}
[data-testid="stMainBlockContainer"], .block-container {max-width: 100% !important;
  padding: 4rem 1.25rem 2rem !important;}
.st-key-gb_lesson_prev button, .st-key-gb_lesson_next button {white-space: nowrap !important;
  min-width: max-content !important;}
</style>"""


def sample_param(samples: dict[str, Any]) -> tuple[Callable, Callable]:
    """(to_state, to_param) for a thumbnail picker's index and the gallery name a link carries."""
    names = list(samples)
    return (lambda name: names.index(name)), (lambda i: names[int(i)] if i is not None else None)


class PageView:
    """One Streamlit page's settings in its URL, plus the lecture toggle, the lesson stepper, the link to
    copy, the JSON export and cross-links: the same features as the Gradio pages' ShareBar.

    keys: setting name -> the session-state key of its widget. to_state / to_param convert a link's value
    to the widget's and back (a gallery name and the thumbnail's index). Call open() before the widgets
    (it writes a link's values into their state) and close() after them.
    """

    def __init__(self, view: share.View, keys: dict[str, str], to_state: dict[str, Callable] | None = None,
                 to_param: dict[str, Callable] | None = None, upload_key: str | None = None) -> None:
        assert list(keys) == view.names, f"{view.slug}: keys {list(keys)} != settings {view.names}"
        self.view, self.keys = view, keys
        self.to_state, self.to_param = to_state or {}, to_param or {}
        self.upload_key = upload_key  # with an upload in it, the image cannot go in the link
        self.slug = view.slug

    def _apply(self, values: dict) -> None:
        for name, value in values.items():
            st.session_state[self.keys[name]] = self.to_state[name](value) if name in self.to_state else value

    def _step(self, delta: int) -> None:
        beat = min(max(st.session_state.get(f"_{self.slug}_beat", -1) + delta, 0), len(self.view.lesson) - 1)
        st.session_state[f"_{self.slug}_beat"] = beat
        self._apply(self.view.beat_values(beat))

    def open(self) -> None:
        self._warming = warming_notice(self.slug)
        query = {k: st.query_params.get(k) for k in st.query_params}
        seen = st.session_state.get(f"_{self.slug}_query")
        # A link opened (or typed): its values win over what the widgets held. An address without settings
        # (the page picked from the menu) keeps this session's view and gets its link written below.
        if query and query != seen:
            values, notices, beat = self.view.open_link(query)
            st.session_state[f"_{self.slug}_beat"] = beat
            st.session_state["gb_lecture"] = share.lecture_on(query)
            self._apply(values)
            st.session_state[f"_{self.slug}_notices"] = notices
        for name, value in self.view.defaults().items():  # widgets read their value from state only
            if self.keys[name] not in st.session_state:
                self._apply({name: value})
        top = st.columns([1, 1, 1.6, 3], vertical_alignment="center")
        beat = st.session_state.get(f"_{self.slug}_beat", -1)
        if self.view.lesson:
            top[0].button("⬅️ Back", key="gb_lesson_prev", on_click=self._step, args=(-1,), width="stretch")
            top[1].button("Next ➡️", key="gb_lesson_next", on_click=self._step, args=(1,), type="primary",
                          width="stretch")
            import streamlit.components.v1 as components

            components.html(_ARROW_KEYS_JS, height=0)
        lecture = top[2].toggle("🎓 Lecture mode", key="gb_lecture")
        if self.view.lesson:
            with st.container(key="gb_lesson_text"):
                st.markdown(self.view.lesson_text(beat))
        if lecture:
            st.markdown(_LECTURE_CSS, unsafe_allow_html=True)

    def values(self) -> dict:
        out = {}
        for name, key in self.keys.items():
            v = st.session_state.get(key)
            out[name] = self.to_param[name](v) if name in self.to_param else v
        if self.upload_key and st.session_state.get(self.upload_key) is not None:
            out["image"] = None
        return out

    def follow(self, name: str, value) -> None:
        """A fragment (which reruns alone, without `close`) changed setting `name`: the address bar and this
        session's record of it follow, so the next full run does not read the address as a new link."""
        raw = str(self.to_param[name](value) if name in self.to_param else value)
        if st.query_params.get(name) != raw:
            st.query_params[name] = raw
            seen = st.session_state.get(f"_{self.slug}_query")
            if seen is not None:
                seen[name] = raw

    def close(self, record: Callable[[], dict] | None = None, links: Callable[[dict], None] | None = None) -> None:
        """After the widgets: the address bar follows them; then cross-links, the link, the JSON."""
        if getattr(self, "_warming", None) is not None:
            self._warming.empty()  # the page is computed: the warm-up bar has said what it had to
        values = self.values()
        lecture = bool(st.session_state.get("gb_lecture"))
        beat = st.session_state.get(f"_{self.slug}_beat", -1)
        on_beat = self.view.current_beat(values, beat)
        query = self.view.query(values, lecture, None if on_beat is None else on_beat + 1)
        from urllib.parse import parse_qsl

        wanted = dict(parse_qsl(query, keep_blank_values=True))
        if {k: st.query_params.get(k) for k in st.query_params} != wanted:
            st.query_params.from_dict(wanted)
        st.session_state[f"_{self.slug}_query"] = wanted
        st.divider()
        if links is not None:
            links(values)
        base = str(st.context.url or "").split("?")[0]
        st.caption("🔗 Link to this view (the copy button is at its right end; paste it into a slide)")
        st.code(f"{base}?{query}", language=None, wrap_lines=True)
        here = f"/{self.slug}?{query}"
        streamlit_class.moved(here)  # a lecturer's class follows her view
        streamlit_class.start_button(here)
        for n in st.session_state.get(f"_{self.slug}_notices", []):
            st.warning(n)
        for n in self.view.missing_notes(values):
            st.info(n)
        if self.view.note_when_missing and not self.view.missing_notes(values):
            st.caption(share.UPLOAD_HINT)
        record = streamlit_class.export_record(record)  # in a class: its questions and results go in too
        if record is not None:
            def build() -> str:  # a callable: built when the button is clicked, not on every rerun
                return share.export_view(self.view, values, lecture, record)

            st.download_button("⬇️ JSON of this view (settings, model, results, link)", build,
                               share.export_name(self.slug, values, ".json"), "application/json", key="gb_json")


def link_to(slug: str, label: str, icon: str, **values) -> None:
    """A link to another page of this hub that opens on the given settings, built from that page's View (a
    renamed setting fails here, not as a dead link)."""
    st.page_link(f"apps/{slug}/page_streamlit.py", label=label, icon=icon,
                 query_params=registry.view(slug).link_params(values))
