"""Diffusion step-through page for Gradio. Runnable alone: python -m apps.diffusion.ui_gradio"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from apps.diffusion import logic, toy2d
from apps.diffusion.sampling import SCHEDULERS
from apps.gradio_common import LATEX, Outputs, ShareBar, explainer, export_file, on_user_set, warning
from core import api, models
from core.errors import UserError

HERE = Path(__file__).parent
MODEL_LABELS = [(models.MODELS[m].title, m) for m in logic.MODEL_CHOICES]
SCHED_LABELS = [(v, k) for k, v in SCHEDULERS.items()]
LABEL_CHOICES = [("none (unconditional)", "none")] + [(str(d), str(d)) for d in range(10)]
SIDE = 256  # display size of one 16x16 or 32x32 frame (nearest-neighbour, crisp on a projector)


def diffusion_api(seed: int = 0, scheduler: str = "ddim", steps: int = 50, eta: float = 0.0,
                  label: int | None = None, guidance: float | None = None,
                  model: str = logic.DEFAULT_MODEL) -> dict:
    """A whole reverse-diffusion trajectory: every x_t and predicted x0, and the final sample. See the README."""
    clock = api.Clock()
    try:
        settings, notices = logic.check(model, scheduler, steps, eta, seed, label, guidance)
        traj = logic.run(settings)
        clock.lap("model")
    except UserError as exc:
        raise gr.Error(str(exc)) from exc
    except RuntimeError as exc:  # no weights for any source: a clear error, the server keeps serving
        raise gr.Error(f"The model could not run: {exc}") from exc
    return {**logic.api_payload(traj, clock, notices), "share_url": logic.VIEW.url(logic.share_values(settings))}


def _bar(done: int, total: int) -> str:
    return f'<progress value="{done}" max="{total}" style="width:100%;height:14px"></progress>'


def _status(traj: logic.Trajectory, notices: list[str]) -> dict:
    """What runs, and how long it took: two panels, so screenshots can hide only the timing."""
    s = traj.settings
    lines = [f"**Model:** {traj.model_label}", f"**{s.describe()}**"]
    lines += [f"⚠️ {n}" for n in [*notices, *traj.notices]]
    if not traj.done:
        timing = (f"**Denoising… step {traj.n} of {s.steps}** (t = {traj.timesteps[-1]}) · {traj.seconds:.1f} s"
                  f"\n\n{_bar(traj.n, s.steps)}")
    else:
        timing = (f"{traj.n} UNet steps in {traj.seconds:.2f} s ({1000 * traj.seconds / max(traj.n, 1):.0f} ms a "
                  "step). Drag the step slider to scrub: no recomputation.")
    return {"status": "\n\n".join(lines), "timing": timing}


def _frame_outputs(traj: logic.Trajectory, i: int) -> dict:
    xt, x0, eps, t = logic.frame(traj, i, SIDE)
    label = f"x_t at t = {t} (step {min(i, traj.n - 1) + 1} of {traj.settings.steps})"
    return {"xt_img": gr.update(value=xt, label=label), "x0_img": x0, "eps_img": eps}


def generate(model, scheduler, steps, eta, seed, label, guidance):
    """Stream the reverse process: frames appear as they are computed, then the slider scrubs the cache."""
    try:
        settings, notices = logic.check(model, scheduler, steps, eta, seed, label, guidance)
    except UserError as exc:
        yield warning(str(exc))
        return
    every = max(1, settings.steps // 25)  # ~25 screen updates per run whatever the step count
    try:
        for traj in logic.stream(settings, every=every):
            shown = {**_status(traj, notices), **_frame_outputs(traj, traj.n - 1)}
            if not traj.done:  # the run so far; the downloads wait for the end
                yield {**shown, "step": gr.update(maximum=max(traj.n - 1, 1), value=traj.n - 1), "traj": None}
                continue
            gif = export_file(_export_name(settings, ".gif"), lambda traj=traj: logic.gif_bytes(traj))
            yield {**shown, "step": gr.update(maximum=max(traj.n - 1, 1), value=traj.n - 1, interactive=traj.n > 1),
                   "traj": traj, "final": logic.final_image(traj, SIDE), "gif": gif,
                   "png": frame_export(traj, traj.n - 1)}
    except UserError as exc:
        yield warning(str(exc))
    except RuntimeError as exc:  # a model that cannot load: say so, keep serving
        yield warning(f"The model could not run: {exc}")


def scrub(traj, i) -> dict:
    return {} if traj is None else _frame_outputs(traj, int(i))


def _export_name(s: logic.Settings, suffix: str) -> str:
    """Every setting in the name: two sessions' different runs never overwrite each other's files."""
    return f"diffusion-{s.model}-{s.scheduler}{s.steps}-s{s.seed}-l{s.label}-g{s.guidance:g}-e{s.eta:g}{suffix}"


def frame_export(traj, i):
    if traj is None:
        return None
    return export_file(_export_name(traj.settings, f"-step{int(i)}.png"), lambda: logic.frame_png(traj, int(i)))


def forward(kind, index, upload, schedule, t, seed) -> dict:
    try:
        x0 = logic.source_image(kind, int(index), upload)
        xt = logic.add_noise(x0, int(t), schedule, int(seed))
    except UserError as exc:
        return warning(str(exc), to="fstats")
    return {"fstats": logic.forward_stats(int(t), schedule), "fx0": logic.enlarge(logic.to_uint8(x0), SIDE),
            "fxt": logic.enlarge(logic.to_uint8(xt), SIDE), "fstrip": logic.forward_strip(x0, schedule, int(seed)),
            "curves": logic.schedule_figure(int(t))}


def compare(model, seed, label, sa, na, ga, sb, nb, gb, progress=gr.Progress()) -> dict:
    """Two runs from the same seed and digit, each as a strip of predicted x0 (progress per step): run A in
    ta/ia/la (text, strip, step labels), run B in tb/ib/lb."""
    outs = {}
    try:
        for k, (sched, n, g) in enumerate(((sa, na, ga), (sb, nb, gb))):
            settings, notices = logic.check(model, sched, n, 0.0, seed, label, g)
            name = f"Run {'AB'[k]}: {settings.scheduler.upper()} {settings.steps} steps"
            for traj in logic.stream(settings, every=max(1, settings.steps // 20)):
                progress((k + traj.n / settings.steps) / 2, desc=name)
            text = (f"**Run {'AB'[k]}: {settings.describe()}** · {traj.seconds:.2f} s"
                    + "".join(f"\n\n⚠️ {m}" for m in notices + traj.notices))
            ab = "ab"[k]
            outs |= {f"t{ab}": text, f"i{ab}": logic.filmstrip(traj), f"l{ab}": logic.strip_labels(traj)}
    except UserError as exc:
        return warning(str(exc), to="ta")
    return outs


def add_point(typed: str, evt: gr.SelectData):
    """A click on the pad appends its point to the text box (the one place the points live)."""
    x, y = toy2d.pad_to_point(*evt.index)
    text = ((typed or "").rstrip() + f"\n{x:g}, {y:g}").lstrip()
    return text, toy2d.pad_image(text), "drawn"


def undo_point(typed: str):
    text = "\n".join((typed or "").rstrip().splitlines()[:-1])
    return text, toy2d.pad_image(text)


def toy(dataset, typed, scheduler, steps, seed, progress=gr.Progress()):
    try:
        points = toy2d.parse_points(typed) if dataset == "drawn" else None
        progress(0.1, desc="Denoising the cloud")
        run = toy2d.reverse(dataset, scheduler, int(steps), n=500, seed=int(seed), points=points)
    except UserError as exc:
        return f"### ⚠️ {exc}", gr.update()
    d_end = toy2d.distance_to_data(run.path[-1], run.data)
    d_start = toy2d.distance_to_data(run.path[0], run.data)
    kind = ("exact denoiser for your points (the loss minimiser: it memorises)" if dataset == "drawn"
            else "small MLP trained on this dataset (training/train_toy2d.py)")
    text = (f"**Noise predictor:** {kind} · {scheduler.upper()} {len(run.timesteps)} steps, 500 samples.\n\n"
            f"Mean distance to the nearest training point: **{d_start:.2f}** for the starting noise → "
            f"**{d_end:.3f}** after denoising. Press ▶ Play under the plot.")
    return text, toy2d.figure(run, toy2d.DATASETS[dataset])


# Every tab is built by a function of its own, which also wires the tab's events; build() puts them together.

def _reverse_tab(hidden: dict, last: dict) -> tuple[dict, Outputs]:
    """Tab 1: the controls of a run (by setting name, for the share bar) and the tab's outputs."""
    g0, g_max = logic.default_guidance(), logic.guidance_slider_max()
    with gr.Row(elem_classes="gb-main"):
        with gr.Column(scale=1, min_width=280):
            # The button first: on a 1024x768 projector it must be on screen without scrolling.
            go = gr.Button("Generate", variant="primary", elem_id="diff-generate")
            label = gr.Dropdown(LABEL_CHOICES, value="3", label="Digit to draw")
            guidance = gr.Slider(0, g_max, value=g0, step=0.25,
                                 label=f"Guidance scale (0 = unconditional; {g0:g} reads best, measured)")
            scheduler = gr.Radio(SCHED_LABELS, value="ddim", label="Scheduler (diffusers)")
            steps = gr.Slider(1, logic.MAX_STEPS, value=50, step=1, label="Steps")
            eta = gr.Slider(0, 1, value=0, step=0.05, label="eta (DDIM only: 0 = deterministic)",
                            elem_classes="gb-advanced")
            seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            model = gr.Dropdown(MODEL_LABELS, value=logic.DEFAULT_MODEL, label="Model", elem_classes="gb-advanced")
        with gr.Column(scale=3):
            status = gr.Markdown("Press **Generate**.", elem_id="diff-status")
            timing = gr.Markdown(elem_id="diff-timing")
            with gr.Row(equal_height=True):
                xt_img = gr.Image(label="x_t (what the model sees)", interactive=False, height=SIDE + 40,
                                  buttons=["download"], elem_id="diff-xt")
                x0_img = gr.Image(label="predicted x₀ (the clean image it believes in)", interactive=False,
                                  height=SIDE + 40, buttons=["download"], elem_id="diff-x0")
                eps_img = gr.Image(label="predicted noise ε (grey = 0, scale ±3)", interactive=False,
                                   height=SIDE + 40, buttons=["download"], elem_id="diff-eps")
            step = gr.Slider(0, 49, value=0, step=1, label="Step (scrub the finished run)", interactive=True,
                             elem_id="diff-step")
            with gr.Row():
                final = gr.Image(label="Final sample", interactive=False, height=180, buttons=[], elem_id="diff-final")
                with gr.Column():
                    gif = gr.DownloadButton("⬇️ GIF of the whole run")
                    png = gr.DownloadButton("⬇️ PNG of this step (x_t | x₀ | ε)")
    traj = gr.State(None)
    outs = Outputs(status=status, timing=timing, xt_img=xt_img, x0_img=x0_img, eps_img=eps_img, step=step,
                   traj=traj, final=final, gif=gif, png=png)
    controls = {"model": model, "scheduler": scheduler, "steps": steps, "eta": eta, "seed": seed, "label": label,
                "guidance": guidance, "step": step}
    go.click(outs.fn(generate), [model, scheduler, steps, eta, seed, label, guidance], outs.list(),
             show_progress="hidden", **hidden)
    step.input(outs.fn(scrub), [traj, step], outs.list("xt_img", "x0_img", "eps_img"), show_progress="hidden",
               **last)
    step.input(frame_export, [traj, step], png, show_progress="hidden", **last)
    return controls, outs


