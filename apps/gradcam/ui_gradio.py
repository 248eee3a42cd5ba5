"""Grad-CAM page for Gradio. Runnable alone: python -m apps.gradcam.ui_gradio"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from gradio import FileData

from apps import registry
from apps.gradcam import logic
from apps.gradio_common import (
    Outputs,
    ShareBar,
    explainer,
    export_file,
    image_picker,
    on_user_set,
    user_set,
    warning,
)
from core import api, models, share, vision
from core.errors import UserError

HERE = Path(__file__).parent
MODEL_LABELS = [(models.MODELS[m].title, m) for m in logic.MODEL_CHOICES]
METHOD_LABELS = [(title, key) for key, (_, title) in logic.METHODS.items()]
NO_METHOD = "none"


def gradcam_api(image: FileData, model: str = logic.DEFAULT_MODEL, method: str = "gradcam",
                target: str | int | None = None) -> dict:
    """Grad-CAM of one image. image: an uploaded file (gradio_client.handle_file) or a data URL.

    Returns model, device, offline, top5, target, heatmap (2-D list in [0,1] over the
    whole image, longest side <= 256) and overlay (data-URL PNG). See the README.
    """
    clock = api.Clock()
    try:
        rgb = vision.as_rgb(image)
        clock.lap("decode")
        result = logic.explain(rgb, model or logic.DEFAULT_MODEL, method or "gradcam", target)
        clock.lap("model")
    except UserError as exc:
        raise gr.Error(str(exc)) from exc
    values = logic.share_values(result, share.sample_name(rgb), model or logic.DEFAULT_MODEL, target=target)
    return {**logic.api_payload(result, clock), "share_url": logic.VIEW.url(values)}


def _image(src):
    """A control's image: a gallery or upload path, or the key of an image another page handed over."""
    if isinstance(src, str) and src in share.SHELF.keys():
        return share.SHELF.get(src)
    return src


def _name(src) -> str | None:
    """The link's name for the current image: a gallery name, a handed-over key, or None (an upload)."""
    if isinstance(src, str) and src in share.SHELF.keys():
        return src
    return share.name_of(src, logic.SAMPLES)


def _export(results: list[logic.CamResult], alpha: float) -> str:
    key = logic.image_key(results[0].image)[:12]
    name = f"gradcam-{key}-{results[0].model}-{'-'.join(r.method for r in results)}-{results[0].target['index']}" \
           f"-{results[0].layer}-{alpha:g}.png"
    return export_file(name, lambda: logic.compare_png(results, alpha))  # drawn once per view


def _caption(r: logic.CamResult) -> str:
    return f"{logic.METHODS[r.method][1].split(' (')[0]} · {r.target['label']} · {r.layer}"


def _links(c: dict) -> str:
    """Other pages on the same image: SAM with a click at the heat peak (segment what the CNN looks at) and
    the ViT patch viewer (the photo as a transformer reads it). Uploads cannot travel in a link."""
    name = c["image"] if c["image"] in logic.SAMPLES else None  # c holds the link's image name here
    if name is None:
        return ("✂️ 🧩 *Segment what the network looks at* or *see it as a Vision Transformer does*: open **SAM "
                "prompting** or the **ViT patch viewer** and upload the same image there.")
    r = logic.explain(logic.SAMPLES[name], c["model"], c["method"], c["target"] or None,
                      logic.layer_label(c["model"], c["layer"]))  # cached: the page computed it already
    sam = registry.view("sam").href(image=name, prompt=logic.sam_prompt(r))
    vit_values, vit_text = logic.vit_link(name)
    vit = registry.view("vit_patches").href(**vit_values)
    return (f"✂️ [Segment what the network looks at: SAM with a click at the heat peak and a box round the hot "
            f"region]({sam})\n\n"
            f"🧩 [{vit_text}]({vit})")


