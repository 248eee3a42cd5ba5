"""SAM prompting page for Streamlit (the same logic as the Gradio page). Run via streamlit_app.py.

Streamlit reports clicks on a chart, not on a picture, so the picture is a plotly figure with a fine grid of
invisible markers (streamlit_common.grid_figure): a click lands on the centre of the cell under the pointer.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.sam import editing, logic, scenes
from apps.streamlit_common import (
    PageView,
    captioned,
    clicked_cell,
    compute_or_last,
    grid_figure,
    load_model,
    sample_or_upload,
)
from core import api, explainer, images, models, share

HERE = Path(__file__).parent
GRID = 64  # click cells across the picture's longer side
MODES = editing.MODES

st.title("✂️ SAM prompting: click, get masks")
st.write("Click on an object (➕), click what should be left out (➖), or draw a box. The image is encoded once; "
         "every click after that only runs the small decoder.")
NAMES = list(logic.SAMPLES)


def _image_to_state(name: str) -> str:
    """A link's picture: a gallery photo or a generated scene (the widgets' own keys are set here)."""
    seed = scenes.seed_of(name)
    st.session_state["sam_use_scene"] = seed is not None
    if seed is not None:
        st.session_state["sam_seed"] = seed
    else:
        st.session_state["sam_sample"] = NAMES.index(name)
    st.session_state.pop("sam_source", None)  # a new picture, even if it is the one shown
    return name


def _image_param(_) -> str:
    if st.session_state.get("sam_use_scene"):
        return scenes.link_name(int(st.session_state.get("sam_seed", 0)))
    return NAMES[int(st.session_state.get("sam_sample", NAMES.index(logic.START_SAMPLE)))]


def _prompt_to_state(text: str) -> str:
    """A link's clicks and box replace the picture's own first click (empty: that first click)."""
    prompt = editing.from_link(text)
    if not editing.is_empty(prompt):
        st.session_state["sam_link_prompt"] = prompt
    return text


def _prompt_param(_) -> str:
    return editing.to_link(st.session_state.get("sam_prompt"))


page = PageView(logic.VIEW, {"image": "sam_link_image", "model": "sam_model", "prompt": "sam_link_prompt_text",
                             "multimask": "sam_multimask", "mask": "sam_choice"},
                to_state={"image": _image_to_state, "prompt": _prompt_to_state},
                to_param={"image": _image_param, "prompt": _prompt_param, "mask": int}, upload_key="sam_upload")
page.open()

left, right = st.columns([1, 2], gap="large")
with left:
    mode = st.radio("A click on the picture adds", list(MODES), format_func=MODES.get, key="sam_mode")
    b1, b2 = st.columns(2)
    undo = b1.button("Undo", key="sam_undo", width="stretch")
    clear = b2.button("Clear", key="sam_clear", width="stretch")
    # Streamlit's clickable picture is a plotly chart, which a keyboard cannot click: type where instead.
    with st.expander("⌨️ Click without a mouse"):
        k1, k2 = st.columns(2)
        typed_x = k1.number_input("x (pixels from the left)", 0, 100_000, key="sam_typed_x")
        typed_y = k2.number_input("y (pixels from the top)", 0, 100_000, key="sam_typed_y")
        typed = st.button("Click there", key="sam_typed_click", width="stretch")
    multimask = st.checkbox("Three candidates (multimask output, for ambiguous clicks)", key="sam_multimask")
    model = st.selectbox("Engine", logic.MODEL_CHOICES, format_func=lambda m: models.MODELS[m].short_name,
                         key="sam_model")
    use_scene = st.toggle("Generated scene instead of a photo", key="sam_use_scene")
    if use_scene:
        st.session_state.setdefault("sam_seed", 0)
        seed = int(st.number_input("Scene seed", 0, 2**31 - 1, key="sam_seed"))
        source, source_key = None, scenes.source_name(seed)
    else:
        source, sample, upload = sample_or_upload(logic.SAMPLES, "sam", logic.START_SAMPLE,
                                                  ["png", "jpg", "jpeg", "webp"])
        source_key = f"upload:{upload.file_id}" if upload is not None else f"sample:{sample}"


def picture():
    return logic.scene(scenes.seed_of(source_key)) if source is None else images.load_image(source)


rgb = compute_or_last("sam_image", picture)
state = st.session_state
if rgb is not None and state.get("sam_source") != source_key:  # a new picture: one click in its middle
    h, w = rgb.shape[:2]
    state.sam_source = source_key
    first = logic.first_click((h, w), None if source is None or upload is not None else sample,
                              scenes.seed_of(source_key))
    linked = state.pop("sam_link_prompt", None)  # a link's clicks (Grad-CAM's heat peak, a lesson step)
    state.sam_prompt = linked or {**editing.empty(), "points": [first]}
    if linked is None:
        state.sam_choice = -1
prompt = state.get("sam_prompt", editing.empty())
if clear:
    prompt = state.sam_prompt = editing.empty()
if undo:
    prompt = state.sam_prompt = editing.undo(prompt)
if typed and rgb is not None:  # the typed click, inside the picture, as the mode says
    h, w = rgb.shape[:2]
    state.sam_prompt, state.sam_refused = editing.click(prompt, min(int(typed_x), w - 1), min(int(typed_y), h - 1),
                                                        mode)
    prompt = state.sam_prompt
    if state.sam_refused is None:
        state.sam_choice = -1


def on_click() -> None:
    """A click on the picture (a marker of the grid): a point, or a corner of the box."""
    img = state.get("sam_shown")
    event = state.get("sam_canvas")
    if img is None or event is None:
        return
    h, w = img.shape[:2]
    cols, rows, cell = _grid(h, w)
    i = clicked_cell(event, rows * cols)
    if i is None:
        return
    r, c = divmod(i, cols)
    x, y = min(w - 1, (c + 0.5) * cell), min(h - 1, (r + 0.5) * cell)
    state.sam_prompt, state.sam_refused = editing.click(state.sam_prompt, x, y, state.sam_mode)
    if state.sam_refused is None:
        state.sam_choice = -1


def _grid(h: int, w: int) -> tuple[int, int, float]:
    cell = max(h, w) / GRID
    return max(1, round(w / cell)), max(1, round(h / cell)), cell


with right:
    result = None
    if rgb is not None and (prompt["points"] or prompt["box"] is not None):
        load_model(model)
        result = compute_or_last("sam", lambda: logic.segment(rgb, prompt["points"], prompt["box"], model,
                                                              multimask, scene=source is None))
    if rgb is None:
        st.info("Pick a sample image, a generated scene or upload one.")
    else:
        if state.get("sam_refused"):
            st.warning(state.pop("sam_refused"))
        choice = state.get("sam_choice", -1)
        if result is not None:
            k = choice if 0 <= choice < len(result.masks) else result.best
            st.markdown(f"**Engine:** {result.model_label}")
            st.caption(logic.engine_note(result.model))
            for note in result.notices:
                st.warning(note)
            st.markdown(logic.shown_text(result, k))
            if scenes.seed_of(source_key) is not None:
                st.markdown(logic.scene_score_text(scenes.seed_of(source_key), result.masks[k]))
            shown = logic.draw_prompt(result.image, result.prompt, result.masks[k], prompt["corner"])
        else:
            k = -1
            st.info("Now click the opposite corner of the box." if prompt["corner"] is not None
                    else "Click on an object to segment it.")
            shown = logic.draw_prompt(rgb, logic.Prompt([], None), None, prompt["corner"])
        state.sam_shown = shown
        h, w = shown.shape[:2]
        cols, rows, cell = _grid(h, w)
        st.plotly_chart(grid_figure(shown, rows, cols, (cell, cell), width=640), key="sam_canvas",
                        on_select=on_click, selection_mode="points", width="content",
                        config={"displayModeBar": False})
        if result is not None:
            shown_key = (result.model, logic.image_key(result.image))
            first_view = state.get("sam_timing_for") != shown_key  # a new picture: show its encode and its time
            state.sam_timing_for = shown_key
            st.markdown(logic.timing_text(result, first_view))
            tab_c, tab_e = st.tabs(["Candidates", "Everything mode"])
            with tab_c:
                strip = logic.candidates_strip(result)
                # Pictures in one row, buttons in the next: under captions of different lengths the buttons
                # would sit at different heights.
                for col, (pic, caption) in zip(st.columns(len(strip)), strip):
                    col.image(pic, **captioned(caption), width="stretch")
                for i, col in enumerate(st.columns(len(strip))):
                    if col.button(f"Choose #{i + 1}", key=f"sam_pick_{i}", width="stretch"):
                        state.sam_choice = i
                        st.rerun()
                c1, c2 = st.columns(2)
                c1.image(logic.cutout(result.image, result.masks[k]), **captioned("Cut-out (transparent outside)"),
                         width=260)
                c2.download_button("⬇️ Mask PNG (white inside)", images.to_png_bytes(logic.mask_png(result.masks[k])),
                                   file_name=share.export_name("sam", page.values(), f"-mask{k + 1}.png"),
                                   mime="image/png",
                                   key="sam_download")
            with tab_e:
                if st.button("Segment everything (a grid of clicks)", key="sam_everything"):
                    bar = st.progress(0.0, text="Prompting the grid…")
                    found = logic.everything(rgb, model, progress=lambda i, n: bar.progress(i / n,
                                                                                            text=f"prompt {i} of {n}"))
                    bar.empty()
                    st.markdown(f"**{len(found)} masks** from an {logic.EVERYTHING_GRID} × {logic.EVERYTHING_GRID} "
                                f"grid of clicks (repeats with IoU above {logic.DEDUPE_IOU} dropped).")
                    st.image(logic.everything_picture(rgb, found), width=640,
                             alt=f"Everything mode: {len(found)} masks found, each in its own colour over the picture")

page.close(record=lambda: logic.api_payload(result, api.Clock()) if result is not None else {})
with st.expander("How SAM works (and what each engine here is)"):
    st.markdown(explainer.load(HERE, logic.explainer_values()))
