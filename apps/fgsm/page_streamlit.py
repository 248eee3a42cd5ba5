"""Adversarial FGSM page for Streamlit (the same logic as the Gradio page). Run via streamlit_app.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.fgsm import logic
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
from core.errors import UserError

HERE = Path(__file__).parent

st.title("🎯 Adversarial FGSM: fool a classifier with invisible changes")
st.write("Every pixel moves by at most ε/255, in the direction that hurts the model most.")
image_state, image_param = sample_param(logic.SAMPLES)
page = PageView(logic.VIEW, {"image": "fg_sample", "model": "fg_model", "attack": "fg_attack", "epsilon": "fg_eps",
                             "steps": "fg_steps", "target": "fg_target"},
                to_state={"image": image_state}, to_param={"image": image_param}, upload_key="fg_upload")
page.open()

left, right = st.columns([1, 2], gap="large")
with left:
    source, _, _ = sample_or_upload(logic.SAMPLES, "fg", "coffee", ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff"])
    model = st.selectbox("Model", logic.MODEL_CHOICES, format_func=lambda m: models.MODELS[m].title, key="fg_model")
    attack = st.radio("Attack", list(logic.ATTACKS), format_func=logic.ATTACKS.get, key="fg_attack")
    epsilon = st.slider("ε (in 1/255 units)", 0.0, logic.EPS_MAX, step=0.5, key="fg_eps")
    steps = st.slider("Steps (BIM / PGD)", 1, logic.STEPS_MAX, key="fg_steps", disabled=attack == "fgsm")
    target = st.text_input("Target class (optional, e.g. 'goldfish')", key="fg_target")

def compute(source, model, epsilon, attack, steps, target):
    load_model(model)
    with st.spinner("Attacking…"):
        r = logic.attack(source, model, epsilon, attack, steps, target or None)
        return r, *logic.explain_pair(r)


def show(r, before, after) -> None:
    o, a = r.orig_top5[0], r.adv_top5[0]
    st.markdown(f"**Model:** {r.model_label}")
    verdict = "fooled" if r.flipped else "not fooled"
    st.markdown(f"{logic.ATTACKS[r.attack]} at ε = {r.epsilon:g}/255: the model is **{verdict}**: "
                f"*{o['label']}* ({o['prob']:.1%}) → *{a['label']}* ({a['prob']:.1%}).")
    st.caption(r.norms_text())
    if r.target:
        t = r.target["index"]
        st.markdown(f"Target *{r.target['label']}*: {r.orig_probs[t]:.2%} → **{r.adv_probs[t]:.2%}**.")
    for note in r.notices:
        st.warning(note)
    amp, gain = r.amplified()
    cols = st.columns(3)
    cols[0].image(r.original, **captioned("Original (model input)"), width="stretch")
    cols[1].image(r.adversarial, **captioned("Adversarial"), width="stretch")
    cols[2].image(amp, **captioned(f"Perturbation ×{gain:.0f} (grey = unchanged)"), width="stretch")
    c1, c2 = st.columns(2)
    for col, title, top in ((c1, "Top-5 before", r.orig_top5), (c2, "Top-5 after", r.adv_top5)):
        with col:
            st.markdown(f"**{title}**")
            top5_chart(top)
    c1, c2 = st.columns(2)
    c1.image(before.overlay(0.5), **captioned(f"Grad-CAM before: {before.target['label']}"), width="stretch")
    c2.image(after.overlay(0.5), **captioned(f"Grad-CAM after: {after.target['label']}"), width="stretch")
    st.download_button("⬇️ Download comparison PNG", lambda: logic.compare_png(r),
                       share.export_name("fgsm", page.values(), ".png"), "image/png")


with right:
    shown = compute_or_last("fgsm", lambda: compute(source, model, epsilon, attack, steps, target))
    if shown is not None:
        show(*shown)
r = shown[0] if shown is not None else None

with st.expander("Try a defence on the adversarial image"):
    q = st.slider("JPEG quality", 10, 95, 75, 5, key="fg_q")
    s = st.slider("Blur σ (pixels)", 0.3, 3.0, 1.0, 0.1, key="fg_s")
    b = st.slider("Colour bits per channel", 1, 7, 4, key="fg_b")
    rows = logic.defend(r, q, s, b) if r is not None else []
    st.dataframe([{"defence": x["defence"], "top-1": x["top1"], "P(top-1)": round(x["prob"], 3),
                   "P(clean label)": round(x["clean_label_prob"], 3), "label back": x["restored"]} for x in rows],
                 hide_index=True)

with st.expander("Robustness curve over the sample gallery"):
    if st.button(f"Compute (FGSM and PGD-10 at {len(logic.CURVE_EPS)} values of ε from {logic.CURVE_EPS[0]:g} "
                 f"to {logic.CURVE_EPS[-1]:g}; about a minute, cached per model)", key="fg_curve"):
        bar = st.progress(0.0)
        try:
            curve = logic.robustness_curve(model, progress=lambda f, text: bar.progress(min(f, 1.0), text=text))
        except UserError as exc:
            st.error(f"⚠️ {exc}")
        else:
            st.plotly_chart(logic.curve_figure(curve), width="stretch")
            st.caption(logic.curve_text(curve))
        finally:
            bar.empty()



def links(values: dict) -> None:
    """The adversarial image travels to Grad-CAM under a key this server keeps (its newest 64)."""
    if r is not None:
        link_to("gradcam", "Open the adversarial image in Grad-CAM: where does the model look now?", "🔥",
                image=logic.hand_over(r), model=r.model)


page.close(record=lambda: logic.api_payload(r, api.Clock()) if r is not None else {}, links=links)
with st.expander("How adversarial examples work"):
    st.markdown(explainer.load(HERE))
