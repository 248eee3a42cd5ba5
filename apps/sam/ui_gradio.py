"""SAM prompting page for Gradio. Runnable alone: python -m apps.sam.ui_gradio"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
from gradio import FileData

from apps.gradio_common import Outputs, ShareBar, explainer, export_file, image_picker, on_user_set, warning
from apps.sam import editing, logic, scenes
from core import api, images, models, share
from core.errors import UserError

HERE = Path(__file__).parent
MODEL_LABELS = [(models.MODELS[m].short_name, m) for m in logic.MODEL_CHOICES]
MODES = [(label, key) for key, label in editing.MODES.items()]


def sam_api(image: FileData, points: list | str | None = None, box: list | str | None = None,
            model: str = logic.DEFAULT_MODEL, multimask: bool = True) -> dict:
    """Masks for clicks and/or a box on one image. See the README for the returned fields.

    points: [[x, y, label], ...] in the image's pixels, label 1 (part of the object) or 0 (not); box:
    [x0, y0, x1, y1] or null.
    """
    clock = api.Clock()
    try:
        rgb, original = images.load_image_sized(image)
        clock.lap("decode")
        # The image is worked on at most 1024 pixels wide; points and masks stay in the upload's own pixels.
        multimask = True if multimask is None else bool(multimask)
        result = logic.segment(rgb, points, box, model or logic.DEFAULT_MODEL, multimask, original_size=original)
        clock.lap("model")
    except UserError as exc:
        raise gr.Error(str(exc)) from exc
    name = share.sample_name(rgb) if rgb.shape[:2] == tuple(original) else None
    url = logic.VIEW.url(logic.share_values(result, name, model or logic.DEFAULT_MODEL, multimask))
    return {**logic.api_payload(result, clock), "share_url": url}


def _image(src):
    """The current picture: a gallery path or upload (decoded with size caps), or a generated scene."""
    seed = scenes.seed_of(src)
    return logic.scene(seed) if seed is not None else images.load_image(src)


def _status(r: logic.SamResult, choice: int, seed: int | None) -> str:
    """The engine, its notes, the mask shown (picked or best-scored) and, on a generated scene, its IoU with the
    scene's true mask."""
    lines = [f"**Engine:** {r.model_label}", logic.engine_note(r.model)]
    lines += [f"⚠️ {n}" for n in r.notices]
    lines.append(logic.shown_text(r, choice))
    if seed is not None:
        lines.append(logic.scene_score_text(seed, r.masks[choice]))
    return "\n\n".join(lines)


def _outputs(r: logic.SamResult, prompt: dict, asked: int, first_view: bool = False,
             seed: int | None = None) -> dict:
    """The page's outputs; `asked` is the candidate picked (-1: the best-scored one, kept as -1); first_view: the
    picture is new on the page (its encode is shown with its time); seed: the generated scene shown, if one is."""
    choice = asked if 0 <= asked < len(r.masks) else r.best
    mask = r.masks[choice]
    key = logic.image_key(r.image)[:12]
    stem = f"sam-{r.model}-{key}-{len(r.prompt.points)}pts{'-box' if r.prompt.box else ''}-mask{choice + 1}"
    png = export_file(f"{stem}.png", images.to_png_bytes(logic.mask_png(mask)))
    return {"status": _status(r, choice, seed), "canvas": logic.draw_prompt(r.image, r.prompt, mask,
                                                                             prompt.get("corner")),
            "timing": logic.timing_text(r, first_view), "strip": logic.candidates_strip(r),
            "cut": logic.cutout(r.image, mask),
            "download": png, "prompt": prompt, "choice": asked if 0 <= asked < len(r.masks) else -1,
            **({} if seed is None else {"scene_seed": seed})}


def compute(src, prompt: dict, model, multimask, choice: int = -1, first_view: bool = False) -> dict:
    """Segment with the current prompt: the page's outputs (first_view: the picture is new on the page)."""
    if not src:
        return {"status": "Pick a sample image, a generated scene or upload one, then click on an object."}
    seed = scenes.seed_of(src)  # a generated scene, or None for a photo
    try:
        rgb = _image(src)
        if editing.is_empty(prompt):
            msg = ("Click on an object to segment it." if prompt.get("corner") is None
                   else "Now click the opposite corner of the box.")
            canvas = logic.draw_prompt(rgb, logic.Prompt([], None), None, prompt.get("corner"))
            return {"status": msg, "canvas": canvas, "timing": "", "strip": [], "cut": None, "download": None,
                    "prompt": prompt, "choice": -1}
        r = logic.segment(rgb, prompt["points"], prompt["box"], model, multimask, scene=seed is not None)
    except UserError as exc:
        return warning(str(exc))
    return _outputs(r, prompt, choice, first_view, seed)