def run(src, model, method_a, method_b, target, layer, alpha, progress=gr.Progress(track_tqdm=True)) -> dict:
    """Compute one or two CAMs. Returns the page's outputs; errors become a visible message."""
    if not src:
        return {"status": "Pick a sample image or upload one to start.", "shown": None, "out_a": None, "out_b": None,
                "top5": None, "faith": "", "timing": "", "export": None, "results": None}
    try:
        progress(0, desc=logic.first_progress_text(model, method_a))
        two = method_b and method_b != NO_METHOD and method_b != method_a
        spans = logic.progress_spans([method_a, method_b] if two else [method_a])

        def part(k: int):  # Score-CAM's channel count drives the bar over its share (see progress_spans)
            start, width = spans[k]
            return lambda f, text: progress(start + f * width, desc=text)

        a = logic.explain(_image(src), model, method_a, target or None, layer, progress=part(0))
        results = [a]
        if two:
            progress(spans[1][0], desc=f"Computing {logic.METHODS[method_b][1]}")
            results.append(logic.explain(a.image, model, method_b, a.target["index"], layer, progress=part(1)))
        faith = logic.faithfulness(a)
    except UserError as exc:
        return warning(str(exc))
    status = f"**Model:** {a.model_label}"
    status += "".join(f"\n\n⚠️ {n}" for n in a.notices)
    status += f"\n\nExplaining **{a.target['label']}** (class {a.target['index']})"
    top5 = {f"{t['label']} ({t['index']})": t["prob"] for t in a.top5}
    out_b = results[1].overlay(alpha) if len(results) > 1 else None
    target_choices = [t["label"] for t in a.top5]
    return {
        "status": status,
        "shown": a.model_input,
        "out_a": gr.update(value=a.overlay(alpha), label=_caption(a)),
        "out_b": gr.update(value=out_b, label=_caption(results[1]) if out_b is not None else "second method: none"),
        "top5": top5,
        "faith": logic.faithfulness_text(faith),
        "timing": f"computed in {sum(r.elapsed_ms for r in results):.0f} ms on {a.device}",
        "export": _export(results, alpha),
        "results": results,
        "target": gr.update(choices=target_choices),
    }


def reblend(results, alpha):
    """Opacity slider: re-blend the cached heatmaps, no model call."""
    if not results:
        return gr.update(), gr.update(), gr.update()
    b = results[1].overlay(alpha) if len(results) > 1 else None
    return results[0].overlay(alpha), b, _export(results, alpha)


def layer_update(model):
    try:
        choices = logic.layer_choices(model)
    except models.UnknownModel:
        return gr.update()
    return gr.update(choices=[c[0] for c in choices], value=choices[0][0])


