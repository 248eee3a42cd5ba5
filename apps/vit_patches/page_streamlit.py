"""ViT patch viewer page for Streamlit (the same logic as the Gradio page). Run via streamlit_app.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.streamlit_common import load_model, top5_chart
from apps.vit_patches import data, logic
from core import explainer, models
from core.errors import UserError

HERE = Path(__file__).parent
GALLERY = data.saved_gallery()



st.title("🧩 ViT patch viewer: from pixels to tokens to attention")
left, right = st.columns([1, 3], gap="large")
with left:
    pick = st.selectbox("Generated test image", list(range(len(GALLERY))),
                        format_func=lambda i: f"#{i}: digit {GALLERY[i].label}", key="vit_pick")
    upload = st.file_uploader("…or upload an image", type=["png", "jpg", "jpeg", "webp"], key="vit_upload")
    model = st.selectbox("Model", logic.MODEL_CHOICES, format_func=lambda m: models.MODELS[m].title, key="vit_model")

source = upload.getvalue() if upload is not None else GALLERY[pick].image
try:
    load_model(model)
    r = logic.inspect(source, model)
except UserError as exc:
    st.error(f"⚠️ {exc}")
    st.stop()

with left:
    layer = st.slider("Layer", 0, r.n_layers - 1, r.n_layers - 1, key="vit_layer")
    head_choice = st.selectbox("Head", ["mean over heads"] + [f"head {h}" for h in range(r.n_heads)], key="vit_head")
    head = None if head_choice == "mean over heads" else int(head_choice.split()[-1])
    patch = st.number_input("Patch to inspect", 0, r.num_patches - 1, r.num_patches // 2, key="vit_patch")
    if r.top5:
        top5_chart(r.top5, height=180)

with right:
    st.markdown(f"**Model:** {r.model_label}")
    for note in r.notices:
        st.warning(note)
    tabs = st.tabs(["Patches", "Embeddings (PCA)", "Positions", "Attention", "Distance"])
    with tabs[0]:
        p = st.slider("Patch size of the grid", 2, 64, r.patch_size, key="vit_split")
        c1, c2 = st.columns(2)
        c1.image(logic.split_view(r.model_input, p), caption="Patch grid", width="stretch")
        t = logic.token_count(*r.image_size, p)
        c2.markdown(f"**N = ({r.image_size[0]}/{p})·({r.image_size[1]}/{p}) = {t['num_patches']}** patches + 1 "
                    f"[CLS] = **{t['tokens']} tokens**, **{t['attention_pairs']:,}** attention pairs per head.")
        d = logic.patch_detail(r, int(patch))
        c2.image(d["pixels"], caption=f"Patch {patch} (row {d['row']}, col {d['col']})", width=160)
        st.plotly_chart(logic.vector_figure(d["flat"], f"flattened: {d['flat'].size} numbers"), width="stretch")
        st.plotly_chart(logic.vector_figure(d["embedding"], f"embedding: {d['embedding'].size} numbers"),
                        width="stretch")
    with tabs[1]:
        st.image(logic.pca_colours(r), caption="First three principal components of the patch embeddings as RGB")
    with tabs[2]:
        st.image(logic.position_grid(r), caption="Tile (r, c): cosine similarity of position (r, c) to every position")
    with tabs[3]:
        a1, a2, a3 = st.columns(3)
        a1.image(logic.heat_overlay(r, r.cls_attention(layer, head)), caption=f"[CLS] attention, layer {layer}",
                 width="stretch")
        a2.image(logic.heat_overlay(r, r.rollout_map()), caption="Rollout to [CLS]", width="stretch")
        a3.image(logic.heat_overlay(r, r.patch_attention(int(patch), layer, head)),
                 caption=f"Where patch {patch} looks", width="stretch")
    with tabs[4]:
        st.plotly_chart(logic.distance_figure(r), width="stretch")

with st.expander("How a Vision Transformer reads an image"):
    st.markdown(explainer.load(HERE))