def _forward_tab(hidden: dict) -> gr.Tab:
    with gr.Tab("2 · Forward process") as tab:
        gr.Markdown("Noise is added in closed form: any $t$ in one jump, "
                    "$x_t = \\sqrt{\\bar\\alpha_t}\\,x_0 + \\sqrt{1-\\bar\\alpha_t}\\,\\varepsilon$.",
                    latex_delimiters=LATEX)
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                src = gr.Radio([("a real digit", "digit")] + [(n, n) for n in logic.SAMPLES] +
                               [("my upload", "upload")], value="digit", label="Image x₀")
                index = gr.Slider(0, 1796, value=3, step=1, label="Which digit (of 1,797)")
                upload = gr.File(label="Upload (for 'my upload')", file_types=["image"], type="filepath", height=150)
                schedule = gr.Radio([(v, k) for k, v in logic.FORWARD_SCHEDULES.items()], value="cosine",
                                    label="Noise schedule")
                t = gr.Slider(0, 999, value=250, step=1, label="t")
                fseed = gr.Number(0, precision=0, minimum=0, label="Noise seed")
            with gr.Column(scale=3):
                fstats = gr.Markdown(elem_id="diff-forward-stats")
                with gr.Row():
                    fx0 = gr.Image(label="x₀", interactive=False, height=SIDE, buttons=[])
                    fxt = gr.Image(label="x_t", interactive=False, height=SIDE, buttons=[], elem_id="diff-fxt")
                # No fixed height: the strip scales to the column's width, so t = 999 is never cut off.
                fstrip = gr.Image(label="t = " + ", ".join(map(str, logic.FORWARD_TS)), interactive=False,
                                  buttons=["download"], elem_id="diff-strip")
                curves = gr.Plot(label="Schedules", elem_id="diff-curves")
    outs = Outputs(fstats=fstats, fx0=fx0, fxt=fxt, fstrip=fstrip, curves=curves)
    run, inputs = outs.fn(forward), [src, index, upload, schedule, t, fseed]
    on_user_set([src, index, schedule, t, fseed], run, inputs, outs.list(), show_progress="hidden")
    tab.select(run, inputs, outs.list(), show_progress="hidden", **hidden)  # never a blank tab
    upload.upload(lambda: "upload", None, src, **hidden).then(run, inputs, outs.list(), **hidden)
    return tab