def build() -> None:
    """Add the Grad-CAM page (and its /gradcam API endpoint) to the current Blocks context."""
    gr.Markdown("# 🔥 Grad-CAM: where does the network look?\n"
                "Pick an image. The heatmap shows which regions raised the score of the chosen class.")
    results = gr.State(None)  # the CamResults shown, so the opacity slider needs no recompute
    bar = ShareBar(logic.VIEW)
    with gr.Row(elem_classes="gb-main"):
        with gr.Column(scale=1, min_width=320):
            source, image_changed = image_picker(logic.SAMPLES, "gradcam",
                                                 "…or upload an image (PNG, JPEG, WebP, TIFF; max 20 MB)")
            model = gr.Dropdown(MODEL_LABELS, value=logic.DEFAULT_MODEL, label="Model", elem_classes="gb-advanced")
            with gr.Row():
                method_a = gr.Dropdown(METHOD_LABELS, value="gradcam", label="Method (left)")
                method_b = gr.Dropdown([("none", NO_METHOD)] + METHOD_LABELS, value="gradcam++",
                                       label="Method (right)")
            target = gr.Dropdown([], value=None, allow_custom_value=True, label="Target class",
                                 info="Default: the top-1 prediction. Pick a top-5 class or type any ImageNet class.")
            layer_names = [c[0] for c in logic.layer_choices(logic.DEFAULT_MODEL)]
            layer = gr.Dropdown(layer_names, value=layer_names[0], label="Target layer", elem_classes="gb-advanced")
            alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="Heatmap opacity")
        with gr.Column(scale=2):
            status = gr.Markdown("Computing the first example…", elem_id="gradcam-status")
            with gr.Row(equal_height=True):
                shown = gr.Image(label="Model input (whole image, no crop)", interactive=False, buttons=["fullscreen"],
                                 height=300, elem_id="gradcam-input")
                out_a = gr.Image(label="Method (left)", interactive=False, buttons=["download", "fullscreen"],
                                 height=300, elem_id="gradcam-overlay-a")
                out_b = gr.Image(label="Method (right)", interactive=False, buttons=["download", "fullscreen"],
                                 height=300, elem_id="gradcam-overlay-b")
            with gr.Row():
                top5 = gr.Label(num_top_classes=5, label="Top-5 predictions", elem_id="gradcam-top5")
                with gr.Column():
                    faith = gr.Markdown(elem_id="gradcam-faith")
                    timing = gr.Markdown(elem_id="gradcam-timing")  # live number: kept apart from the status
                    export = gr.DownloadButton("⬇️ Download comparison PNG", value=None)

    inputs = [source, model, method_a, method_b, target, layer, alpha]
    outs = Outputs(status=status, shown=shown, out_a=out_a, out_b=out_b, top5=top5, faith=faith, timing=timing,
                   export=export, results=results, target=target, layer=layer)
    run_all, outputs = outs.fn(run), outs.list(*(n for n in outs.by_name if n != "layer"))
    hidden = {"api_visibility": "private"}
    # A control's events run for its latest value: a change made while the last one is still computing is
    # queued (the newest replaces older ones) instead of dropped, so the page always ends on what was asked.
    last = {**hidden, "trigger_mode": "always_last"}

    def reset_target(src):  # a new image: explain its own top-1 until the user picks a class
        return gr.update(value=None, choices=[])

    for changed in image_changed:
        changed.then(reset_target, source, target, **hidden).then(run_all, inputs, outputs, **hidden)
    user_set(model)(layer_update, model, layer, **last).then(run_all, inputs, outputs, **hidden)
    on_user_set([method_a, method_b, target, layer], run_all, inputs, outputs)
    alpha.input(reblend, [results, alpha], [out_a, out_b, export], **last)

    def show(c: dict) -> dict:
        """The view a link or a lesson step names, computed (the layer is the model's own if the link's is not)."""
        lay = logic.layer_label(c["model"], c["layer"])
        return {**run(c["image"], c["model"], c["method"], c["compare"], c["target"], lay, c["alpha"]),
                "layer": gr.update(choices=[x[0] for x in logic.layer_choices(c["model"])], value=lay)}

    def record(c: dict) -> dict:
        r = logic.explain(_image(c["image"]), c["model"], c["method"], c["target"] or None,
                          logic.layer_label(c["model"], c["layer"]))
        return logic.api_payload(r, api.Clock(), c["alpha"])

    labels_of = {v: k for k, v in logic.LAYER_KEYS.items()}
    bar.wire({"image": source, "model": model, "method": method_a, "compare": method_b, "target": target,
              "layer": layer, "alpha": alpha}, outs, show,
             to_param={"image": _name, "layer": lambda lab: logic.LAYER_KEYS.get(lab, lab)},
             to_control={"image": lambda n: n if n in share.SHELF.keys() else str(logic.SAMPLES[n]),
                         "layer": lambda k: labels_of.get(k, k)},
             record=record, links=lambda c: _links({**c, "image": _name(c["image"]) or ""}))
    explainer("How Grad-CAM works (and what it cannot tell you)", HERE)
    gr.api(gradcam_api, api_name="gradcam")


if __name__ == "__main__":
    from apps.gradio_common import launch_page

    launch_page(build, "Glassbox · Grad-CAM")
