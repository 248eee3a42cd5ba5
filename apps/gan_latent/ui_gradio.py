"""GAN latent arithmetic page for Gradio. Runnable alone: python -m apps.gan_latent.ui_gradio"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np

from apps.gan_latent import faces, lab, logic
from apps.gradio_common import Outputs, ShareBar, explainer, export_file, on_user_set, warning
from core import api, images, models
from core.errors import UserError

HERE = Path(__file__).parent
MODEL_LABELS = [(models.MODELS[m].short_name, m) for m in logic.MODEL_CHOICES]
ATTRIBUTES = list(faces.ATTRIBUTES)


# --- API -----------------------------------------------------------------------------------------------

def _api(fn, **link):
    """Run one endpoint: user errors become a clear gr.Error, the server stays up. link: the page settings
    that show the same thing (the response's share_url)."""
    try:
        out = fn()
    except UserError as exc:
        raise gr.Error(str(exc)) from exc
    return {**out, "share_url": logic.VIEW.url(logic.share_values(**link))}


def _first_and_count(seeds) -> tuple[int | None, int | None]:
    """The Samples tab shows seeds start, start+1, ...: the link's start and count for a list of seeds."""
    try:
        s = logic.check_seeds(seeds)
    except UserError:
        return None, None
    return s[0], min(max(len(s), 4), 32)


def gan_real(n: int = 16, seed: int = 0) -> dict:
    """Real training faces (generated, attributes known) and their attributes. See the README."""
    def go():
        clock = api.Clock()
        imgs, attrs = logic.real(16 if n is None else n, 0 if seed is None else seed)
        clock.lap("model")
        head = logic.GanResult("training-data", "the training data: generated cartoon faces (no model runs)", "cpu",
                               True, imgs, np.zeros((len(imgs), 1)))
        return logic.payload(head, clock, {"images": logic.urls(imgs), "attributes": attrs,
                                           "attribute_names": list(faces.ATTRIBUTES)})
    return _api(go)  # the training data has no page settings of its own: the link opens the page's defaults


def gan_sample(seeds: list[int] | str, truncation: float = 1.0, model: str = logic.DEFAULT_MODEL) -> dict:
    """One generated image per seed (same seed, same image). See the README."""
    def go():
        clock = api.Clock()
        r = logic.sample(seeds, truncation, model)
        clock.lap("model")
        return logic.payload(r, clock, {"images": logic.urls(r.images), "latent_norms": r.latent_norms,
                                        "seeds": r.extra["seeds"], "truncation": r.extra["truncation"]})
    start, count = _first_and_count(seeds)
    return _api(go, model=model, start=start, count=count, truncation=truncation)


def gan_interpolate(seed_a: int, seed_b: int, steps: int = 9, mode: str = "slerp",
                    model: str = logic.DEFAULT_MODEL) -> dict:
    """From seed_a's sample to seed_b's along slerp or lerp. See the README."""
    def go():
        clock = api.Clock()
        r = logic.interpolate(seed_a, seed_b, 9 if steps is None else steps, mode or "slerp", model)
        clock.lap("model")
        return logic.payload(r, clock, {"images": logic.urls(r.images), "latent_norms": r.latent_norms,
                                        "mode": r.extra["mode"]})
    return _api(go, model=model, seed_a=seed_a, seed_b=seed_b, steps=steps)


def gan_edit(seeds: list[int] | str, attribute: str, strength: float | None = None,
             model: str = logic.DEFAULT_MODEL) -> dict:
    """Add strength x an attribute's direction to each seed's latent (negative removes it). See the README."""
    def go():
        clock = api.Clock()
        before, after = logic.edit(seeds, attribute, strength, model)
        clock.lap("model")
        return logic.payload(after, clock, {"images": logic.urls(before.images), "edited": logic.urls(after.images),
                                            "attribute": attribute, "strength": after.extra["strength"]})
    return _api(go, model=model, attribute=attribute, strength=strength if strength is not None else
                logic.best_strength(attribute or "glasses"), edit_start=_first_and_count(seeds)[0])


def gan_analogy(a: int, b: int, c: int, model: str = logic.DEFAULT_MODEL) -> dict:
    """The image of a - b + c (seeds), with the three inputs. See the README."""
    def go():
        clock = api.Clock()
        r = logic.analogy(a, b, c, model)
        clock.lap("model")
        return logic.payload(r, clock, {"image": logic.urls(r.images[3:])[0], "inputs": logic.urls(r.images[:3])})
    return _api(go, model=model, a=a, b=b, c=c)


# --- page: every handler returns {output name: value}; one Outputs maps the names to components ----------

D = logic.VIEW.defaults()  # what the page opens on, the same as a link without settings


def _status(r: logic.GanResult) -> str:
    return "\n\n".join([f"**Model:** {r.model_label}", *[f"⚠️ {n}" for n in r.notices]])


def _seeds(start, n: int) -> list[int]:
    return list(range(int(start or 0), int(start or 0) + int(n)))


def show_samples(start, count, truncation, model) -> dict:
    try:
        seeds = _seeds(start, count or D["count"])
        r = logic.sample(seeds, truncation, model)
    except (UserError, ValueError) as exc:
        return warning(str(exc))
    png = export_file(f"gan-{r.model}-samples-{seeds[0]}-{len(seeds)}-psi{float(truncation):g}.png",
                      lambda: images.to_png_bytes(logic.grid_image(r.images)))
    return {"status": _status(r), "grid": [(logic.enlarge(im), f"seed {s}") for im, s in zip(r.images, seeds)],
            "grid_png": png}


def _norm_captions(r: logic.GanResult) -> list:
    return [(logic.enlarge(im), f"|z| = {n:.1f}") for im, n in zip(r.images, r.latent_norms)]


def show_path(a, b, steps, model) -> dict:
    try:
        s = logic.interpolate(a, b, steps, "slerp", model)
        li = logic.interpolate(a, b, steps, "lerp", model)
    except UserError as exc:
        return warning(str(exc))
    typical = float(len(s.latents[0]) ** 0.5)
    gif = export_file(f"gan-{s.model}-slerp-{s.extra['seed_a']}-{s.extra['seed_b']}-{s.extra['steps']}.gif",
                      lambda: logic.gif_bytes(s.images))
    return {"status": _status(s), "path_s": _norm_captions(s), "path_l": _norm_captions(li),
            "norms": logic.norms_figure(li.latent_norms, s.latent_norms, typical), "gif": gif}


def show_edit(attribute, strength, start, model) -> dict:
    try:
        seeds = _seeds(start, logic.EDIT_SEEDS)
        before, after = logic.edit(seeds, attribute, strength, model)
    except (UserError, ValueError) as exc:
        return warning(str(exc), to="edit_text")
    text = (f"**{attribute.replace('_', ' ')}** × {after.extra['strength']:g}. "
            f"Measured: {logic.success_text(attribute)}.")
    return {"edit_text": text, "before": [(logic.enlarge(i), f"seed {s}") for i, s in zip(before.images, seeds)],
            "after": [(logic.enlarge(i), "edited") for i in after.images],
            "diff": [(logic.enlarge(logic.diff_image(b, a)), "what changed") for b, a in zip(before.images,
                                                                                             after.images)]}


def default_strength(attribute):
    return logic.best_strength(attribute), ("Starts at the smallest strength measured to switch it on for 90%: "
                                            f"{logic.success_text(attribute)}.")


def show_analogy(a, b, c, model) -> dict:
    try:
        r = logic.analogy(a, b, c, model)
    except UserError as exc:
        return warning(str(exc))
    names = [f"A (seed {r.extra['a']})", f"B (seed {r.extra['b']})", f"C (seed {r.extra['c']})", "A − B + C"]
    return {"status": _status(r), "an_out": [(logic.enlarge(i), n) for i, n in zip(r.images, names)]}


def show_real(seed) -> dict:
    try:
        imgs, attrs = logic.real(16, seed)
    except UserError:
        return {}
    return {"real": [(logic.enlarge(i), ", ".join(k.replace("_", " ") for k, v in a.items() if v) or "none")
                     for i, a in zip(imgs, attrs)]}


def _lab_view(run: lab.LabRun, text: str | None = None) -> dict:
    return {"run": run, "lab_plot": lab.drawn(run), "lab_curve": lab.coverage_figure(run),
            "lab_text": lab.status_text(run) if text is None else text}


def lab_reset(loss, seed) -> dict:
    return _lab_view(lab.current(None, loss, seed), "Step or play to train.")


def lab_step(run, loss, seed) -> dict:
    return _lab_view(lab.step(lab.current(run, loss, seed)))


def lab_play(run, loss, seed, progress=gr.Progress()):
    """Train in chunks and redraw after each (Pause stops it)."""
    run = lab.current(run, loss, seed)
    for done, chunks in lab.play(run):
        progress(done / chunks, desc=f"step {run.step}")
        yield _lab_view(run)


def _controls() -> dict:
    """The generator and the four tabs' settings (by the link's setting name) and the tabs' outputs."""
    lo, hi, step = logic.COUNT_RANGE
    with gr.Tab("Samples"):
        with gr.Row():
            start = gr.Number(D["start"], precision=0, minimum=0, label="First seed", elem_id="gan-start",
                              scale=1)  # the sliders get the width, so that their labels stay on one line
            count = gr.Slider(lo, hi, value=D["count"], step=step, label="How many", scale=2)
            lo, hi, step = logic.TRUNCATION_RANGE
            trunc = gr.Slider(lo, hi, value=D["truncation"], step=step, label="Truncation ψ (z × ψ)",
                              elem_id="gan-trunc", scale=2)
        grid = gr.Gallery(columns=8, height="auto", allow_preview=False, buttons=[], elem_id="gan-grid",
                          label="Samples, one per seed", show_label=False)
        grid_png = gr.DownloadButton("⬇️ PNG of these samples", elem_id="gan-png", size="sm")
    with gr.Tab("Interpolate"):
        with gr.Row():
            seed_a = gr.Number(D["seed_a"], precision=0, minimum=0, label="Seed A", elem_id="gan-seed-a")
            seed_b = gr.Number(D["seed_b"], precision=0, minimum=0, label="Seed B", elem_id="gan-seed-b")
            lo, hi, step = logic.PATH_STEPS_RANGE
            steps = gr.Slider(lo, hi, value=D["steps"], step=step, label="Steps")
        gr.Markdown("**slerp** (along the arc: every point as long as a typical latent)")
        path_s = gr.Gallery(columns=9, height="auto", allow_preview=False, buttons=[], elem_id="gan-slerp")
        gr.Markdown("**lerp** (the straight line: the middle is shorter than any typical latent)")
        path_l = gr.Gallery(columns=9, height="auto", allow_preview=False, buttons=[], elem_id="gan-lerp")
        with gr.Row():
            norms = gr.Plot(elem_id="gan-norms")
            gif = gr.DownloadButton("⬇️ GIF of the slerp path", elem_id="gan-gif")
    with gr.Tab("Attributes"):
        with gr.Row():
            attribute = gr.Radio(ATTRIBUTES, value=D["attribute"], label="Attribute", elem_id="gan-attribute")
            lo, hi, step = logic.STRENGTH_RANGE
            strength = gr.Slider(lo, hi, value=D["strength"], step=step, label="Strength (negative removes)",
                                 elem_id="gan-strength")
            edit_start = gr.Number(D["edit_start"], precision=0, minimum=0, label="First seed")
        edit_text = gr.Markdown(elem_id="gan-edit-text")
        before = gr.Gallery(label="Before", columns=6, height="auto", allow_preview=False, buttons=[])
        after = gr.Gallery(label="After", columns=6, height="auto", allow_preview=False, buttons=[],
                           elem_id="gan-after")
        diff = gr.Gallery(label="What changed", columns=6, height="auto", allow_preview=False, buttons=[])
    with gr.Tab("Analogy A − B + C"):
        with gr.Row():
            an_a = gr.Number(D["a"], precision=0, minimum=0, label="A")
            an_b = gr.Number(D["b"], precision=0, minimum=0, label="B")
            an_c = gr.Number(D["c"], precision=0, minimum=0, label="C")
            an_go = gr.Button("Compute A − B + C", variant="primary")
        an_out = gr.Gallery(columns=4, height="auto", allow_preview=False, buttons=[], elem_id="gan-analogy")
    controls = {"start": start, "count": count, "truncation": trunc, "seed_a": seed_a, "seed_b": seed_b,
                "steps": steps, "attribute": attribute, "strength": strength, "edit_start": edit_start, "a": an_a,
                "b": an_b, "c": an_c}
    outs = dict(grid=grid, grid_png=grid_png, path_s=path_s, path_l=path_l, norms=norms, gif=gif,
                edit_text=edit_text, before=before, after=after, diff=diff, an_out=an_out)
    return {"controls": controls, "outs": outs, "an_go": an_go}


def _real_tab() -> gr.Gallery:
    with gr.Tab("Real training faces"):
        gr.Markdown("What the faces GAN learned from: generated faces with four known attributes and random "
                    "position, size, skin tone and colours. The GAN never saw the attribute labels.")
        real_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
        real = gr.Gallery(columns=8, height="auto", allow_preview=False, buttons=[], elem_id="gan-real")
    real_seed.submit(Outputs(real=real).fn(show_real), real_seed, real, api_visibility="private")
    return real


def _lab_tab(hidden: dict) -> Outputs:
    with gr.Tab("GAN Lab lite (2-D)"):
        gr.Markdown(lab.INTRO + "\n\n" + lab.measured_claim(), elem_id="gan-lab-claim")
        with gr.Row():
            loss = gr.Radio([(v, k) for k, v in lab.LOSSES.items()], value="standard", label="Training",
                            elem_id="gan-lab-loss")
            lab_seed = gr.Number(lab.default_seed(), precision=0, minimum=0, label="Seed")
        with gr.Row():
            step_btn = gr.Button(f"Step (+{lab.STEP})", elem_id="gan-lab-step")
            play_btn = gr.Button(f"▶️ Play (+{lab.PLAY_CHUNK * lab.PLAY_CHUNKS:,})", variant="primary",
                                 elem_id="gan-lab-play")
            pause_btn = gr.Button("⏸️ Pause")
            reset_btn = gr.Button("Reset")
        lab_text = gr.Markdown(elem_id="gan-lab-text")
        lab_plot = gr.Plot(elem_id="gan-lab-plot")
        lab_curve = gr.Plot(elem_id="gan-lab-curve")
    run = gr.State(None)
    outs = Outputs(run=run, lab_plot=lab_plot, lab_curve=lab_curve, lab_text=lab_text)
    step_btn.click(outs.fn(lab_step), [run, loss, lab_seed], outs.list(), **hidden)
    playing = play_btn.click(outs.fn(lab_play), [run, loss, lab_seed], outs.list(), **hidden)
    pause_btn.click(None, None, None, cancels=[playing], **hidden)
    for c in (reset_btn.click, loss.input):
        c(outs.fn(lab_reset), [loss, lab_seed], outs.list(), **hidden)
    return outs


def _wire(model, status, tabs: dict, real: gr.Gallery, lab_outs: Outputs, hidden: dict) -> Outputs:
    """The views' events, and the page's Outputs. Each view (samples, path, edit) is one event for all the
    controls that change it (see on_user_set): its newest run is the one on screen."""
    c = tabs["controls"]
    outs = Outputs(status=status, **tabs["outs"], real=real, **lab_outs.by_name)
    views = (
        (show_samples, [c["start"], c["count"], c["truncation"]], [c["start"].submit],
         ("status", "grid", "grid_png")),
        (show_path, [c["seed_a"], c["seed_b"], c["steps"]], [c["seed_a"].submit, c["seed_b"].submit],
         ("status", "path_s", "path_l", "norms", "gif")),
        (show_edit, [c["attribute"], c["strength"], c["edit_start"]], [c["edit_start"].submit],
         ("edit_text", "before", "after", "diff")),
    )
    for fn, inputs, submits, names in views:
        # A slider counts when it is dragged or a number is typed in its box (input; release missed the typed
        # ones, so the link changed and the picture did not); a number box when Enter is pressed.
        sliders = [x for x in inputs if isinstance(x, gr.Slider)]
        on_user_set([model, *sliders], outs.fn(fn), [*inputs, model], outs.list(*names), events=submits)
    # A new attribute starts at the strength measured to work for it, then shows the edit.
    c["attribute"].input(default_strength, c["attribute"], [c["strength"], outs["edit_text"]], **hidden).then(
        outs.fn(show_edit), [c["attribute"], c["strength"], c["edit_start"], model],
        outs.list("edit_text", "before", "after", "diff"), **hidden)
    tabs["an_go"].click(outs.fn(show_analogy), [c["a"], c["b"], c["c"], model], outs.list("status", "an_out"),
                        **hidden)
    return outs


def show(c: dict) -> dict:
    """A link's view on every tab at once (the real faces and the lab open on their starts)."""
    m = c["model"]
    return {**show_samples(c["start"], c["count"], c["truncation"], m),
            **{k: v for k, v in show_path(c["seed_a"], c["seed_b"], c["steps"], m).items() if k != "status"},
            **show_edit(c["attribute"], c["strength"], c["edit_start"], m),
            **{k: v for k, v in show_analogy(c["a"], c["b"], c["c"], m).items() if k != "status"},
            **show_real(0), **lab_reset("standard", lab.default_seed())}


def record(c: dict) -> dict:
    m = c["model"]
    samples = logic.sample(_seeds(c["start"], c["count"]), c["truncation"], m)
    before, after = logic.edit(_seeds(c["edit_start"], logic.EDIT_SEEDS), c["attribute"], c["strength"], m)
    return logic.payload(samples, api.Clock(), {
        "samples_latent_norms": samples.latent_norms,
        "edit": {"attribute": c["attribute"], "strength": after.extra["strength"],
                 "measured": logic.success_text(c["attribute"])}})


def _as_int(v) -> int:
    return int(v or 0)  # number boxes hold floats or None


def build() -> None:
    """Add the GAN page (and its /gan_* API endpoints) to the current Blocks context."""
    gr.Markdown("# 🧮 GAN latent arithmetic: walk, blend and add vectors\n"
                "A generator turns a random vector z into a face. Nearby vectors give similar faces, and some "
                "directions mean something: add the 'glasses' direction and glasses appear.")
    bar = ShareBar(logic.VIEW)
    hidden = {"api_visibility": "private"}
    with gr.Row(elem_classes="gb-aside"):  # below the pictures in lecture mode
        model = gr.Dropdown(MODEL_LABELS, value=logic.DEFAULT_MODEL, label="Generator", elem_id="gan-model",
                            scale=2)
        status = gr.Markdown(elem_id="gan-status")
    with gr.Tabs():
        tabs = _controls()
        real = _real_tab()
        lab_outs = _lab_tab(hidden)
    outs = _wire(model, status, tabs, real, lab_outs, hidden)
    ints = ("start", "count", "seed_a", "seed_b", "steps", "edit_start", "a", "b", "c")
    bar.wire({"model": model, **tabs["controls"]}, outs, show, to_param=dict.fromkeys(ints, _as_int),
             record=record)
    explainer("How GANs work: the game, the latent space, and why training is hard", HERE, logic.explainer_values())
    gr.api(gan_real, api_name="gan_real")
    gr.api(gan_sample, api_name="gan_sample")
    gr.api(gan_interpolate, api_name="gan_interpolate")
    gr.api(gan_edit, api_name="gan_edit")
    gr.api(gan_analogy, api_name="gan_analogy")


if __name__ == "__main__":
    from apps.gradio_common import launch_page

    launch_page(build, "Glassbox · GAN latent arithmetic")