def _compare_tab(hidden: dict) -> None:
    g0, g_max = logic.default_guidance(), logic.guidance_slider_max()
    with gr.Tab("3 · Compare two runs"):
        gr.Markdown("Same model, seed and digit; change the sampler, the number of steps or the guidance. "
                    "Strips show the predicted x₀ at evenly spaced steps, then the final sample.")
        with gr.Row():
            cseed = gr.Number(0, precision=0, minimum=0, label="Seed")
            clabel = gr.Dropdown(LABEL_CHOICES, value="3", label="Digit")
            cmodel = gr.Dropdown(MODEL_LABELS, value=logic.DEFAULT_MODEL, label="Model")
        with gr.Row():
            with gr.Column():
                sa = gr.Radio(SCHED_LABELS, value="ddpm", label="Run A scheduler")
                na = gr.Slider(1, logic.MAX_STEPS, value=1000, step=1, label="Run A steps")
                ga = gr.Slider(0, g_max, value=g0, step=0.25, label="Run A guidance")
            with gr.Column():
                sb = gr.Radio(SCHED_LABELS, value="ddim", label="Run B scheduler")
                nb = gr.Slider(1, logic.MAX_STEPS, value=50, step=1, label="Run B steps")
                gb = gr.Slider(0, g_max, value=g0, step=0.25, label="Run B guidance")
        cgo = gr.Button("Run both", variant="primary", elem_id="diff-compare")
        outs = Outputs(ta=gr.Markdown(elem_id="diff-compare-a"),
                       ia=gr.Image(show_label=False, interactive=False, height=120, buttons=["download"]),
                       la=gr.Markdown(), tb=gr.Markdown(elem_id="diff-compare-b"),
                       ib=gr.Image(show_label=False, interactive=False, height=120, buttons=["download"]),
                       lb=gr.Markdown())
    cgo.click(outs.fn(compare), [cmodel, cseed, clabel, sa, na, ga, sb, nb, gb], outs.list(), **hidden)


