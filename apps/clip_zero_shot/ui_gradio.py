"""CLIP zero-shot page for Gradio. Runnable alone: python -m apps.clip_zero_shot.ui_gradio"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
from gradio import FileData

from apps import registry
from apps.clip_zero_shot import logic, tiny
from apps.gradio_common import Outputs, ShareBar, explainer, export_file, image_picker, on_user_set, warning
from core import api, models, share, vision
from core.errors import UserError

HERE = Path(__file__).parent
MODEL_LABELS = [(models.MODELS[m].title, m) for m in logic.MODEL_CHOICES]
MODE_LABELS = [(v, k) for k, v in logic.MODES.items()]


def clip_api(image: FileData, labels: list[str] | str, model: str = logic.DEFAULT_MODEL, templates: bool = True,
             mode: str = "softmax") -> dict:
    """Zero-shot classification of one image with labels you give. See the README for the returned fields.

    labels: a list of strings, or one string with one label per line (or comma-separated).
    """
    clock = api.Clock()
    try:
        rgb = vision.as_rgb(image)
        clock.lap("decode")
        result = logic.classify(rgb, labels, model or logic.DEFAULT_MODEL, templates, mode or "softmax")
        clock.lap("model")
    except UserError as exc:
        raise gr.Error(str(exc)) from exc
    values = logic.share_values(result, share.sample_name(rgb), model or logic.DEFAULT_MODEL,
                                True if templates is None else templates, mode or "softmax")
    return {**logic.api_payload(result, clock), "share_url": logic.VIEW.url(values)}


def _gradcam_link(src) -> str:
    """Where does the classifier look? The Grad-CAM page opens on the same gallery image (uploads cannot
    travel in a link: upload the file there)."""
    name = share.name_of(src, logic.SAMPLES)
    if name is None:
        return "🔥 *Where does the classifier look?* Open **Grad-CAM** and upload the same image there."
    href = registry.view("gradcam").href(image=name)
    return f"🔥 [Where does the classifier look? Open Grad-CAM on *{name}*]({href})"


def _status(r: logic.ClipResult, threshold: float, src=None) -> str:
    lines = [f"**Model:** {r.model_label}", logic.verdict(r, threshold)]
    if logic.stand_in_notice(r.model):
        lines.append(logic.stand_in_notice(r.model))
    lines += [f"⚠️ {n}" for n in r.notices]
    return "\n\n".join(lines)


def run(src, labels, model, templates, mode, threshold) -> dict:
    if not src:
        return {"status": "Pick a sample image or upload one to start.", "bars": None, "matrix": None, "png": None}
    try:
        r = logic.classify(src, labels, model, templates, mode)
        names = list(logic.SAMPLES)
        matrix = logic.similarity_matrix([logic.SAMPLES[n] for n in names], r.labels, r.model, templates)
    except UserError as exc:
        return warning(str(exc))
    settings = {"model": r.model, "image": share.name_of(src, logic.SAMPLES) or logic.image_key(r.image)[:10],
                "mode": r.mode, "templates": r.templates, "labels": ",".join(r.labels)}
    png = export_file(share.export_name("clip_zero_shot", settings, ".png"), lambda: logic.result_png(r))
    return {"status": _status(r, threshold, src), "bars": logic.bars_figure(r, threshold),
            "matrix": logic.matrix_figure(names, r.labels, matrix), "png": png}


def search(query, model, templates):
    try:
        found = logic.retrieve(query, logic.SAMPLES, model, templates)
    except UserError as exc:
        return f"⚠️ {exc}", None
    return (f"Gallery images ranked by cosine with *{query.strip()}*.",
            [(str(logic.SAMPLES[name]), f"{i + 1}. {name} ({score:.2f})") for i, (name, score) in enumerate(found)])


def _layout() -> SimpleNamespace:
    """The page's components (and per-session states), by the names build() wires them by."""
    with gr.Row(elem_classes="gb-main"):
        with gr.Column(scale=1, min_width=300):
            source, image_changed = image_picker(logic.SAMPLES, "clip")
            labels = gr.Textbox("\n".join(logic.DEFAULT_LABELS), lines=6, label="Labels, one per line",
                                elem_id="clip-labels")
            go = gr.Button("Classify", variant="primary", elem_id="clip-go")
            templates = gr.Checkbox(True, label="Prompt templates ('a photo of a …', averaged over 8)",
                                    elem_classes="gb-advanced")
            mode = gr.Radio(MODE_LABELS, value="softmax", label="How to read the scores")
            threshold = gr.Slider(0, 1, value=logic.NONE_THRESHOLD, step=0.05,
                                  label="'None of these' line (each-on-its-own mode)", elem_id="clip-threshold")
            model = gr.Dropdown(MODEL_LABELS, value=logic.DEFAULT_MODEL, label="Model", elem_classes="gb-advanced")
        with gr.Column(scale=2):
            status = gr.Markdown("Computing the first example…", elem_id="clip-status")
            bars = gr.Plot(label="Scores", elem_id="clip-bars")
            png = gr.DownloadButton("⬇️ PNG of the image and its scores", elem_id="clip-png", size="sm")
            with gr.Tabs():
                with gr.Tab("Images × labels"):
                    matrix = gr.Plot(label="Similarity matrix", elem_id="clip-matrix")
                with gr.Tab("Text → image search"):
                    query = gr.Textbox("a cup of coffee", label="Search the gallery for", elem_id="clip-query")
                    find = gr.Button("Search")
                    found_text = gr.Markdown()
                    found = gr.Gallery(columns=6, height="auto", allow_preview=False, buttons=[],
                                       elem_id="clip-found")
                with gr.Tab("How CLIP learns") as learn_tab:
                    learn_text = gr.Markdown(elem_id="clip-learn-text")
                    # The caption above the picture, not as its label: Gradio draws an image's label over its
                    # top-left corner, which hid the column numbers 1 to 4.
                    gr.Markdown("**The recorded batch:** 8 images (columns, numbered) and their 8 captions (rows "
                                "of the matrix below)")
                    probe = gr.Image(show_label=False, interactive=False, buttons=[], elem_id="clip-probe")
                    step = gr.Slider(0, 6, value=6, step=1, label="Recorded training step (0 = untrained)",
                                     elem_id="clip-learn-step")
                    learn_matrix = gr.Plot(elem_id="clip-learn-matrix")
                    learn_loss = gr.Plot(elem_id="clip-learn-loss")
                    learn_space = gr.Plot(elem_id="clip-learn-space")

    return SimpleNamespace(**locals())  # every component made above, by its name


