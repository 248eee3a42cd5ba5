"""Diffusion step-through page for Streamlit (the same logic as the Gradio page). Run via streamlit_app.py."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.diffusion import logic, toy2d
from apps.diffusion.sampling import SCHEDULERS
from apps.streamlit_common import PageView, captioned, compute_or_last, load_model
from core import api, explainer, models, share
from core.errors import UserError

HERE = Path(__file__).parent
SIDE = 256
LABELS = ["none"] + [str(d) for d in range(10)]
TOY_DEFAULT = "0, 0\n1, 1\n2, 0\n3, 1\n4, 0"


@st.cache_data(max_entries=16, show_spinner=False)
def toy_run(dset: str, sched: str, steps: int, typed: str) -> toy2d.ToyRun:
    """Cached per setting, so moving another tab's slider (a full-script rerun) does not recompute it."""
    pts = toy2d.parse_points(typed) if dset == "drawn" else None
    return toy2d.reverse(dset, sched, steps, n=500, seed=0, points=pts)


def show_frame(traj: logic.Trajectory, i: int, slots) -> None:
    xt, x0, eps, t = logic.frame(traj, i, SIDE)
    slots[0].image(xt, **captioned(f"x_t at t = {t}"))
    slots[1].image(x0, **captioned("predicted x₀"))
    slots[2].image(eps, **captioned("predicted noise ε (grey = 0)"))


@st.fragment
def scrubber(traj: logic.Trajectory) -> None:
    """The step slider and what it shows. A fragment: moving the slider reruns only this function (a
    look-up of the stored step), not the whole page."""
    slots = st.columns(3)
    step = st.session_state.get("diff_step")
    if step is None or int(step) > traj.n - 1:  # only then: writing the state on every scrub (a fragment rerun)
        st.session_state["diff_step"] = traj.n - 1  # pulled the slider back mid-drag and lost key presses
    i = st.slider("Step (scrub the finished run)", 0, max(traj.n - 1, 1), key="diff_step", disabled=traj.n < 2)
    page.follow("step", i)  # this fragment reruns alone: the address bar keeps in step
    show_frame(traj, i, slots)
    c1, c2, c3 = st.columns([1, 1, 1])
    c1.image(logic.final_image(traj, 160), **captioned("Final sample"))
    # Callables: encoded only when clicked, not on every scrub.
    name = share.export_name("diffusion", page.values(), "")
    c2.download_button("⬇️ GIF of the run", lambda: logic.gif_bytes(traj), f"{name}.gif", "image/gif")
    c3.download_button("⬇️ PNG of this step", lambda: logic.frame_png(traj, i), f"{name}-step{i}.png",
                       "image/png")


def prepare(model, scheduler, steps, eta, seed, label, guidance):
    settings, notices = logic.check(model, scheduler, steps, eta, seed, label, guidance)
    load_model(settings.model)
    return settings, notices


