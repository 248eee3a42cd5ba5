"""Grad-CAM page for Streamlit (the same logic as the Gradio page). Run via streamlit_app.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.gradcam import logic
from apps.streamlit_common import (
    PageView,
    captioned,
    compute_or_last,
    link_to,
    load_model,
    sample_or_upload,
    sample_param,
    top5_chart,
)
from core import api, explainer, models, share

HERE = Path(__file__).parent

st.title("🔥 Grad-CAM: where does the network look?")
st.write("Pick an image. The heatmap shows which regions raised the score of the chosen class.")
LAYER_LABELS = {v: k for k, v in logic.LAYER_KEYS.items()}
image_state, image_param = sample_param(logic.SAMPLES)


def _to_state(name: str) -> int:
    """A link's image: a gallery thumbnail, or an image another page handed over (FGSM's adversarial one),
    shown until a thumbnail is picked."""
    index = image_state(name) if name in logic.SAMPLES else int(st.session_state.get("gc_sample", 0))
    st.session_state["gc_handed"] = None if name in logic.SAMPLES else (name, index)
    return index


def _to_param(index) -> str | None:
    handed = st.session_state.get("gc_handed")
    return handed[0] if handed else image_param(index)


page = PageView(logic.VIEW, {"image": "gc_sample", "model": "gc_model", "method": "gc_a", "compare": "gc_b",
                             "target": "gc_target", "layer": "gc_layer", "alpha": "gc_alpha"},
                to_state={"image": _to_state, "layer": lambda k: LAYER_LABELS.get(k, k)},
                to_param={"image": _to_param, "layer": lambda lab: logic.LAYER_KEYS.get(lab, lab)},
                upload_key="gc_upload")
page.open()
handed = st.session_state.get("gc_handed")
if handed and (st.session_state.get("gc_sample") != handed[1] or share.SHELF.get(handed[0]) is None):
    st.session_state["gc_handed"] = handed = None  # a thumbnail was picked (or the server let the image go)

left, right = st.columns([1, 2], gap="large")
with left:
    source, sample, upload = sample_or_upload(logic.SAMPLES, "gc", "cat",
                                              ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"])
    if handed and upload is None:
        source = share.SHELF.get(handed[0])
        st.info("Showing the adversarial image FGSM handed over. Pick a thumbnail to go back to the gallery.")
    model = st.selectbox("Model", logic.MODEL_CHOICES, format_func=lambda m: models.MODELS[m].title, key="gc_model")
    method_keys = list(logic.METHODS)
    method_a = st.selectbox("Method (left)", method_keys, format_func=lambda k: logic.METHODS[k][1], key="gc_a")
    method_b = st.selectbox("Method (right)", ["none"] + method_keys,
                            format_func=lambda k: "none" if k == "none" else logic.METHODS[k][1], key="gc_b")
    target = st.text_input("Target class (empty = top-1; a name like 'tabby' or an index)", key="gc_target")
    st.session_state["gc_layer"] = logic.layer_label(model, st.session_state.get("gc_layer"))  # this model's
    layer = st.selectbox("Target layer", [c[0] for c in logic.layer_choices(model)], key="gc_layer")
    alpha = st.slider("Heatmap opacity", 0.0, 1.0, step=0.05, key="gc_alpha")


def compute(source, model, method_a, method_b, target, layer):
    load_model(model)
    bar = st.progress(0.0, text="Computing…")  # Score-CAM fills it channel by channel; the others are quick
    two = method_b not in ("none", method_a)

    spans = logic.progress_spans([method_a, method_b] if two else [method_a])

    def part(k: int):  # Score-CAM's channel count drives the bar over its share (see progress_spans)
        start, width = spans[k]
        return lambda f, text: bar.progress(min(1.0, start + f * width), text=text)

    try:
        a = logic.explain(source, model, method_a, target or None, layer, progress=part(0))
        results = [a]
        if two:
            results.append(logic.explain(a.image, model, method_b, a.target["index"], layer, progress=part(1)))
        return results, logic.faithfulness(a)
    finally:
        bar.empty()


def show(results, faith, alpha) -> None:
    a = results[0]
    st.markdown(f"**Model:** {a.model_label}")
    for notice in a.notices:
        st.warning(notice)
    st.markdown(f"Explaining **{a.target['label']}** (class {a.target['index']})")
    cols = st.columns(3)
    cols[0].image(a.model_input, **captioned("Model input (whole image, no crop)"), width="stretch")
    for col, r in zip(cols[1:], results):
        col.image(r.overlay(alpha), **captioned(f"{logic.METHODS[r.method][1].split(' (')[0]} · {r.target['label']}"),
                  width="stretch")
    st.subheader("Top-5 predictions")
    top5_chart(a.top5)
    st.markdown(logic.faithfulness_text(faith))
    st.download_button("⬇️ Download comparison PNG", lambda: logic.compare_png(results, alpha), "gradcam.png",
                       "image/png")
    with st.container(key="gc-timing"):  # keyed: screenshot tests mask this live number
        st.caption(f"computed in {sum(r.elapsed_ms for r in results):.0f} ms on {a.device}")


with right:
    shown = compute_or_last("gradcam", lambda: compute(source, model, method_a, method_b, target, layer))
    if shown is not None:
        show(*shown, alpha)



def links(values: dict) -> None:
    """SAM with a click at the heat peak, and the ViT patch viewer, on the same gallery image."""
    if shown is None or values["image"] not in logic.SAMPLES:
        st.caption("✂️ 🧩 Segment what the network looks at, or see the image as a Vision Transformer does: open "
                   "SAM prompting or the ViT patch viewer and upload the same image there.")
        return
    link_to("sam", "Segment what the network looks at (SAM, a click at the heat peak, a box round the hot region)",
            "✂️", image=values["image"], prompt=logic.sam_prompt(shown[0][0]))
    vit_values, vit_text = logic.vit_link(values["image"])
    link_to("vit_patches", vit_text, "🧩", **vit_values)


page.close(record=lambda: logic.api_payload(shown[0][0], api.Clock(), alpha) if shown else {}, links=links)
with st.expander("How Grad-CAM works (and what it cannot tell you)"):
    st.markdown(explainer.load(HERE))
