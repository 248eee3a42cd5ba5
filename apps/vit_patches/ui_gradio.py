"""ViT patch viewer page for Gradio. Runnable alone: python -m apps.vit_patches.ui_gradio"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
from gradio import FileData

from apps import registry
from apps.gradio_common import Outputs, ShareBar, explainer, export_file, on_user_set, user_set, warning
from apps.vit_patches import logic
from core import api, images, models, share, vision
from core.errors import UserError
from core.vision import image_key

HERE = Path(__file__).parent
MODEL_LABELS = [(models.MODELS[m].title, m) for m in logic.MODEL_CHOICES]
MEAN = "mean over heads"
GALLERY = logic.GALLERY
ATTENTION = ("cls_img", "roll_img", "one_img", "export")  # what attention_views sets
DETAIL = ("pixels", "flat", "emb", "patch_title")  # what patch_views sets


def vit_api(image: FileData, model: str = logic.DEFAULT_MODEL, layer: int | None = None,
            head: int | None = None) -> dict:
    """[CLS] attention, rollout and position-embedding similarity of a ViT. See the README."""
    clock = api.Clock()
    try:
        rgb = vision.as_rgb(image)
        clock.lap("decode")
        r = logic.inspect(rgb, model or logic.DEFAULT_MODEL)
        clock.lap("model")
        name = logic.image_name(rgb) or share.sample_name(rgb)
        url = logic.VIEW.url(logic.share_values(r, name, model or logic.DEFAULT_MODEL, layer, head))
        return {**logic.api_payload(r, clock, layer, head), "share_url": url}
    except UserError as exc:
        raise gr.Error(str(exc)) from exc


def _head(choice) -> int | None:
    return None if choice in (None, "", MEAN) else int(str(choice).split()[-1])


def formula(h: int, w: int, patch: int) -> str:
    t = logic.token_count(h, w, patch)
    crop = " (the right/bottom edge that fits no whole patch is greyed)" if any(t["cropped"]) else ""
    return (f"**N = (H/P)·(W/P) = ({h}/{patch})·({w}/{patch}) = {t['rows']}·{t['cols']} = {t['num_patches']}** "
            f"patches, + 1 [CLS] = **{t['tokens']} tokens**; self-attention compares **{t['attention_pairs']:,}** "
            f"pairs per head and layer{crop}.")


def attention_views(r, layer, head_choice, patch) -> dict:
    """The three attention pictures for the current controls, from the cached result: no model call."""
    if r is None:
        return dict.fromkeys(ATTENTION)
    layer = min(int(layer), r.n_layers - 1)
    head = _head(head_choice)
    head = head if head is None or head < r.n_heads else None  # a link's head the model lacks: the mean
    cls = logic.heat_overlay(r, r.cls_attention(layer, head))
    roll = logic.heat_overlay(r, r.rollout_map())
    one = logic.heat_overlay(r, r.patch_attention(int(patch), layer, head)) if patch is not None else None
    panels = [cls, roll] + ([one] if one is not None else [])
    key = image_key(r.model_input)[:12]
    path = export_file(f"vit-{r.model}-{key}-L{layer}-{'mean' if head is None else f'H{head}'}-P{patch}.png",
                       images.to_png_bytes(np.concatenate(panels, axis=1)))
    one_label = f"Where patch {patch} looks (layer {layer})" if patch is not None else "Click a patch in the split view"
    return {"cls_img": gr.update(value=cls, label=f"[CLS] attention, layer {layer}, {head_choice or MEAN}"),
            "roll_img": roll, "one_img": gr.update(value=one, label=one_label), "export": path}


def patch_views(r, patch) -> dict:
    if r is None or patch is None:
        return {**dict.fromkeys(DETAIL), "patch_title": "Click a patch in the split view."}
    d = logic.patch_detail(r, int(patch))
    return {"pixels": d["pixels"],
            "flat": logic.vector_figure(d["flat"], f"flattened: {d['flat'].size} numbers (P·P·3)"),
            "emb": logic.vector_figure(d["embedding"],
                                       f"embedding: {d['embedding'].size} numbers after the projection"),
            "patch_title": f"Patch {patch} (row {d['row']}, column {d['col']})"}


def run(src, model, layer, head_choice, split_patch, patch) -> dict:
    try:
        r = logic.inspect(src, model)
    except UserError as exc:
        return warning(str(exc))
    status = [f"**Model:** {r.model_label}",
              f"Input {r.image_size[0]}×{r.image_size[1]}, patches {r.patch_size}×{r.patch_size}, grid "
              f"{r.grid[0]}×{r.grid[1]} = {r.num_patches} patches, {r.n_layers} layers × {r.n_heads} heads."]
    status += [f"⚠️ {n}" for n in r.notices]
    top5 = {f"{t['label']} ({t['index']})": t["prob"] for t in r.top5} if r.top5 else None
    split_patch = r.patch_size  # a new image starts on the model's own patch size
    patch = patch if patch is not None and int(patch) < r.num_patches else r.num_patches // 2
    return {"status": "\n\n".join(status), "result": r, "top5": top5,
            "split": logic.split_view(r.model_input, r.patch_size, mark=patch),
            "layer": gr.update(maximum=r.n_layers - 1, value=min(int(layer), r.n_layers - 1)),
            "head": gr.update(choices=[MEAN] + [f"head {h}" for h in range(r.n_heads)]), "patch": patch,
            **attention_views(r, layer, head_choice, patch), **patch_views(r, patch),
            "pca": logic.pca_colours(r), "pos": logic.position_grid(r), "dist": logic.distance_figure(r),
            "count": formula(*r.image_size, split_patch), "split_patch": split_patch}


def pick(evt: gr.SelectData):
    """A gallery click: the picked image."""
    return GALLERY[evt.index].image

def click_patch(r, evt: gr.SelectData):
    """A click on the patch grid: the patch under it."""
    if r is None:
        return None
    x, y = evt.index
    return logic.patch_at(r, x, y)

def outline(r, p, size):
    """The grid drawn at the chosen patch size, the clicked patch outlined."""
    if r is None or p is None:
        return gr.update()
    return logic.split_view(r.model_input, int(size), mark=int(p), model_patch=r.patch_size)

def resplit(r, p, chosen):
    """The grid drawn at another patch size, and its token count."""
    if r is None:
        return gr.update(), ""
    return (logic.split_view(r.model_input, int(p), mark=chosen, model_patch=r.patch_size),
            formula(*r.image_size, int(p)))

def click_position(r, evt: gr.SelectData):
    """A click on the position grid: that position against every other, large."""
    if r is None:
        return None
    i = logic.position_at(r, *evt.index)
    rr, cc = divmod(i, r.grid[1])
    return gr.update(value=logic.position_map(r, i), label=f"Position ({rr}, {cc}) vs every position")


def _layout() -> SimpleNamespace:
    """The page's components (and per-session states), by the names build() wires them by."""
    source = gr.State(None)
    result = gr.State(None)
    patch = gr.State(None)  # the clicked patch index
    with gr.Row(elem_classes="gb-main"):
        with gr.Column(scale=1, min_width=300):
            gallery = gr.Gallery(value=[(s.image, f"digit {s.label}") for s in GALLERY],
                                 label="Generated test images (digits the model never saw)", columns=4, height="auto",
                                 allow_preview=False, buttons=[], elem_id="vit-gallery")
            upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath", height=150,
                             elem_id="vit-upload")
            model = gr.Dropdown(MODEL_LABELS, value=logic.DEFAULT_MODEL, label="Model", elem_classes="gb-advanced")
            layer = gr.Slider(0, 3, value=3, step=1, label="Layer")
            head = gr.Dropdown([MEAN] + [f"head {h}" for h in range(4)], value=MEAN, label="Head")
            top5 = gr.Label(num_top_classes=5, label="Prediction", elem_id="vit-top5")
        with gr.Column(scale=3):
            status = gr.Markdown("Pick an image to start.", elem_id="vit-status")
            with gr.Tabs():
                with gr.Tab("1 · Patches"):
                    with gr.Row():
                        split = gr.Image(label="The model's patch grid (click a patch)", interactive=False, height=340,
                                         buttons=["fullscreen"], elem_id="vit-split", elem_classes="gb-pick")
                        with gr.Column():
                            patch_title = gr.Markdown()
                            pixels = gr.Image(label="Its pixels", interactive=False, height=170, buttons=[])
                    flat = gr.Plot(label="Flattened")
                    emb = gr.Plot(label="Embedding")
                    split_patch = gr.Slider(2, 64, value=8, step=1,
                                            label="Patch size of the grid drawn above (the model itself always uses "
                                                  "its own; clicks pick the model's patches)")
                    count = gr.Markdown(elem_id="vit-count")
                with gr.Tab("2 · Embeddings (PCA)"):
                    gr.Markdown("Each patch's embedding, reduced to its three main directions and shown as a colour: "
                                "patches the model sees as alike get alike colours.")
                    pca = gr.Image(interactive=False, height=340, buttons=["fullscreen"], show_label=False)
                with gr.Tab("3 · Positions"):
                    gr.Markdown("Tile (r, c) shows the cosine similarity of position (r, c)'s learned embedding to "
                                "every position (yellow = similar). Learned, not given: nearby patches end up alike.")
                    with gr.Row():
                        pos = gr.Image(label="All positions (click a tile)", interactive=False, height=420,
                                       buttons=["fullscreen"], elem_id="vit-positions",
                                       elem_classes="gb-pick")
                        pos_one = gr.Image(label="One position, large", interactive=False, height=420, buttons=[],
                                           elem_id="vit-position-one")
                with gr.Tab("4 · Attention"):
                    with gr.Row(equal_height=True):
                        cls_img = gr.Image(label="[CLS] attention", interactive=False, height=300, buttons=[],
                                           elem_id="vit-cls")
                        roll_img = gr.Image(label="Rollout to [CLS] (all layers)", interactive=False, height=300,
                                            buttons=[], elem_id="vit-rollout")
                        one_img = gr.Image(label="Where the clicked patch looks", interactive=False, height=300,
                                           buttons=[])
                    export = gr.DownloadButton("⬇️ PNG of these views")
                with gr.Tab("5 · Distance"):
                    dist = gr.Plot(elem_id="vit-distance")

    return SimpleNamespace(**locals())  # every component made above, by its name