def generate(settings: logic.Settings, notices: list[str]) -> None:
    head = st.container()  # filled once the run is known
    timing = st.container(key="diff_timing")  # (masked in screenshots: the numbers vary)
    traj = logic.cached(settings)
    if traj is None:  # stream the run: frames and a progress bar as the steps are computed
        bar = st.progress(0.0, text="Denoising…")
        placeholders = [c.empty() for c in st.columns(3)]
        for traj in logic.stream(settings, every=max(1, settings.steps // 25)):
            bar.progress(traj.n / settings.steps, text=f"Step {traj.n} of {settings.steps}")
            show_frame(traj, traj.n - 1, placeholders)
        bar.empty()
        for p in placeholders:
            p.empty()
    head.markdown(f"**Model:** {traj.model_label}\n\n**{settings.describe()}**")
    timing.caption(f"{traj.n} UNet steps in {traj.seconds:.2f} s; the step slider scrubs without recomputing.")
    for note in notices + traj.notices:
        st.warning(note)
    scrubber(traj)


st.title("🌫️ Diffusion step-through: from noise to a digit")
page = PageView(logic.VIEW, {"model": "diff_model", "scheduler": "diff_sched", "steps": "diff_steps", "eta": "diff_eta",
                             "seed": "diff_seed", "label": "diff_label", "guidance": "diff_g", "step": "diff_step"},
                to_param={"steps": int, "seed": int, "step": int, "eta": float, "guidance": float})
page.open()
tab_rev, tab_fwd, tab_cmp, tab_toy = st.tabs(["Reverse process", "Forward process", "Compare two runs", "2-D toy"])
g0 = logic.default_guidance()
g_max = logic.guidance_slider_max()

with tab_rev:
    left, right = st.columns([1, 3], gap="large")
    with left:
        label = st.selectbox("Digit to draw", LABELS, key="diff_label")
        guidance = st.slider(f"Guidance (0 = unconditional; {g0:g} reads best)", 0.0, g_max, step=0.25, key="diff_g")
        scheduler = st.radio("Scheduler", list(SCHEDULERS), format_func=SCHEDULERS.get, key="diff_sched")
        steps = st.slider("Steps", 1, logic.MAX_STEPS, key="diff_steps")
        eta = st.slider("eta (DDIM only)", 0.0, 1.0, step=0.05, key="diff_eta")
        seed = st.number_input("Seed", 0, logic.MAX_SEED, key="diff_seed")
        model = st.selectbox("Model", logic.MODEL_CHOICES, format_func=lambda m: models.MODELS[m].title,
                             key="diff_model")
    with right:
        prepared = compute_or_last("diffusion", lambda: prepare(model, scheduler, steps, eta, seed, label, guidance))
        if prepared is not None:
            generate(*prepared)

with tab_fwd:
    left, right = st.columns([1, 3], gap="large")
    with left:
        kind = st.radio("Image x₀", ["digit", *logic.SAMPLES, "upload"], key="fwd_kind")
        index = st.slider("Which digit", 0, 1796, 3, key="fwd_index")
        upload = st.file_uploader("Upload", type=["png", "jpg", "jpeg", "webp"], key="fwd_upload")
        schedule = st.radio("Schedule", list(logic.FORWARD_SCHEDULES), index=1,
                            format_func=logic.FORWARD_SCHEDULES.get, key="fwd_sched")
        t = st.slider("t", 0, 999, 250, key="fwd_t")
        fseed = int(st.number_input("Noise seed", 0, logic.MAX_SEED, 0, key="fwd_seed"))
    with right:
        try:
            x0 = logic.source_image(kind, index, upload.getvalue() if upload is not None else None)
        except UserError as exc:
            st.error(f"⚠️ {exc}")
        else:
            st.markdown(logic.forward_stats(t, schedule))
            a, b = st.columns(2)
            a.image(logic.enlarge(logic.to_uint8(x0), SIDE), **captioned("x₀"))
            b.image(logic.enlarge(logic.to_uint8(logic.add_noise(x0, t, schedule, fseed)), SIDE),
                    **captioned(f"x_t, t = {t}"))
            st.image(logic.forward_strip(x0, schedule, fseed),
                     **captioned("Forward process, t = " + ", ".join(map(str, logic.FORWARD_TS))), width="stretch")
        st.plotly_chart(logic.schedule_figure(t), width="stretch")

with tab_cmp:
    c = st.columns(2)
    runs = []
    for k, (col, sched_default, n_default) in enumerate(zip(c, ("ddpm", "ddim"), (1000, 50))):
        with col:
            s = st.radio(f"Run {'AB'[k]} scheduler", list(SCHEDULERS), index=list(SCHEDULERS).index(sched_default),
                         format_func=SCHEDULERS.get, key=f"cmp_s{k}")
            n = st.slider(f"Run {'AB'[k]} steps", 1, logic.MAX_STEPS, n_default, key=f"cmp_n{k}")
            g = st.slider(f"Run {'AB'[k]} guidance", 0.0, g_max, g0, 0.25, key=f"cmp_g{k}")
            runs.append((s, n, g))
    if st.button("Run both (same seed and digit as the reverse tab)", key="cmp_go"):
        for k, (s, n, g) in enumerate(runs):
            try:
                st_k, notes = logic.check(model, s, n, 0.0, seed, label, g)
                with st.spinner(f"Run {'AB'[k]}…"):
                    tr = logic.run(st_k)
            except UserError as exc:
                st.error(f"⚠️ {exc}")
                continue
            st.markdown(f"**Run {'AB'[k]}: {st_k.describe()}** · {tr.seconds:.2f} s")
            st.image(logic.filmstrip(tr), **captioned(logic.strip_labels(tr)))

def take_lasso() -> None:
    """A loop drawn with the lasso becomes 'your points': its outline, evenly spaced, in the text box."""
    event = st.session_state.get("toy_canvas")
    loops = getattr(getattr(event, "selection", None), "lasso", None) or []
    if loops:
        pts = toy2d.resample_outline(loops[-1]["x"], loops[-1]["y"])
        if len(pts) >= 2:
            st.session_state["toy_pts"] = "\n".join(f"{x:.2f}, {y:.2f}" for x, y in pts)
            st.session_state["toy_set"] = "drawn"


with tab_toy:
    left, right = st.columns([1, 2], gap="large")
    with left:
        dset = st.radio("Data", list(toy2d.DATASETS), format_func=toy2d.DATASETS.get, key="toy_set")
        st.caption("Draw a shape: pick the lasso (top right of the canvas) and draw a loop; its outline becomes "
                   "your points.")
        st.session_state.setdefault("toy_pts", TOY_DEFAULT)  # a default in state: the lasso writes here too
        st.plotly_chart(toy2d.canvas_figure(st.session_state["toy_pts"]), key="toy_canvas",
                        on_select=take_lasso, selection_mode="lasso", width="stretch")
        typed = st.text_area("Your points ('x, y' per line)", key="toy_pts")
        tsched = st.radio("Scheduler", list(SCHEDULERS), index=1, format_func=SCHEDULERS.get, key="toy_sched")
        tsteps = st.slider("Steps", 1, 1000, 50, key="toy_steps")
    with right:
        try:
            with st.spinner("Denoising the cloud…"):
                run = toy_run(dset, tsched, tsteps, typed)
        except UserError as exc:
            st.error(f"⚠️ {exc}")
        else:
            st.plotly_chart(toy2d.figure(run, toy2d.DATASETS[dset]), width="stretch")
            st.caption(f"Mean distance to the nearest training point: "
                       f"{toy2d.distance_to_data(run.path[0], run.data):.2f} (noise) → "
                       f"{toy2d.distance_to_data(run.path[-1], run.data):.3f} (samples). Press ▶ Play.")



def record() -> dict:
    if prepared is None:
        return {}
    settings, notices = prepared
    traj = logic.run(settings)
    return api.respond(traj, {"timesteps": list(traj.timesteps), "seconds": round(traj.seconds, 3)}, api.Clock(),
                       [*notices, *traj.notices])


page.close(record=record)  # the link holds the reverse-process tab's settings
with st.expander("How diffusion models work"):
    st.markdown(explainer.load(HERE, logic.explainer_values()))