def click(src, prompt: dict, mode, model, multimask, evt: gr.SelectData) -> dict:
    """A click on the picture: a positive or negative point, or a box corner (two clicks make a box)."""
    x, y = (float(v) for v in evt.index)
    prompt, refused = editing.click(prompt, x, y, mode)
    return warning(refused) if refused else compute(src, prompt, model, multimask)


def undo(src, prompt: dict, model, multimask) -> dict:
    return compute(src, editing.undo(prompt), model, multimask)


def new_image(src, model, multimask) -> dict:
    """A new picture starts with one positive click (in its middle), so there is a mask at once."""
    if not src:
        return compute(src, editing.empty(), model, multimask)
    try:
        h, w = _image(src).shape[:2]
    except UserError as exc:
        return warning(str(exc))
    name = share.name_of(src, logic.SAMPLES)
    prompt = {**editing.empty(), "points": [logic.first_click((h, w), name, scenes.seed_of(src))]}
    return compute(src, prompt, model, multimask, first_view=True)


def run_everything(src, model, progress=gr.Progress()):
    if not src:
        return "Pick an image first.", None
    try:
        rgb = _image(src)
        found = logic.everything(rgb, model, progress=lambda i, n: progress(i / n, desc=f"prompt {i} of {n}"))
    except UserError as exc:
        return f"⚠️ {exc}", gr.update()
    return (f"**{len(found)} masks** from an {logic.EVERYTHING_GRID} × {logic.EVERYTHING_GRID} grid of clicks "
            f"(repeats with IoU above {logic.DEDUPE_IOU} dropped). SAM's automatic mode does the same with a "
            "32 × 32 grid, then keeps only confident, stable masks."), logic.everything_picture(rgb, found)


def _layout() -> SimpleNamespace:
    """The page's components (and per-session states), by the names build() wires them by."""
    prompt = gr.State(editing.empty())
    choice = gr.State(-1)
    with gr.Row(elem_classes="gb-main"):
        with gr.Column(scale=1, min_width=300):
            multimask = gr.Checkbox(True, label="Three candidates (multimask output, for ambiguous clicks)")
            model = gr.Dropdown(MODEL_LABELS, value=logic.DEFAULT_MODEL, label="Engine", elem_id="sam-model",
                                elem_classes="gb-advanced")
            source, image_changed = image_picker(logic.SAMPLES, "sam")
            with gr.Row():
                seed = gr.Number(0, precision=0, minimum=0, maximum=2**31 - 1, label="Scene seed", min_width=90)
                scene_btn = gr.Button("Generated scene", elem_id="sam-scene")
        with gr.Column(scale=2):
            status = gr.Markdown("Computing the first example…", elem_id="sam-status")
            # What a click adds (➕ / ➖ / box corner) sits right above the picture it applies to, in lecture mode too.
            with gr.Row():
                mode = gr.Radio(MODES, value="pos", label="A click on the picture adds", elem_id="sam-mode", scale=5)
                with gr.Column(scale=1, min_width=90):
                    undo_btn = gr.Button("Undo", size="sm", elem_id="sam-undo")
                    clear_btn = gr.Button("Clear", size="sm", elem_id="sam-clear")
            canvas = gr.Image(label="Click on the picture", interactive=False, buttons=[], elem_id="sam-canvas",
                              height=430, elem_classes="gb-pick")  # gb-pick: arrows + Enter click it too
            timing = gr.Markdown(elem_id="sam-timing")
            with gr.Tabs():
                with gr.Tab("Candidates"):
                    strip = gr.Gallery(label="The candidates (click one to choose it)", columns=3, height="auto",
                                       allow_preview=False, buttons=[], elem_id="sam-candidates")
                    with gr.Row():
                        cut = gr.Image(label="Cut-out (transparent outside the mask)", interactive=False,
                                       image_mode="RGBA", format="png", height=200, elem_id="sam-cutout")
                        download = gr.DownloadButton("⬇️ Mask PNG (white inside)", elem_id="sam-download")
                with gr.Tab("Everything mode"):
                    every_btn = gr.Button("Segment everything (a grid of clicks)", elem_id="sam-everything")
                    every_text = gr.Markdown()
                    every_img = gr.Image(label="Every mask found", interactive=False, buttons=[], height=360,
                                         elem_id="sam-everything-image")

    return SimpleNamespace(**locals())  # every component made above, by its name


