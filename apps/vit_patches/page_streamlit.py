"""ViT patch viewer page for Streamlit (the same logic as the Gradio page). Run via streamlit_app.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.streamlit_common import (
    PageView,
    captioned,
    clicked_cell,
    compute_or_last,
    grid_figure,
    link_to,
    load_model,
    picture_picker,
    top5_chart,
)
from apps.vit_patches import logic
from core import api, explainer, models

HERE = Path(__file__).parent
GALLERY = logic.GALLERY
MEAN = "mean over heads"


def _to_state(name: str) -> int:
    """A link's image: one of the digits, or a gallery photo (Grad-CAM links here with one), shown until a
    digit is picked."""
    index = logic.GALLERY_NAMES.index(name) if name in logic.GALLERY_NAMES else int(st.session_state.get("vit_pick", 0))
    st.session_state["vit_photo"] = None if name in logic.GALLERY_NAMES else (name, index)
    return index


def _to_param(index) -> str:
    photo = st.session_state.get("vit_photo")
    return photo[0] if photo else logic.GALLERY_NAMES[int(index or 0)]


st.title("🧩 ViT patch viewer: from pixels to tokens to attention")
page = PageView(logic.VIEW, {"image": "vit_pick", "model": "vit_model", "layer": "vit_layer", "head": "vit_head",
                             "patch": "vit_patch", "split": "vit_split"},
                to_state={"image": _to_state, "head": lambda h: MEAN if h == "mean" else f"head {h}"},
                to_param={"image": _to_param, "head": lambda h: "mean" if h in (None, MEAN) else h.split()[-1],
                          "layer": int, "patch": int, "split": int}, upload_key="vit_upload")
page.open()
left, right = st.columns([1, 3], gap="large")
with left:
    st.caption("Generated test images (digits the model never saw)")
    pick = picture_picker([g.image for g in GALLERY], "vit_pick", columns=4, side=96, width=200)
    photo = st.session_state.get("vit_photo")
    if photo and pick != photo[1]:
        st.session_state["vit_photo"] = photo = None  # a digit was picked
    if photo:
        st.info(f"Showing the gallery photo '{photo[0]}' from a link. Pick a digit to go back.")
    upload = st.file_uploader("…or upload an image", type=["png", "jpg", "jpeg", "webp"], key="vit_upload")
    model = st.selectbox("Model", logic.MODEL_CHOICES, format_func=lambda m: models.MODELS[m].title, key="vit_model")

def pick_cell(state_key: str, chart_key: str, n: int) -> None:
    """A click on a picture's grid: that patch (or position) becomes the one inspected."""
    cell = clicked_cell(st.session_state.get(chart_key), n)
    if cell is not None:
        st.session_state[state_key] = cell


