"""GAN latent arithmetic page for Gradio. Runnable alone: python -m apps.gan_latent.ui_gradio"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np

from apps.gan_latent import faces, lab, logic
from apps.gradio_common import ShareBar, explainer, export_file, user_set
from core import api, images, lane, models
from core.errors import UserError

HERE = Path(__file__).parent
MODEL_LABELS = [(models.MODELS[m].title.split(" (")[0], m) for m in logic.MODEL_CHOICES]
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


# --- page ----------------------------------------------------------------------------------------------

def _status(r: logic.GanResult) -> str:
    return "\n\n".join([f"**Model:** {r.model_label}", *[f"⚠️ {n}" for n in r.notices]])


def show_samples(start, count, truncation, model):
    try:
        seeds = list(range(int(start or 0), int(start or 0) + int(count or 16)))
        r = logic.sample(seeds, truncation, model)
    except (UserError, ValueError) as exc:
        return f"⚠️ {exc}", gr.update(), gr.update()
    png = export_file(f"gan-{r.model}-samples-{seeds[0]}-{len(seeds)}-psi{float(truncation):g}.png",
                      lambda: images.to_png_bytes(logic.grid_image(r.images)))
    return _status(r), [(logic.enlarge(im), f"seed {s}") for im, s in zip(r.images, seeds)], png


def show_path(a, b, steps, model):
    try:
        s = logic.interpolate(a, b, steps, "slerp", model)
        li = logic.interpolate(a, b, steps, "lerp", model)
    except UserError as exc:
        return f"⚠️ {exc}", gr.update(), gr.update(), gr.update(), gr.update()
    typical = float(len(s.latents[0]) ** 0.5)
    gif = export_file(f"gan-{s.model}-slerp-{s.extra['seed_a']}-{s.extra['seed_b']}-{s.extra['steps']}.gif",
                      lambda: logic.gif_bytes(s.images))
    caption = lambda r: [(logic.enlarge(im), f"|z| = {n:.1f}") for im, n in zip(r.images, r.latent_norms)]  # noqa: E731
    return (_status(s), caption(s), caption(li), logic.norms_figure(li.latent_norms, s.latent_norms, typical), gif)


def show_edit(attribute, strength, start, model):
    try:
        seeds = list(range(int(start or 0), int(start or 0) + 6))
        before, after = logic.edit(seeds, attribute, strength, model)
    except (UserError, ValueError) as exc:
        return f"⚠️ {exc}", gr.update(), gr.update(), gr.update()
    text = (f"**{attribute.replace('_', ' ')}** × {after.extra['strength']:g}. "
            f"Measured: {logic.success_text(attribute)}.")
    return (text, [(logic.enlarge(i), f"seed {s}") for i, s in zip(before.images, seeds)],
            [(logic.enlarge(i), "edited") for i in after.images],
            [(logic.enlarge(logic.diff_image(b, a)), "what changed") for b, a in zip(before.images, after.images)])


def default_strength(attribute):
    return logic.best_strength(attribute), f"Measured best strength: {logic.success_text(attribute)}."


def show_analogy(a, b, c, model):
    try:
        r = logic.analogy(a, b, c, model)
    except UserError as exc:
        return f"⚠️ {exc}", gr.update()
    names = [f"A (seed {r.extra['a']})", f"B (seed {r.extra['b']})", f"C (seed {r.extra['c']})", "A − B + C"]
    return _status(r), [(logic.enlarge(i), n) for i, n in zip(r.images, names)]


def show_real(seed):
    try:
        imgs, attrs = logic.real(16, seed)
    except UserError:
        return gr.update()
    return [(logic.enlarge(i), ", ".join(k.replace("_", " ") for k, v in a.items() if v) or "none")
            for i, a in zip(imgs, attrs)]


def lab_reset(loss, seed):
    run = lane.run(lambda: lab.new_run(loss, int(seed or 0)), "gan_lab")
    return run, lane.run(lambda: lab.figure(run), "gan_lab"), "Step or play to train."


def lab_step(run, loss, seed, n):
    if run is None or run.loss != loss:
        run = lane.run(lambda: lab.new_run(loss, int(seed or 0)), "gan_lab")
    lane.run(lambda: lab.train(run, int(n)), "gan_lab")
    return run, lane.run(lambda: lab.figure(run), "gan_lab"), _lab_text(run)


def lab_play(run, loss, seed, progress=gr.Progress()):
    """Train in chunks of 50 steps and redraw after each, up to 1,000 steps (Pause stops it)."""
    if run is None or run.loss != loss:
        run = lane.run(lambda: lab.new_run(loss, int(seed or 0)), "gan_lab")
    for k in range(20):
        if run.step >= lab.MAX_STEPS:
            break
        progress((k + 1) / 20, desc=f"step {run.step + 50}")
        lane.run(lambda: lab.train(run, 50), "gan_lab")
        yield run, lane.run(lambda: lab.figure(run), "gan_lab"), _lab_text(run)


def _lab_text(run: lab.LabRun) -> str:
    if not run.history:
        return f"Step {run.step}."
    h = run.history[-1]
    return (f"Step {run.step}: **{h['modes']} of {lab.MODES} blobs** get samples, {h['on_ring']:.0%} of samples on a "
            f"blob. Discriminator loss {h['d_loss']:.3f}, generator loss {h['g_loss']:.3f}.")


def build() -> None:
    """Add the GAN page (and its /gan_* API endpoints) to the current Blocks context."""
    gr.Markdown("# 🧮 GAN latent arithmetic: walk, blend and add vectors\n"
                "A generator turns a random vector z into a face. Nearby vectors give similar faces, and some "
                "directions mean something: add the 'glasses' direction and glasses appear.")
    bar = ShareBar(logic.VIEW)
    with gr.Row():
        model = gr.Dropdown(MODEL_LABELS, value=logic.DEFAULT_MODEL, label="Generator", elem_id="gan-model",
                            scale=2)
        status = gr.Markdown(elem_id="gan-status")
    with gr.Tabs():
        with gr.Tab("Samples"):
            with gr.Row():
                start = gr.Number(0, precision=0, minimum=0, label="First seed", elem_id="gan-start")
                count = gr.Slider(4, 32, value=16, step=4, label="How many")
                trunc = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Truncation ψ (z × ψ)", elem_id="gan-trunc")
            grid = gr.Gallery(columns=8, height="auto", allow_preview=False, buttons=[], elem_id="gan-grid")
            grid_png = gr.DownloadButton("⬇️ PNG of these samples", elem_id="gan-png", size="sm")
        with gr.Tab("Interpolate"):
            with gr.Row():
                seed_a = gr.Number(3, precision=0, minimum=0, label="Seed A", elem_id="gan-seed-a")
                seed_b = gr.Number(7, precision=0, minimum=0, label="Seed B", elem_id="gan-seed-b")
                steps = gr.Slider(3, 15, value=9, step=1, label="Steps")
            gr.Markdown("**slerp** (along the arc: every point as long as a typical latent)")
            path_s = gr.Gallery(columns=9, height="auto", allow_preview=False, buttons=[], elem_id="gan-slerp")
            gr.Markdown("**lerp** (the straight line: the middle is shorter than any typical latent)")
            path_l = gr.Gallery(columns=9, height="auto", allow_preview=False, buttons=[], elem_id="gan-lerp")
            with gr.Row():
                norms = gr.Plot(elem_id="gan-norms")
                gif = gr.DownloadButton("⬇️ GIF of the slerp path", elem_id="gan-gif")
        with gr.Tab("Attributes"):
            with gr.Row():
                attribute = gr.Radio(ATTRIBUTES, value="glasses", label="Attribute", elem_id="gan-attribute")
                strength = gr.Slider(-4, 4, value=logic.best_strength("glasses"), step=0.25,
                                     label="Strength (negative removes)", elem_id="gan-strength")
                edit_start = gr.Number(0, precision=0, minimum=0, label="First seed")
            edit_text = gr.Markdown(elem_id="gan-edit-text")
            before = gr.Gallery(label="Before", columns=6, height="auto", allow_preview=False, buttons=[])
            after = gr.Gallery(label="After", columns=6, height="auto", allow_preview=False, buttons=[],
                               elem_id="gan-after")
            diff = gr.Gallery(label="What changed", columns=6, height="auto", allow_preview=False, buttons=[])
        with gr.Tab("Analogy A − B + C"):
            with gr.Row():
                an_a = gr.Number(0, precision=0, minimum=0, label="A")
                an_b = gr.Number(1, precision=0, minimum=0, label="B")
                an_c = gr.Number(2, precision=0, minimum=0, label="C")
                an_go = gr.Button("Compute A − B + C", variant="primary")
            an_out = gr.Gallery(columns=4, height="auto", allow_preview=False, buttons=[], elem_id="gan-analogy")
        with gr.Tab("Real training faces"):
            gr.Markdown("What the faces GAN learned from: generated faces with four known attributes and random "
                        "position, size, skin tone and colours. The GAN never saw the attribute labels.")
            real_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            real = gr.Gallery(columns=8, height="auto", allow_preview=False, buttons=[], elem_id="gan-real")
        with gr.Tab("GAN Lab lite (2-D)"):
            gr.Markdown("A tiny GAN learns a ring of 8 blobs, live. **Standard** training collapses onto a spot or "
                        "two and hops between them; **WGAN-GP** spreads over the ring. The shading is the "
                        "discriminator's view.\n\n" + lab.measured_claim(), elem_id="gan-lab-claim")
            with gr.Row():
                loss = gr.Radio([(v, k) for k, v in lab.LOSSES.items()], value="standard", label="Training",
                                elem_id="gan-lab-loss")
                lab_seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            with gr.Row():
                step_btn = gr.Button("Step (+100)", elem_id="gan-lab-step")
                play_btn = gr.Button("▶️ Play (+1,000)", variant="primary", elem_id="gan-lab-play")
                pause_btn = gr.Button("⏸️ Pause")
                reset_btn = gr.Button("Reset")
            lab_text = gr.Markdown(elem_id="gan-lab-text")
            lab_plot = gr.Plot(elem_id="gan-lab-plot")

    hidden = {"api_visibility": "private"}
    last = {**hidden, "trigger_mode": "always_last"}
    run_state = gr.State(None)
    sample_io = ([start, count, trunc, model], [status, grid, grid_png])
    path_io = ([seed_a, seed_b, steps, model], [status, path_s, path_l, norms, gif])
    edit_io = ([attribute, strength, edit_start, model], [edit_text, before, after, diff])
    start.submit(show_samples, *sample_io, **last)
    for c in (count, trunc):
        c.release(show_samples, *sample_io, **last)
    for c in (seed_a, seed_b):
        c.submit(show_path, *path_io, **last)
    steps.release(show_path, *path_io, **last)
    attribute.input(default_strength, attribute, [strength, edit_text], **hidden).then(show_edit, *edit_io, **hidden)
    strength.release(show_edit, *edit_io, **last)
    edit_start.submit(show_edit, *edit_io, **last)
    an_go.click(show_analogy, [an_a, an_b, an_c, model], [status, an_out], **hidden)
    real_seed.submit(show_real, real_seed, real, **hidden)
    user_set(model)(show_samples, *sample_io, **last).then(show_path, *path_io, **hidden).then(
        show_edit, *edit_io, **hidden)
    step_btn.click(lab_step, [run_state, loss, lab_seed, gr.State(100)], [run_state, lab_plot, lab_text], **hidden)
    playing = play_btn.click(lab_play, [run_state, loss, lab_seed], [run_state, lab_plot, lab_text], **hidden)
    pause_btn.click(None, None, None, cancels=[playing], **hidden)
    for c in (reset_btn.click, loss.input):
        c(lab_reset, [loss, lab_seed], [run_state, lab_plot, lab_text], **hidden)

    def show(c: dict) -> tuple:
        """A link's view on every tab at once (the real faces and the lab open on their starts)."""
        m = c["model"]
        run, fig, text = lab_reset("standard", 0)
        return (*show_samples(c["start"], c["count"], c["truncation"], m),
                *show_path(c["seed_a"], c["seed_b"], c["steps"], m)[1:],
                *show_edit(c["attribute"], c["strength"], c["edit_start"], m),
                show_analogy(c["a"], c["b"], c["c"], m)[1], show_real(0), run, fig, text)

    def record(c: dict) -> dict:
        m = c["model"]
        samples = logic.sample(list(range(c["start"], c["start"] + c["count"])), c["truncation"], m)
        before, after = logic.edit(list(range(c["edit_start"], c["edit_start"] + 6)), c["attribute"], c["strength"], m)
        return logic.payload(samples, api.Clock(), {
            "samples_latent_norms": samples.latent_norms, "edit": {"attribute": c["attribute"],
                                                                   "strength": after.extra["strength"],
                                                                   "measured": logic.success_text(c["attribute"])}})

    outs = [status, grid, grid_png, path_s, path_l, norms, gif, edit_text, before, after, diff, an_out, real, run_state,
            lab_plot, lab_text]
    as_int = lambda v: int(v or 0)  # noqa: E731 - number boxes hold floats or None
    bar.wire({"model": model, "start": start, "count": count, "truncation": trunc, "seed_a": seed_a,
              "seed_b": seed_b, "steps": steps, "attribute": attribute, "strength": strength,
              "edit_start": edit_start, "a": an_a, "b": an_b, "c": an_c}, outs, show,
             to_param={k: as_int for k in ("start", "count", "seed_a", "seed_b", "steps", "edit_start", "a", "b",
                                           "c")}, record=record)
    explainer("How GANs work: the game, the latent space, and why training is hard", HERE, logic.explainer_values())
    gr.api(gan_real, api_name="gan_real")
    gr.api(gan_sample, api_name="gan_sample")
    gr.api(gan_interpolate, api_name="gan_interpolate")
    gr.api(gan_edit, api_name="gan_edit")
    gr.api(gan_analogy, api_name="gan_analogy")


if __name__ == "__main__":
    from apps.gradio_common import launch_page

    launch_page(build, "Glassbox · GAN latent arithmetic")