def _toy_tab(hidden: dict, last: dict) -> None:
    with gr.Tab("4 · 2-D toy"):
        gr.Markdown("The same idea in two dimensions: 500 noise points are denoised together, so the whole "
                    "reverse process is one animation. Grey: training data; red: samples.")
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                dset = gr.Radio([(v, k) for k, v in toy2d.DATASETS.items()], value="moons", label="Data")
                pad = gr.Image(toy2d.pad_image(""), label="Click to place your points (−3…3)", interactive=False,
                               height=toy2d.PAD_SIDE, width=toy2d.PAD_SIDE, buttons=[], elem_id="diff-toy-pad",
                               elem_classes="gb-pick")
                with gr.Row():
                    undo = gr.Button("Undo last point", size="sm")
                    clear = gr.Button("Clear points", size="sm")
                typed = gr.Textbox(label="Your points, 'x, y' per line (clicks land here; type or paste too)",
                                   lines=3, placeholder="0, 0\n1, 1\n2, 0", elem_id="diff-toy-points")
                tsched = gr.Radio(SCHED_LABELS, value="ddim", label="Scheduler")
                tsteps = gr.Slider(1, 1000, value=50, step=1, label="Steps")
                tseed = gr.Number(0, precision=0, minimum=0, label="Seed")
                tgo = gr.Button("Denoise the cloud", variant="primary", elem_id="diff-toy-go")
            with gr.Column(scale=2):
                tstatus = gr.Markdown(elem_id="diff-toy-status")
                tplot = gr.Plot(elem_id="diff-toy-plot")
    quiet = {"show_progress": "hidden", **hidden}
    tgo.click(toy, [dset, typed, tsched, tsteps, tseed], [tstatus, tplot], **hidden)
    pad.select(add_point, typed, [typed, pad, dset], **quiet)
    undo.click(undo_point, typed, [typed, pad], **quiet)
    clear.click(lambda: ("", toy2d.pad_image("")), None, [typed, pad], **quiet)
    typed.input(toy2d.pad_image, typed, pad, show_progress="hidden", **last)