def show(r) -> None:
    with left:
        st.session_state["vit_layer"] = min(int(st.session_state.get("vit_layer", r.n_layers - 1)), r.n_layers - 1)
        heads = [MEAN] + [f"head {h}" for h in range(r.n_heads)]
        if st.session_state.get("vit_head") not in heads:  # a link's head this model lacks: the mean
            st.session_state["vit_head"] = MEAN
        layer = st.slider("Layer", 0, r.n_layers - 1, key="vit_layer")
        head_choice = st.selectbox("Head", heads, key="vit_head")
        head = None if head_choice == MEAN else int(head_choice.split()[-1])
        if not 0 <= st.session_state.get("vit_patch", -1) < r.num_patches:
            st.session_state["vit_patch"] = r.num_patches // 2
        patch = st.number_input("Patch to inspect (or click one)", 0, r.num_patches - 1, key="vit_patch")
        if r.top5:
            top5_chart(r.top5, height=180)

    with right:
        st.markdown(f"**Model:** {r.model_label}")
        for note in r.notices:
            st.warning(note)
        tabs = st.tabs(["Patches", "Embeddings (PCA)", "Positions", "Attention", "Distance"])
        with tabs[0]:
            p = st.slider("Patch size of the grid", 2, 64, key="vit_split")
            c1, c2 = st.columns(2)
            with c1:
                scale = logic.split_scale(r.model_input.shape[:2])
                view = logic.split_view(r.model_input, p, mark=int(patch), model_patch=r.patch_size)
                cell = r.patch_size * scale
                st.plotly_chart(grid_figure(view, *r.grid, (cell, cell), width=300), key="vit_grid",
                                on_select=lambda: pick_cell("vit_patch", "vit_grid", r.num_patches),
                                selection_mode="points", width="content", config={"displayModeBar": False})
                st.caption("The model's patch grid: click a patch")
            t = logic.token_count(*r.image_size, p)
            c2.markdown(f"**N = ({r.image_size[0]}/{p})·({r.image_size[1]}/{p}) = {t['num_patches']}** patches + 1 "
                        f"[CLS] = **{t['tokens']} tokens**, **{t['attention_pairs']:,}** attention pairs per head.")
            d = logic.patch_detail(r, int(patch))
            c2.image(d["pixels"], **captioned(f"Patch {patch} (row {d['row']}, col {d['col']})"), width=160)
            st.plotly_chart(logic.vector_figure(d["flat"], f"flattened: {d['flat'].size} numbers"), width="stretch")
            st.plotly_chart(logic.vector_figure(d["embedding"], f"embedding: {d['embedding'].size} numbers"),
                            width="stretch")
        with tabs[1]:
            st.image(logic.pca_colours(r),
                     **captioned("First three principal components of the patch embeddings as RGB"))
        with tabs[2]:
            rows, cols = r.grid
            sheet = logic.position_grid(r)
            if not 0 <= st.session_state.get("vit_pos", -1) < r.num_patches:
                st.session_state["vit_pos"] = 0
            g1, g2 = st.columns(2)
            with g1:
                st.plotly_chart(grid_figure(sheet, rows, cols, logic.position_tile(r),
                                            marked=st.session_state["vit_pos"], width=400), key="vit_pos_grid",
                                on_select=lambda: pick_cell("vit_pos", "vit_pos_grid", r.num_patches),
                                selection_mode="points", width="content", config={"displayModeBar": False})
                st.caption("Tile (r, c): cosine similarity of position (r, c) to every position. Click a tile.")
            pr, pc = divmod(st.session_state["vit_pos"], cols)
            g2.image(logic.position_map(r, st.session_state["vit_pos"]),
                     **captioned(f"Position ({pr}, {pc}) vs every position"), width="stretch")
        with tabs[3]:
            a1, a2, a3 = st.columns(3)
            a1.image(logic.heat_overlay(r, r.cls_attention(layer, head)),
                     **captioned(f"[CLS] attention, layer {layer}"), width="stretch")
            a2.image(logic.heat_overlay(r, r.rollout_map()), **captioned("Rollout to [CLS]"), width="stretch")
            a3.image(logic.heat_overlay(r, r.patch_attention(int(patch), layer, head)),
                     **captioned(f"Where patch {patch} looks"), width="stretch")
        with tabs[4]:
            st.plotly_chart(logic.distance_figure(r), width="stretch")


def compute(source, model):
    load_model(model)
    return logic.inspect(source, model)


source = upload.getvalue() if upload is not None else (logic.image_source(photo[0]) if photo else GALLERY[pick].image)
shown = compute_or_last("vit", lambda: compute(source, model))
if shown is not None:
    show(shown)



def links(values: dict) -> None:  # the same layer and head, over words instead of patches
    link_to("attention", f"Attention over words instead of patches: attention heatmaps at layer {values['layer']}",
            "🔦", layer=values["layer"], head=values["head"])


view_now = page.values()  # read now: the JSON is built later, when its button is clicked


def record() -> dict:
    if shown is None:
        return {}
    head = view_now["head"]
    return logic.api_payload(shown, api.Clock(), view_now["layer"], None if head == "mean" else int(head))


page.close(record=record, links=links)
with st.expander("How a Vision Transformer reads an image"):
    st.markdown(explainer.load(HERE))
