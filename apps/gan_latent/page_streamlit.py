"""GAN latent arithmetic page for Streamlit (the same logic as the Gradio page). Run via streamlit_app.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.gan_latent import faces, lab, logic
from apps.streamlit_common import PageView, captioned, compute_or_last, load_model
from core import api, explainer, images, models, share

HERE = Path(__file__).parent
ATTRIBUTES = list(faces.ATTRIBUTES)

st.title("🧮 GAN latent arithmetic: walk, blend and add vectors")
st.write("A generator turns a random vector z into a face. Nearby vectors give similar faces, and some directions "
         "mean something: add the 'glasses' direction and glasses appear.")
INTS = ("start", "count", "seed_a", "seed_b", "steps", "edit_start", "a", "b", "c")
page = PageView(logic.VIEW, {"model": "gan_model", "start": "gan_start", "count": "gan_count",
                             "truncation": "gan_trunc",
                             "seed_a": "gan_a", "seed_b": "gan_b", "steps": "gan_steps", "attribute": "gan_attr",
                             "strength": "gan_strength", "edit_start": "gan_edit_start", "a": "gan_an_a",
                             "b": "gan_an_b", "c": "gan_an_c"},
                to_param={**{k: int for k in INTS}, "truncation": float, "strength": float})
page.open()
model = st.selectbox("Generator", logic.MODEL_CHOICES, format_func=lambda m: models.MODELS[m].title, key="gan_model")
load_model(model)


def row(imgs, captions, side: int = 96) -> None:
    cols = st.columns(len(imgs))
    for col, im, cap in zip(cols, imgs, captions):
        col.image(logic.enlarge(im, side), **captioned(cap), width="stretch")


tab_s, tab_i, tab_a, tab_an, tab_r, tab_lab = st.tabs(["Samples", "Interpolate", "Attributes", "Analogy A − B + C",
                                                       "Real training faces", "GAN Lab lite (2-D)"])
with tab_s:
    c1, c2, c3 = st.columns(3)
    start = int(c1.number_input("First seed", 0, logic.MAX_SEED, key="gan_start"))
    lo, hi, step = logic.COUNT_RANGE
    count = int(c2.slider("How many", lo, hi, step=step, key="gan_count"))
    lo, hi, step = logic.TRUNCATION_RANGE
    trunc = c3.slider("Truncation ψ (z × ψ)", lo, hi, step=step, key="gan_trunc")
    r = compute_or_last("gan_samples", lambda: logic.sample(list(range(start, start + count)), trunc, model))
    if r is not None:
        st.markdown(f"**Model:** {r.model_label}")
        for note in r.notices:
            st.warning(note)
        st.download_button("⬇️ PNG of these samples", images.to_png_bytes(logic.grid_image(r.images)),
                           share.export_name("gan_latent", page.values(), "-samples.png"), "image/png",
                           key="gan_png")
        for k in range(0, len(r.images), 8):
            row(r.images[k:k + 8], [f"seed {s}" for s in r.extra["seeds"][k:k + 8]])
with tab_i:
    c1, c2, c3 = st.columns(3)
    a = int(c1.number_input("Seed A", 0, logic.MAX_SEED, key="gan_a"))
    b = int(c2.number_input("Seed B", 0, logic.MAX_SEED, key="gan_b"))
    lo, hi, step = logic.PATH_STEPS_RANGE
    steps = c3.slider("Steps", lo, hi, step=step, key="gan_steps")
    paths = compute_or_last("gan_paths", lambda: (logic.interpolate(a, b, steps, "slerp", model),
                                                  logic.interpolate(a, b, steps, "lerp", model)))
    if paths is not None:
        s, li = paths
        st.markdown("**slerp** (along the arc: every point as long as a typical latent)")
        row(s.images, [f"|z| {n:.1f}" for n in s.latent_norms], 64)
        st.markdown("**lerp** (the straight line: the middle is shorter than any typical latent)")
        row(li.images, [f"|z| {n:.1f}" for n in li.latent_norms], 64)
        st.plotly_chart(logic.norms_figure(li.latent_norms, s.latent_norms, len(s.latents[0]) ** 0.5), width="stretch")
        st.download_button("⬇️ GIF of the slerp path", logic.gif_bytes(s.images),
                           share.export_name("gan_latent", page.values(), "-slerp.gif"), "image/gif", key="gan_gif")
with tab_a:
    c1, c2, c3 = st.columns([2, 2, 1])

    def best_for_attribute() -> None:  # a new attribute starts at the strength measured to work for it
        st.session_state["gan_strength"] = float(logic.best_strength(st.session_state["gan_attr"]))

    attribute = c1.radio("Attribute", ATTRIBUTES, key="gan_attr", horizontal=True, on_change=best_for_attribute)
    lo, hi, step = logic.STRENGTH_RANGE
    strength = c2.slider("Strength (negative removes)", lo, hi, step=step, key="gan_strength")
    edit_start = int(c3.number_input("First seed", 0, logic.MAX_SEED, key="gan_edit_start"))
    st.caption(f"Measured: {logic.success_text(attribute)}.")
    seeds6 = list(range(edit_start, edit_start + logic.EDIT_SEEDS))
    edited = compute_or_last("gan_edit", lambda: logic.edit(seeds6, attribute, strength, model))
    if edited is not None:
        before, after = edited
        row(before.images, [f"seed {s}" for s in seeds6])
        row(after.images, ["edited"] * len(seeds6))
        row([logic.diff_image(x, y) for x, y in zip(before.images, after.images)], ["what changed"] * len(seeds6))
with tab_an:
    c1, c2, c3 = st.columns(3)
    sa = int(c1.number_input("A", 0, logic.MAX_SEED, key="gan_an_a"))
    sb = int(c2.number_input("B", 0, logic.MAX_SEED, key="gan_an_b"))
    sc = int(c3.number_input("C", 0, logic.MAX_SEED, key="gan_an_c"))
    an = compute_or_last("gan_analogy", lambda: logic.analogy(sa, sb, sc, model))
    if an is not None:
        row(an.images, [f"A (seed {sa})", f"B (seed {sb})", f"C (seed {sc})", "A − B + C"], 128)
with tab_r:
    st.write("What the faces GAN learned from: generated faces with four known attributes. The GAN never saw the "
             "labels.")
    imgs, attrs = logic.real(16, 0)
    for k in range(0, 16, 8):
        names = [", ".join(n.replace("_", " ") for n, v in x.items() if v) or "none" for x in attrs[k:k + 8]]
        row(imgs[k:k + 8], names)
with tab_lab:
    st.write(lab.INTRO + "\n\n" + lab.measured_claim())
    c1, c2 = st.columns(2)
    loss = c1.radio("Training", list(lab.LOSSES), format_func=lab.LOSSES.get, key="gan_lab_loss", horizontal=True)
    seed = int(c2.number_input("Seed", 0, 10_000, lab.default_seed(), key="gan_lab_seed"))
    run = st.session_state["gan_lab_run"] = lab.current(st.session_state.get("gan_lab_run"), loss, seed)
    b1, b2, b3, b4 = st.columns(4)
    if b1.button(f"Step (+{lab.STEP})", key="gan_lab_step", width="stretch"):
        lab.step(run)
    play = b2.button(f"▶️ Play (+{lab.PLAY_CHUNK * lab.PLAY_CHUNKS:,})", key="gan_lab_play", width="stretch")
    # Any press while Play runs makes Streamlit stop that script run at its next redraw: the run keeps the steps
    # trained so far (they live in session state), so this button needs no handler of its own.
    b3.button("⏸️ Pause", key="gan_lab_pause", width="stretch")
    if b4.button("Reset", key="gan_lab_reset", width="stretch"):
        run = st.session_state["gan_lab_run"] = lab.current(None, loss, seed)
    text, plot, curve = st.empty(), st.empty(), st.empty()
    if play:
        bar = st.progress(0.0, text="training…")
        for done, chunks in lab.play(run):
            bar.progress(done / chunks, text=f"step {run.step}")
            text.markdown(lab.status_text(run))
            plot.plotly_chart(lab.drawn(run), width="stretch", key=f"gan_lab_{done}")
            curve.plotly_chart(lab.coverage_figure(run), width="stretch", key=f"gan_lab_curve_{done}")
        bar.empty()
    else:
        text.markdown(lab.status_text(run))
        plot.plotly_chart(lab.drawn(run), width="stretch", key="gan_lab_plot")
        curve.plotly_chart(lab.coverage_figure(run), width="stretch", key="gan_lab_curve")

page.close(record=lambda: logic.payload(r, api.Clock(), {"latent_norms": r.latent_norms}) if r is not None else {})
with st.expander("How GANs work: the game, the latent space, and why training is hard"):
    st.markdown(explainer.load(HERE, logic.explainer_values()))
