"""CLIP zero-shot page for Streamlit (the same logic as the Gradio page). Run via streamlit_app.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.clip_zero_shot import logic, tiny
from apps.streamlit_common import (
    PageView,
    captioned,
    compute_or_last,
    link_to,
    load_model,
    sample_or_upload,
    sample_param,
)
from core import api, explainer, models, share

HERE = Path(__file__).parent

st.title("🏷️ CLIP zero-shot: classify with labels you type")
st.write("Images and labels become vectors in one space; the label closest to the image wins.")
image_state, image_param = sample_param(logic.SAMPLES)
page = PageView(logic.VIEW, {"image": "clip_sample", "labels": "clip_labels", "model": "clip_model",
                             "templates": "clip_templates", "mode": "clip_mode", "threshold": "clip_threshold"},
                to_state={"image": image_state}, to_param={"image": image_param}, upload_key="clip_upload")
page.open()

left, right = st.columns([1, 2], gap="large")
with left:
    names = list(logic.SAMPLES)
    source, sample, upload = sample_or_upload(logic.SAMPLES, "clip", "cat", ["png", "jpg", "jpeg", "webp"])
    labels = st.text_area("Labels, one per line", height=160, key="clip_labels")
    templates = st.checkbox("Prompt templates ('a photo of a …', averaged over 8)", key="clip_templates")
    mode = st.radio("How to read the scores", list(logic.MODES), format_func=logic.MODES.get, key="clip_mode")
    threshold = st.slider("'None of these' line (each-on-its-own mode)", 0.0, 1.0, step=0.05, key="clip_threshold")
    model = st.selectbox("Model", logic.MODEL_CHOICES, format_func=lambda m: models.MODELS[m].title, key="clip_model")


def compute(source, labels, model, templates, mode):
    load_model(model)
    with st.spinner("Embedding…"):
        r = logic.classify(source, labels, model, templates, mode)
        matrix = logic.similarity_matrix([logic.SAMPLES[n] for n in names], r.labels, r.model, templates)
    return r, matrix


with right:
    shown = compute_or_last("clip", lambda: compute(source, labels, model, templates, mode))
    if shown is not None:
        r, matrix = shown
        st.markdown(f"**Model:** {r.model_label}")
        st.markdown(logic.verdict(r, threshold))
        if logic.stand_in_notice(r.model):
            st.info(logic.stand_in_notice(r.model))
        for note in r.notices:
            st.warning(note)
        st.plotly_chart(logic.bars_figure(r, threshold), width="stretch")
        st.download_button("⬇️ PNG of the image and its scores", lambda: logic.result_png(r),
                           share.export_name("clip_zero_shot", page.values(), ".png"), "image/png", key="clip_png")
        tab_matrix, tab_search, tab_learn = st.tabs(["Images × labels", "Text → image search", "How CLIP learns"])
        with tab_matrix:
            st.plotly_chart(logic.matrix_figure(names, r.labels, matrix), width="stretch")
        with tab_search:
            query = st.text_input("Search the gallery for", "a cup of coffee", key="clip_query")
            found = compute_or_last("clip_search", lambda: logic.retrieve(query, logic.SAMPLES, r.model, templates))
            if found:
                cols = st.columns(len(found))
                for i, (col, (name, score)) in enumerate(zip(cols, found)):
                    col.image(str(logic.SAMPLES[name]), **captioned(f"{i + 1}. {name} ({score:.2f})"), width="stretch")
        with tab_learn:
            st.markdown(logic.tiny_clip_text())
            record = tiny.record()
            st.image(tiny.probe_strip(),
                     **captioned("The recorded batch: 8 images (columns) and their captions (rows)"))
            last = len(record["steps"]) - 1
            k = st.select_slider("Recorded training step", list(range(last + 1)), last,
                                 format_func=lambda i: str(int(record["steps"][i])), key="clip_learn_step")
            st.plotly_chart(tiny.matrix_figure(k), width="stretch")
            st.plotly_chart(tiny.loss_figure(), width="stretch")
            st.plotly_chart(tiny.embedding_figure(), width="stretch")



def links(values: dict) -> None:
    if values["image"] is None:
        st.caption("🔥 Where does the classifier look? Open Grad-CAM and upload the same image there.")
    else:
        link_to("gradcam", f"Where does the classifier look? Grad-CAM on {values['image']}", "🔥",
                image=values["image"])


page.close(record=lambda: logic.api_payload(shown[0], api.Clock()) if shown is not None else {}, links=links)
with st.expander("How CLIP works (and what the offline stand-in is)"):
    st.markdown(explainer.load(HERE, logic.explainer_values()))