def build() -> None:
    """Add the CLIP zero-shot page (and its /clip API endpoint) to the current Blocks context."""
    gr.Markdown("# 🏷️ CLIP zero-shot: classify with labels you type\n"
                "Images and labels become vectors in one space; the label closest to the image wins.")
    bar = ShareBar(logic.VIEW)
    ui = _layout()
    hidden = {"api_visibility": "private"}
    last = {**hidden, "trigger_mode": "always_last"}
    inputs = [ui.source, ui.labels, ui.model, ui.templates, ui.mode, ui.threshold]
    outs = Outputs(status=ui.status, bars=ui.bars, matrix=ui.matrix, png=ui.png)
    run_all, outputs = outs.fn(run), outs.list()

    for changed in ui.image_changed:
        changed.then(run_all, inputs, outputs, **hidden)
    ui.go.click(run_all, inputs, outputs, **hidden)
    ui.labels.submit(run_all, inputs, outputs, **hidden)
    on_user_set([ui.model, ui.templates, ui.mode], run_all, inputs, outputs)
    ui.threshold.input(run_all, inputs, outputs, show_progress="hidden", **last)  # cached: a re-read, not a recompute
    ui.find.click(search, [ui.query, ui.model, ui.templates], [ui.found_text, ui.found], **hidden)
    ui.query.submit(search, [ui.query, ui.model, ui.templates], [ui.found_text, ui.found], **hidden)
    learning = Outputs(learn_text=ui.learn_text, probe=ui.probe, step=ui.step, learn_matrix=ui.learn_matrix,
                       learn_loss=ui.learn_loss, learn_space=ui.learn_space)

    def open_learning() -> dict:
        last_k = len(tiny.record()["steps"]) - 1
        return {"learn_text": logic.tiny_clip_text(), "probe": tiny.probe_strip(),
                "step": gr.update(maximum=last_k, value=last_k), "learn_matrix": tiny.matrix_figure(last_k),
                "learn_loss": tiny.loss_figure(), "learn_space": tiny.embedding_figure()}

    ui.learn_tab.select(learning.fn(open_learning), None, learning.list(), **hidden)
    ui.step.input(tiny.matrix_figure, ui.step, ui.learn_matrix, show_progress="hidden", **last)

    def show(c: dict) -> dict:
        return run(c["image"], c["labels"], c["model"], c["templates"], c["mode"], c["threshold"])

    def record(c: dict) -> dict:
        r = logic.classify(c["image"], c["labels"], c["model"], c["templates"], c["mode"])
        return logic.api_payload(r, api.Clock())

    bar.wire({"image": ui.source, "labels": ui.labels, "model": ui.model, "templates": ui.templates, "mode": ui.mode,
              "threshold": ui.threshold}, outs, show,
             to_param={"image": lambda p: share.name_of(p, logic.SAMPLES)},
             to_control={"image": lambda n: str(logic.SAMPLES[n])}, record=record,
             links=lambda c: _gradcam_link(c["image"]))
    explainer("How CLIP works (and what the offline stand-in is)", HERE, logic.explainer_values())
    gr.api(clip_api, api_name="clip")


if __name__ == "__main__":
    from apps.gradio_common import launch_page

    launch_page(build, "Glassbox · CLIP zero-shot")