def build() -> None:
    """Add the ViT patch page (and its /vit API endpoint) to the current Blocks context."""
    gr.Markdown("# 🧩 ViT patch viewer: from pixels to tokens to attention\n"
                "A Vision Transformer cuts the image into patches, turns each into a vector, adds where it came "
                "from, prepends a [CLS] token, and lets every token attend to every other.")
    bar = ShareBar(logic.VIEW)
    ui = _layout()
    hidden = {"api_visibility": "private"}
    # A control's events run for its latest value: a change made while the last one is still computing is
    # queued (the newest replaces older ones) instead of dropped, so the page always ends on what was asked.
    last = {**hidden, "trigger_mode": "always_last"}
    inputs = [ui.source, ui.model, ui.layer, ui.head, ui.split_patch, ui.patch]
    outs = Outputs(**{name: getattr(ui, name) for name in (
        "status", "result", "top5", "split", "layer", "head", "patch", *ATTENTION, *DETAIL, "pca", "pos", "dist",
        "count", "split_patch")})
    run_all, outputs = outs.fn(run), outs.list()
    att_view, att_outputs = outs.fn(attention_views), outs.list(*ATTENTION)

    ui.gallery.select(pick, None, ui.source, **hidden).then(run_all, inputs, outputs, **hidden)
    ui.upload.upload(lambda f: f, ui.upload, ui.source, **hidden).then(run_all, inputs, outputs, **hidden)
    user_set(ui.model)(run_all, inputs, outputs, **last)
    on_user_set([ui.layer, ui.head], att_view, [ui.result, ui.layer, ui.head, ui.patch], att_outputs)
    ui.split.select(click_patch, ui.result, ui.patch, **hidden).then(
        outline, [ui.result, ui.patch, ui.split_patch], ui.split, show_progress="hidden", **hidden).then(
        outs.fn(patch_views), [ui.result, ui.patch], outs.list(*DETAIL), **hidden).then(
        att_view, [ui.result, ui.layer, ui.head, ui.patch], att_outputs, **hidden)
    ui.pos.select(click_position, ui.result, ui.pos_one, **hidden)

    def show(c: dict) -> dict:
        out = run(c["image"], c["model"], c["layer"], c["head"], 8, c["patch"])
        r = out.get("result")
        if isinstance(r, logic.ViTResult) and int(c["split"]) != r.patch_size:  # the link's own grid size
            out["split"], out["count"] = resplit(r, int(c["split"]), out["patch"])
            out["split_patch"] = int(c["split"])
        return out

    def links(c: dict) -> str:  # the same layer and head, over words instead of patches
        head_ = "mean" if _head(c["head"]) is None else str(_head(c["head"]))
        href = registry.view("attention").href(layer=c["layer"], head=head_)
        return (f"🔦 [Attention over words instead of patches: attention heatmaps at layer {c['layer']}, "
                f"{c['head'] or MEAN}]({href})")

    def record(c: dict) -> dict:
        head_ = _head(c["head"])
        r = logic.inspect(c["image"], c["model"])
        return logic.api_payload(r, api.Clock(), min(int(c["layer"]), r.n_layers - 1),
                                 head_ if head_ is None or head_ < r.n_heads else None)

    bar.wire({"image": ui.source, "model": ui.model, "layer": ui.layer, "head": ui.head, "patch": ui.patch,
              "split": ui.split_patch},
             outs, show,
             to_param={"image": logic.image_name, "head": lambda h: "mean" if _head(h) is None else str(_head(h)),
                       "patch": lambda p: 32 if p is None else int(p)},
             to_control={"image": logic.image_source, "head": lambda h: MEAN if h == "mean" else f"head {h}"},
             record=record, links=links)
    ui.split_patch.input(resplit, [ui.result, ui.split_patch, ui.patch], [ui.split, ui.count], **last)
    explainer("How a Vision Transformer reads an image", HERE)
    gr.api(vit_api, api_name="vit")


if __name__ == "__main__":
    from apps.gradio_common import launch_page

    launch_page(build, "Glassbox · ViT patch viewer")
