"""Attention heatmaps page for Streamlit (the same logic as the Gradio page). Run via streamlit_app.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.attention import logic
from apps.streamlit_common import load_model
from core import explainer, models
from core.errors import UserError

HERE = Path(__file__).parent



st.title("🔦 Attention heatmaps: what does each head look at?")
st.write("Every row of a heatmap is one token's attention: how it mixes the other tokens.")

c1, c2 = st.columns([2, 1])
with c2:
    preset = st.selectbox("Presets that teach", list(logic.PRESETS), key="at_preset")
    model = st.selectbox("Model", logic.MODEL_CHOICES, format_func=lambda m: models.MODELS[m].title, key="at_model")
with c1:
    text = st.text_area("Sentence", logic.PRESETS[preset], key=f"at_text_{preset}", height=80)
    pair = st.text_input("Second sentence (optional; bidirectional models only)", key="at_pair")

try:
    load_model(model)
    r = logic.attend(text, model, pair or None)
except UserError as exc:
    st.error(f"⚠️ {exc}")
    st.stop()
st.markdown(f"**Model:** {r.model_label}")
st.caption(f"{len(r.tokens)} tokens · {r.n_layers} layers × {r.n_heads} heads · "
           + ("causal" if r.causal else "bidirectional"))
for note in r.notices:
    st.warning(note)

s1, s2, s3 = st.columns(3)
layer = s1.slider("Layer", 0, r.n_layers - 1, r.n_layers - 1, key="at_layer")
head_choice = s2.selectbox("Head", ["mean over heads"] + [f"head {h}" for h in range(r.n_heads)], key="at_head")
head = None if head_choice == "mean over heads" else int(head_choice.split()[-1])
token = s3.selectbox("Token for the head view", list(range(len(r.tokens))), index=min(7, len(r.tokens) - 1),
                     format_func=lambda i: f"{i}: {r.tokens[i]}", key="at_token")

tabs = st.tabs(["Heatmap", "Head view", "Model view", "Rollout", "Head statistics"])
with tabs[0]:
    fig = logic.heatmap_figure(r, layer, head)
    st.plotly_chart(fig, width="stretch")
    d1, d2 = st.columns(2)
    d1.download_button("⬇️ PNG of this heatmap", logic.heatmap_png(r, layer, head), "attention.png", "image/png")
    d2.download_button("⬇️ Interactive HTML", logic.figure_html(fig), "attention.html", "text/html")
with tabs[1]:
    st.plotly_chart(logic.head_view_figure(r, layer, token), width="stretch")
with tabs[2]:
    thumbs = logic.model_view(r)
    for row in range(r.n_layers):
        cols = st.columns(r.n_heads)
        for h, col in enumerate(cols):
            img, caption = thumbs[row * r.n_heads + h]
            col.image(img, caption=caption, width="stretch")
with tabs[3]:
    st.plotly_chart(logic.rollout_figure(r, layer), width="stretch")
with tabs[4]:
    st.plotly_chart(logic.stats_figure(r), width="stretch")

with st.expander("How attention works (and why it is not an explanation)"):
    st.markdown(explainer.load(HERE))