def show(c: dict) -> dict:
    """A link's run, finished (from the cache when it ran before), on the link's frame."""
    out: dict = {}
    run = generate(c["model"], c["scheduler"], c["steps"], c["eta"], c["seed"], c["label"], c["guidance"])
    for out in run:  # noqa: B007 - runs it out: the last update holds the finished run
        pass
    traj = out.get("traj")
    if isinstance(traj, logic.Trajectory):
        i = min(int(c["step"]), traj.n - 1)
        out = {**out, **_frame_outputs(traj, i), "png": frame_export(traj, i),
               "step": gr.update(maximum=max(traj.n - 1, 1), value=i, interactive=traj.n > 1)}
    return out


def record(c: dict) -> dict:
    settings, notices = logic.check(c["model"], c["scheduler"], c["steps"], c["eta"], c["seed"], c["label"],
                                    c["guidance"])
    traj = logic.run(settings)
    i = min(int(c["step"]), traj.n - 1)
    # The numbers only (the frames are in the GIF and PNG downloads): this runs on every scrub.
    return api.respond(traj, {"timesteps": list(traj.timesteps), "shown_step": i, "shown_t": traj.timesteps[i],
                              "seconds": round(traj.seconds, 3)}, api.Clock(), [*notices, *traj.notices])


def build() -> None:
    """Add the diffusion page (and its /diffusion API endpoint) to the current Blocks context."""
    gr.Markdown("# 🌫️ Diffusion step-through: from noise to a digit\n"
                "A diffusion model learns to remove a little noise at a time. Start from pure noise, ask the model "
                "what clean image it sees and which noise to take away, step, repeat. Every step is kept: scrub it.")
    bar = ShareBar(logic.VIEW)
    hidden = {"api_visibility": "private"}
    # A control's events run for its latest value: a change made while the last one is still computing is
    # queued (the newest replaces older ones) instead of dropped, so the page always ends on what was asked.
    last = {**hidden, "trigger_mode": "always_last"}
    with gr.Tabs():
        with gr.Tab("1 · Reverse process"):
            controls, outs = _reverse_tab(hidden, last)
        _forward_tab(hidden)
        _compare_tab(hidden)
        _toy_tab(hidden, last)
    bar.wire(controls, outs, show, to_param={"seed": lambda v: int(v or 0), "steps": int, "step": int},
             record=record)
    explainer("How diffusion models work", HERE, logic.explainer_values())
    gr.api(diffusion_api, api_name="diffusion")


if __name__ == "__main__":
    from apps.gradio_common import launch_page

    launch_page(build, "Glassbox · Diffusion step-through")