def build() -> None:
    """Add the SAM page (and its /sam API endpoint) to the current Blocks context."""
    gr.Markdown("# ✂️ SAM prompting: click, get masks\n"
                "Click on an object (➕), click what should be left out (➖), or draw a box. The image is encoded "
                "once; every click after that only runs the small decoder.")
    bar = ShareBar(logic.VIEW)
    ui = _layout()
    hidden = {"api_visibility": "private"}
    outs = Outputs(status=ui.status, canvas=ui.canvas, timing=ui.timing, strip=ui.strip, cut=ui.cut,
                   download=ui.download, prompt=ui.prompt, choice=ui.choice, scene_seed=ui.seed)
    outputs = outs.list()

    def clear(src, m, mm) -> dict:
        return compute(src, editing.empty(), m, mm)

    def pick_candidate(src, p, m, mm, evt: gr.SelectData) -> dict:
        return compute(src, p, m, mm, int(evt.index))

    for changed in ui.image_changed:
        changed.then(outs.fn(new_image), [ui.source, ui.model, ui.multimask], outputs, **hidden)
    ui.scene_btn.click(scenes.source_name, ui.seed, ui.source, **hidden).then(
        outs.fn(new_image), [ui.source, ui.model, ui.multimask], outputs, **hidden)
    ui.canvas.select(outs.fn(click), [ui.source, ui.prompt, ui.mode, ui.model, ui.multimask], outputs, **hidden)
    ui.undo_btn.click(outs.fn(undo), [ui.source, ui.prompt, ui.model, ui.multimask], outputs, **hidden)
    ui.clear_btn.click(outs.fn(clear), [ui.source, ui.model, ui.multimask], outputs, **hidden)
    on_user_set([ui.model, ui.multimask], outs.fn(compute), [ui.source, ui.prompt, ui.model, ui.multimask], outputs)
    ui.strip.select(outs.fn(pick_candidate), [ui.source, ui.prompt, ui.model, ui.multimask], outputs, **hidden)
    ui.every_btn.click(run_everything, [ui.source, ui.model], [ui.every_text, ui.every_img], **hidden)

    def show(c: dict) -> dict:
        """A link's view: its clicks and box, or the picture's own first click when it names none."""
        p = c["prompt"]
        if editing.is_empty(p):
            return new_image(c["image"], c["model"], c["multimask"])
        return compute(c["image"], p, c["model"], c["multimask"], c["mask"], first_view=True)

    def record(c: dict) -> dict:
        p = c["prompt"]
        if editing.is_empty(p):
            return {}
        return logic.api_payload(logic.segment(_image(c["image"]), p["points"], p["box"], c["model"],
                                               c["multimask"], scene=scenes.seed_of(c["image"]) is not None),
                                 api.Clock())

    def image_param(src) -> str | None:
        seed = scenes.seed_of(src)
        return scenes.link_name(seed) if seed is not None else share.name_of(src, logic.SAMPLES)

    def image_control(name: str) -> str:
        seed = scenes.seed_of(name)
        return scenes.source_name(seed) if seed is not None else str(logic.SAMPLES[name])

    bar.wire({"image": ui.source, "model": ui.model, "prompt": ui.prompt, "multimask": ui.multimask, "mask": ui.choice},
             outs, show, to_param={"image": image_param, "prompt": editing.to_link},
             to_control={"image": image_control, "prompt": editing.from_link}, record=record)
    explainer("How SAM works (and what each engine here is)", HERE, logic.explainer_values())
    gr.api(sam_api, api_name="sam")


if __name__ == "__main__":
    from apps.gradio_common import launch_page

    launch_page(build, "Glassbox · SAM prompting")
