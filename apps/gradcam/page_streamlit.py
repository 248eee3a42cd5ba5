"""Grad-CAM page for Streamlit (the same logic as the Gradio page). Run via streamlit_app.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.gradcam import logic
from apps.streamlit_common import compute_or_last, load_model, sample_or_upload, top5_chart
from core import explainer, models

HERE = Path(__file__).parent

st.title("🔥 Grad-CAM: where does the network look?")
st.write("Pick an image. The heatmap shows which regions raised the score of the chosen class.")

left, right = st.columns([1, 2], gap="large")
with left:
    names = list(logic.SAMPLES)
    linked = st.query_params.get("image")  # a link from another page names a gallery sample
    if linked in names and st.session_state.get("gc_linked") != linked:
        st.session_state["gc_sample"], st.session_state["gc_linked"] = names.index(linked), linked
    source, sample, upload = sample_or_upload(logic.SAMPLES, "gc", "cat",
                                              ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"])
    model = st.selectbox("Model", logic.MODEL_CHOICES, format_func=lambda m: models.MODELS[m].title, key="gc_model")
    method_keys = list(logic.METHODS)
    method_a = st.selectbox("Method (left)", method_keys, format_func=lambda k: logic.METHODS[k][1], key="gc_a")
    method_b = st.selectbox("Method (right)", ["none"] + method_keys, index=2,
                            format_func=lambda k: "none" if k == "none" else logic.METHODS[k][1], key="gc_b")
    target = st.text_input("Target class (empty = top-1; a name like 'tabby' or an index)", key="gc_target")
    layers = logic.layer_choices(model)
    layer = st.selectbox("Target layer", [c[0] for c in layers], key=f"gc_layer_{model}")
    alpha = st.slider("Heatmap opacity", 0.0, 1.0, 0.5, 0.05, key="gc_alpha")


def compute(source, model, method_a, method_b, target, layer):
    load_model(model)
    bar = st.progress(0.0, text="Computing…")  # Score-CAM fills it channel by channel; the others are quick
    two = method_b not in ("none", method_a)

    def part(k: int):
        share = 0.5 if two else 1.0
        return lambda f, text: bar.progress(min(1.0, k * share + f * share), text=text)

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
    if upload is None:
        x, y = logic.heat_peak(a)
        st.page_link("apps/sam/page_streamlit.py", label="Segment what the network looks at (SAM, click at the "
                     "heat peak)", icon="✂️", query_params={"image": sample, "x": str(x), "y": str(y)})
    else:
        st.caption("✂️ Segment what the network looks at: open SAM prompting and upload the same image there.")
    cols = st.columns(3)
    cols[0].image(a.model_input, caption="Model input (whole image, no crop)", width="stretch")
    for col, r in zip(cols[1:], results):
        col.image(r.overlay(alpha), caption=f"{logic.METHODS[r.method][1].split(' (')[0]} · {r.target['label']}",
                  width="stretch")
    st.subheader("Top-5 predictions")
    top5_chart(a.top5)
    st.markdown(logic.faithfulness_text(faith))
    st.download_button("⬇️ Download comparison PNG", logic.compare_png(results, alpha), "gradcam.png", "image/png")
    with st.container(key="gc-timing"):  # keyed: screenshot tests mask this live number
        st.caption(f"computed in {sum(r.elapsed_ms for r in results):.0f} ms on {a.device}")


with right:
    shown = compute_or_last("gradcam", lambda: compute(source, model, method_a, method_b, target, layer))
    if shown is not None:
        show(*shown, alpha)

with st.expander("How Grad-CAM works (and what it cannot tell you)"):
    st.markdown(explainer.load(HERE))
