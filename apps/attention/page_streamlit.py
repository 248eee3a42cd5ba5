"""Attention heatmaps page for Streamlit (the same logic as the Gradio page). Run via streamlit_app.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.attention import logic
from apps.streamlit_common import PageView, clicked_cell, compute_or_last, grid_figure, link_to, load_model
from core import api, explainer, models, share

HERE = Path(__file__).parent

st.title("🔦 Attention heatmaps: what does each head look at?")
st.write("Every row of a heatmap is one token's attention: how it mixes the other tokens.")
MEAN = "mean over heads"
page = PageView(logic.VIEW, {"text": "at_text", "pair": "at_pair", "model": "at_model", "layer": "at_layer",
                             "head": "at_head", "token": "at_token"},
                to_state={"head": lambda h: MEAN if h == "mean" else f"head {h}"},
                to_param={"head": lambda h: "mean" if h in (None, MEAN) else h.split()[-1],
                          "layer": int, "token": int})
page.open()


def use_preset() -> None:
    st.session_state["at_text"] = logic.PRESETS[st.session_state["at_preset"]]


c1, c2 = st.columns([2, 1])
with c2:
    st.selectbox("Presets that teach", list(logic.PRESETS), index=None, placeholder="Pick one to load it",
                 key="at_preset", on_change=use_preset)
    model = st.selectbox("Model", logic.MODEL_CHOICES, format_func=lambda m: models.MODELS[m].title, key="at_model")
with c1:
    text = st.text_area("Sentence", key="at_text", height=80)
    pair = st.text_input("Second sentence (optional; bidirectional models only)", key="at_pair")


def compute(text, model, pair):
    load_model(model)
    return logic.attend(text, model, pair or None)


def open_head(n_layers: int, n_heads: int) -> None:
    """A click on the model view: that head's layer and number go to the controls (before they are drawn)."""
    cell = clicked_cell(st.session_state.get("at_sheet"), n_layers * n_heads)
    if cell is not None:
        st.session_state["at_layer"], head = divmod(cell, n_heads)
        st.session_state["at_head"] = f"head {head}"


def show(r) -> None:
    st.markdown(f"**Model:** {r.model_label}")
    st.caption(f"{len(r.tokens)} tokens · {r.n_layers} layers × {r.n_heads} heads · "
               + ("causal" if r.causal else "bidirectional"))
    for note in r.notices:
        st.warning(note)
    # Defaults go in session state (a click on the model view sets these too; a widget given both a default
    # and a state value would warn). A smaller model than the last one clamps them.
    heads = [MEAN] + [f"head {h}" for h in range(r.n_heads)]
    st.session_state["at_layer"] = min(int(st.session_state.get("at_layer", r.n_layers - 1)), r.n_layers - 1)
    if st.session_state.get("at_head") not in heads:
        st.session_state["at_head"] = heads[0]
    st.session_state["at_token"] = min(int(st.session_state.get("at_token", 7)), len(r.tokens) - 1)
    s1, s2, s3 = st.columns(3)
    layer = s1.slider("Layer", 0, r.n_layers - 1, key="at_layer")
    head_choice = s2.selectbox("Head", heads, key="at_head")
    head = None if head_choice == MEAN else int(head_choice.split()[-1])
    token = s3.selectbox("Token for the head view", list(range(len(r.tokens))),
                         format_func=lambda i: f"{i}: {r.tokens[i]}", key="at_token")

    tabs = st.tabs(["Heatmap", "Head view", "Model view", "Rollout", "Head statistics"])
    with tabs[0]:
        fig = logic.heatmap_figure(r, layer, head)
        st.plotly_chart(fig, width="stretch")
        d1, d2 = st.columns(2)
        d1.download_button("⬇️ PNG of this heatmap", logic.heatmap_png(r, layer, head),
                           share.export_name("attention", page.values(), ".png"), "image/png")
        # A callable: the 5 MB page is built only when someone asks for it, not on every rerun.
        d2.download_button("⬇️ Interactive HTML", lambda: logic.figure_html(fig), "attention.html", "text/html")
    with tabs[1]:
        st.plotly_chart(logic.head_view_figure(r, layer, token), width="stretch")
    with tabs[2]:
        st.caption("Every head, layers down and heads across. Click one to open it in the Heatmap tab.")
        left, top = logic.GRID_MARGIN
        sheet = logic.model_view_sheet(r)
        current = layer * r.n_heads + head if head is not None else None
        st.plotly_chart(grid_figure(sheet, r.n_layers, r.n_heads, (logic.GRID_CELL, logic.GRID_CELL), (left, top),
                                    marked=current, width=760), key="at_sheet",
                        on_select=lambda: open_head(r.n_layers, r.n_heads), selection_mode="points", width="content",
                        config={"displayModeBar": False})
    with tabs[3]:
        st.plotly_chart(logic.rollout_figure(r, layer), width="stretch")
    with tabs[4]:
        st.plotly_chart(logic.stats_figure(r), width="stretch")


shown = compute_or_last("attention", lambda: compute(text, model, pair))
if shown is not None:
    show(shown)



def links(values: dict) -> None:
    link_to("vit_patches", f"Attention over image patches instead of words: the ViT patch viewer at layer "
            f"{values['layer']}", "🧩", layer=values["layer"], head=values["head"])


page.close(record=lambda: logic.api_payload(shown, api.Clock()) if shown is not None else {}, links=links)
with st.expander("How attention works (and why it is not an explanation)"):
    st.markdown(explainer.load(HERE))
