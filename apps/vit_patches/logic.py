"""ViT patch viewer logic: an image becomes patches, tokens, and attention maps.

Pure: no gradio, no streamlit. Works on any timm VisionTransformer inside
core.loaders.ImageClassifier: the bundled tiny ViT trained on generated digits, or a hub
ViT / DeiT / DINO. Attention weights are read from each block's attention dropout input
(timm's explicit softmax path; fused attention is switched off when a model loads).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from apps.vit_patches import data
from core import api, images, models, share, vision
from core.cache import ResultCache
from core.device import run_noted
from core.errors import UserError
from core.rollout import rollout
from core.vision import as_rgb, image_key, to_model_input, to_tensor, top5

DEFAULT_MODEL = "vit_digits"
MODEL_CHOICES = ["vit_digits", "vit_b16", "deit_tiny", "dino_vits16"]


class ViTInputError(UserError):
    """Bad layer, head, patch size or model: the message says what would work."""


def token_count(h: int, w: int, patch: int) -> dict:
    """N = (H/P)(W/P) patches, plus one [CLS]; attention compares every token with every token."""
    if patch < 1:
        raise ViTInputError("The patch size must be at least 1 pixel.")
    rows, cols = h // patch, w // patch
    n = rows * cols
    return {"rows": rows, "cols": cols, "num_patches": n, "tokens": n + 1, "attention_pairs": (n + 1) ** 2,
            "cropped": (h - rows * patch, w - cols * patch)}


def split_view(rgb: np.ndarray, patch: int, mark: int | None = None, model_patch: int | None = None) -> np.ndarray:
    """Any image, any patch size: the grid drawn over the image (the remainder that fits no patch is greyed).

    mark: the index of a patch of the model's grid (patch size model_patch, default patch) to outline,
    so the learner sees which patch the panels beside it describe."""
    info = token_count(*rgb.shape[:2], patch)
    if info["num_patches"] == 0:
        raise ViTInputError(f"A {patch}-pixel patch does not fit in a {rgb.shape[1]}x{rgb.shape[0]} image.")
    scale = split_scale(rgb.shape[:2])
    img = Image.fromarray(rgb).resize((rgb.shape[1] * scale, rgb.shape[0] * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(img)
    p = patch * scale
    line = max(1, scale // 4)  # an enlarged picture is shown scaled down again: thin lines would vanish
    for r in range(info["rows"] + 1):
        draw.line([(0, r * p), (info["cols"] * p, r * p)], fill=(255, 255, 255), width=line)
    for c in range(info["cols"] + 1):
        draw.line([(c * p, 0), (c * p, info["rows"] * p)], fill=(255, 255, 255), width=line)
    out = np.asarray(img).copy()
    out[info["rows"] * p:, :] //= 3
    out[:, info["cols"] * p:] //= 3
    if mark is not None:
        mp = (model_patch or patch) * scale
        cols = rgb.shape[1] // (model_patch or patch)
        r, c = divmod(int(mark), max(cols, 1))
        box = Image.fromarray(out)
        # Orange outside, black inside: visible on light and dark images alike.
        ImageDraw.Draw(box).rectangle([c * mp - 1, r * mp - 1, (c + 1) * mp, (r + 1) * mp], outline=(255, 140, 0),
                                      width=max(3, scale // 2))
        ImageDraw.Draw(box).rectangle([c * mp + 2, r * mp + 2, (c + 1) * mp - 3, (r + 1) * mp - 3], outline=(0, 0, 0))
        out = np.asarray(box)
    return out


def split_scale(hw: tuple[int, int]) -> int:
    """Small inputs (64x64) are enlarged with whole pixels so a projector shows them crisp."""
    return max(1, 512 // max(hw))


def is_vit(loaded: models.Loaded) -> bool:
    bb = loaded.module.backbone
    return hasattr(bb, "patch_embed") and hasattr(bb, "blocks")


def vit_of(loaded: models.Loaded):
    bb = loaded.module.backbone
    if not hasattr(bb, "patch_embed") or not hasattr(bb, "blocks"):
        raise ViTInputError(f"{loaded.spec.title} is not a Vision Transformer. Choose one of: "
                            + ", ".join(MODEL_CHOICES))
    return bb


def attentions(loaded: models.Loaded, x) -> tuple[np.ndarray, object]:
    """(layers, heads, T, T) attention of every block, and the model output, from one forward pass."""
    import torch

    bb = vit_of(loaded)
    grabbed: list = []
    hooks = [blk.attn.attn_drop.register_forward_hook(lambda m, i, o: grabbed.append(i[0].detach()))
             for blk in bb.blocks]  # attn_drop's input is softmax(QK^T / sqrt(d)): (B, heads, T, T)
    try:
        with torch.no_grad():
            out = loaded.module(x)  # (B, classes) or (B, features)
    finally:
        for h in hooks:
            h.remove()
    if len(grabbed) != len(bb.blocks):
        raise RuntimeError("attention weights were not captured: is fused attention still on?")
    return torch.stack(grabbed)[:, 0].float().cpu().numpy(), out


def prefix_tokens(bb) -> int:
    return int(getattr(bb, "num_prefix_tokens", 1))


def pos_similarity(bb) -> np.ndarray:
    """(N, N) cosine similarity between the position embeddings of the patches (prefix tokens dropped)."""
    pe = bb.pos_embed.detach()[0].float().cpu().numpy()  # (prefix + N, D) or (N, D)
    if pe.shape[0] > bb.patch_embed.num_patches:
        pe = pe[-bb.patch_embed.num_patches:]
    pe = pe / np.linalg.norm(pe, axis=1, keepdims=True).clip(1e-12)
    return pe @ pe.T


def mean_distance(att: np.ndarray, rows: int, cols: int, patch: int, prefix: int) -> np.ndarray:
    """(layers, heads): mean pixel distance between a patch and the patches it attends to."""
    yy, xx = np.divmod(np.arange(rows * cols), cols)
    d = np.hypot(yy[:, None] - yy[None, :], xx[:, None] - xx[None, :]) * patch  # (N, N) pixels
    a = att[:, :, prefix:, prefix:]  # (layers, heads, N, N) patch-to-patch
    a = a / a.sum(-1, keepdims=True).clip(1e-12)
    return (a * d).sum(-1).mean(-1)


def uniform_distance(rows: int, cols: int, patch: int) -> float:
    """The mean distance of a head that spreads its attention evenly over all patches: the reference
    a head is "local" against (33 px for an 8x8 grid of 8-pixel patches, 116 px for ViT-B/16's 14x14)."""
    yy, xx = np.divmod(np.arange(rows * cols), cols)
    return float(np.hypot(yy[:, None] - yy[None, :], xx[:, None] - xx[None, :]).mean() * patch)


@dataclass
class ViTResult:
    model: str
    model_label: str
    device: str
    offline: bool
    image_size: tuple[int, int]
    patch_size: int
    grid: tuple[int, int]
    prefix: int  # [CLS] (+ distillation / register tokens)
    model_input: np.ndarray  # (H, W, 3) uint8
    attentions: np.ndarray  # (layers, heads, T, T)
    rollout: np.ndarray  # (T, T)
    pos_sim: np.ndarray  # (N, N)
    embeddings: np.ndarray  # (N, D) patch embeddings (projection only, before positions)
    top5: list[dict]
    notices: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def n_layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def n_heads(self) -> int:
        return self.attentions.shape[1]

    def check(self, layer: int, head: int | None) -> None:
        if not 0 <= int(layer) < self.n_layers:
            raise ViTInputError(f"Layer {layer} does not exist: this model has layers 0 to {self.n_layers - 1}.")
        if head is not None and not 0 <= int(head) < self.n_heads:
            raise ViTInputError(f"Head {head} does not exist: this model has heads 0 to {self.n_heads - 1}.")

    def cls_attention(self, layer: int, head: int | None) -> np.ndarray:
        """(rows, cols): where [CLS] looks in `layer` (one head, or the head mean)."""
        return self.patch_attention(-1, layer, head)

    def patch_attention(self, patch: int, layer: int, head: int | None) -> np.ndarray:
        """(rows, cols): where token `patch` looks (-1 = [CLS]); weights on prefix tokens are left out."""
        self.check(layer, head)
        if not -1 <= int(patch) < self.num_patches:
            raise ViTInputError(f"Patch {patch} does not exist: pick 0 to {self.num_patches - 1}.")
        a = self.attentions[layer]  # (heads, T, T)
        a = a.mean(0) if head is None else a[int(head)]
        row = 0 if patch == -1 else self.prefix + int(patch)
        return a[row, self.prefix:].reshape(self.grid)

    def rollout_map(self) -> np.ndarray:
        """(rows, cols): how much each patch reaches [CLS] after the last layer."""
        return self.rollout[0, self.prefix:].reshape(self.grid)

    def mean_distance(self) -> np.ndarray:
        return mean_distance(self.attentions, *self.grid, self.patch_size, self.prefix)

    def uniform_distance(self) -> float:
        return uniform_distance(*self.grid, self.patch_size)


_cache = ResultCache(32, "vit_patches")  # results by input and settings: re-asking costs nothing


def inspect(image, model: str = DEFAULT_MODEL, device: str | None = None) -> ViTResult:
    """Run the ViT once and keep everything the views need (cached per image and model)."""
    spec = models.page_model(model, DEFAULT_MODEL, MODEL_CHOICES, "a Vision Transformer", ViTInputError)
    rgb = as_rgb(image)
    key = (image_key(rgb), spec.name, device or "")

    return _cache.get_or_compute(key, lambda: run_noted(lambda dev: _inspect(rgb, spec.name, dev), device))


def _inspect(rgb: np.ndarray, model: str, device: str) -> ViTResult:
    import torch

    t0 = time.perf_counter()
    loaded = models.load(model, device)
    if not is_vit(loaded):  # a hub ViT's registry stand-in is a CNN: this page needs a ViT, so the tiny one runs
        inner = models.load(DEFAULT_MODEL, device)
        loaded = models.stand_in(model, inner, loaded.reason)
    bb = vit_of(loaded)
    side = loaded.spec.config.side
    model_rgb = to_model_input(rgb, (side, side))  # whole image, squashed: the grid is fixed
    x = to_tensor(model_rgb, loaded.device)  # (1, 3, side, side)
    with loaded.lock:
        att, out = attentions(loaded, x)
        with torch.no_grad():
            xn = (x - loaded.module.mean) / loaded.module.std
            emb = bb.patch_embed(xn)[0].float().cpu().numpy()  # (N, D)
    patch = int(bb.patch_embed.patch_size[0])
    grid = tuple(int(g) for g in bb.patch_embed.grid_size)
    names = loaded.labels
    top5_ = top5(out.softmax(-1)[0], names) if names and out.shape[-1] == len(names) else []
    result = ViTResult(model=loaded.spec.name, model_label=loaded.describe(), device=loaded.device,
                       offline=loaded.offline, image_size=(side, side), patch_size=patch, grid=grid,  # type: ignore
                       prefix=prefix_tokens(bb), model_input=model_rgb, attentions=att, rollout=rollout(att)[-1],
                       pos_sim=pos_similarity(bb), embeddings=emb, top5=top5_)
    if not top5_:
        result.notices.append(f"{loaded.spec.title} has no classifier head: no prediction to show.")
    result.notices.append(loaded.fallback_notice)
    result.elapsed_ms = (time.perf_counter() - t0) * 1000
    return result


# --- pictures for the views -------------------------------------------------------------------

VIEW_SIDE = 320  # pixels: big enough for a projector, small enough to ship fast


def heat_overlay(result: ViTResult, heat: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """(rows, cols) map in any range over the model input, patch cells kept square and sharp."""
    h = heat.astype(np.float32)
    h = (h - h.min()) / (h.max() - h.min()) if h.max() > h.min() else np.zeros_like(h)
    base = images.enlarge(result.model_input, VIEW_SIDE)
    cells = np.asarray(Image.fromarray(h, mode="F").resize(base.shape[1::-1], Image.Resampling.NEAREST))
    return images.overlay(base, cells, alpha)


def pca_colours(result: ViTResult) -> np.ndarray:
    """The first three principal components of the patch embeddings as RGB, one cell per patch."""
    e = result.embeddings - result.embeddings.mean(0)  # (N, D)
    _, _, vt = np.linalg.svd(e, full_matrices=False)
    c = e @ vt[:3].T  # (N, 3)
    c = (c - c.min(0)) / np.ptp(c, 0).clip(1e-12)
    grid = (c.reshape(*result.grid, 3) * 255).round().astype(np.uint8)
    return images.enlarge(grid, VIEW_SIDE)


GRID_GAP = 2


def _grid_cell(result: ViTResult) -> int:
    return max(2, 48 // max(result.grid))


def position_tile(result: ViTResult) -> tuple[int, int]:
    """(width, height) in pixels from one tile of position_grid to the next (the gap included)."""
    rows, cols = result.grid
    cell = _grid_cell(result)
    return cols * cell + GRID_GAP, rows * cell + GRID_GAP


def position_grid(result: ViTResult) -> np.ndarray:
    """Small multiples: tile (r, c) shows how similar position (r, c) is to every other position."""
    rows, cols = result.grid
    cell = _grid_cell(result)
    gap = GRID_GAP
    tile = (rows * cell, cols * cell)
    sheet = np.full((rows * (tile[0] + gap), cols * (tile[1] + gap), 3), 255, np.uint8)
    for i in range(rows * cols):
        m = result.pos_sim[i].reshape(rows, cols)
        t = images.colorize((m + 1) / 2)  # cosine -1..1 -> 0..1
        t = np.kron(t, np.ones((cell, cell, 1), np.uint8))
        r, c = divmod(i, cols)
        sheet[r * (tile[0] + gap):r * (tile[0] + gap) + tile[0], c * (tile[1] + gap):c * (tile[1] + gap) + tile[1]] = t
    return sheet


def position_at(result: ViTResult, x: float, y: float) -> int:
    """The position whose tile is under a click at (x, y) on the position_grid picture."""
    rows, cols = result.grid
    tile_w, tile_h = position_tile(result)
    r = int(np.clip(y // tile_h, 0, rows - 1))
    c = int(np.clip(x // tile_w, 0, cols - 1))
    return r * cols + c


def position_map(result: ViTResult, position: int) -> np.ndarray:
    if not 0 <= int(position) < result.num_patches:
        raise ViTInputError(f"Position {position} does not exist: pick 0 to {result.num_patches - 1}.")
    m = result.pos_sim[int(position)].reshape(result.grid)
    return images.enlarge(images.colorize((m + 1) / 2), VIEW_SIDE)


def patch_at(result: ViTResult, x: float, y: float) -> int:
    """The model's patch under a click at (x, y) on the split view (pixels of that picture)."""
    s = split_scale(result.model_input.shape[:2])
    p = result.patch_size * s
    rows, cols = result.grid
    return int(np.clip(y // p, 0, rows - 1)) * cols + int(np.clip(x // p, 0, cols - 1))


def patch_detail(result: ViTResult, patch: int) -> dict:
    """The patch's pixels, its flattened vector (what the linear projection reads) and its embedding."""
    if not 0 <= int(patch) < result.num_patches:
        raise ViTInputError(f"Patch {patch} does not exist: pick 0 to {result.num_patches - 1}.")
    p = result.patch_size
    r, c = divmod(int(patch), result.grid[1])
    pixels = result.model_input[r * p:(r + 1) * p, c * p:(c + 1) * p]  # (P, P, 3)
    return {"row": r, "col": c, "pixels": images.enlarge(pixels, 160),
            "flat": pixels.reshape(-1).astype(np.float32) / 255,  # (P*P*3,) row-major, RGB interleaved
            "embedding": result.embeddings[int(patch)]}


def vector_figure(values: np.ndarray, title: str):
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(y=values, marker={"color": values, "colorscale": "Viridis"}))
    fig.update_layout(title=title, height=220, margin={"l": 40, "r": 10, "t": 40, "b": 30}, bargap=0)
    return fig


def distance_figure(result: ViTResult):
    """Mean attention distance per head versus depth, against the distance of even attention."""
    import plotly.graph_objects as go

    d = result.mean_distance()  # (layers, heads)
    fig = go.Figure()
    for layer in range(result.n_layers):
        fig.add_trace(go.Scatter(x=[layer] * result.n_heads, y=d[layer], mode="markers", showlegend=False,
                                 text=[f"layer {layer}, head {h}" for h in range(result.n_heads)],
                                 hovertemplate="%{text}: %{y:.1f} px<extra></extra>", marker={"size": 10}))
    # The reference: below the dashed line a head favours nearby patches; on it, it looks everywhere alike.
    fig.add_hline(y=result.uniform_distance(), line_dash="dash", line_color="grey",
                  annotation_text="even attention over all patches", annotation_position="bottom right")
    fig.update_layout(title="Mean attention distance per head (pixels)", xaxis={"title": "layer", "dtick": 1},
                      yaxis={"title": "pixels"}, height=360)
    return fig


def api_payload(result: ViTResult, clock: api.Clock, layer: int | None = None, head: int | None = None) -> dict:
    """The JSON the /vit endpoint returns (documented in the README): the common header, then these."""
    layer = result.n_layers - 1 if layer is None else int(layer)
    result.check(layer, head)
    return api.respond(result, {
        "image_size": list(result.image_size),
        "patch_size": result.patch_size,
        "grid": list(result.grid),
        "num_patches": result.num_patches,
        "top5": result.top5,
        "layer": layer,
        "head": head,
        "pos_embed_similarity": np.round(result.pos_sim.astype(np.float64), 4).tolist(),
        "cls_attention": np.round(result.cls_attention(layer, head).astype(np.float64), 5).tolist(),
        "rollout": np.round(result.rollout_map().astype(np.float64), 5).tolist(),
    }, clock, result.notices)


def warmup() -> None:
    inspect(data.saved_gallery()[0].image, DEFAULT_MODEL)


def exercise(image) -> None:
    """Every kind of model work this page does, once (tests/unit/test_lane.py runs it for every demo)."""
    inspect(image)


# --- the page's settings as a link, and its lesson ---------------------------------------------------

GALLERY = data.saved_gallery()
GALLERY_NAMES = [f"digits-{i + 1}" for i in range(len(GALLERY))]  # the generated test images, in order
PHOTOS = vision.SAMPLES  # the hub's shared photos (Grad-CAM links here with one of them)


def image_source(name: str):
    """A link's image name -> what the page's controls hold (a gallery array or a photo's path)."""
    if name in GALLERY_NAMES:
        return GALLERY[GALLERY_NAMES.index(name)].image
    return str(PHOTOS[name])


def image_name(src) -> str | None:
    """The link's name for the page's current image, or None (an upload)."""
    if isinstance(src, np.ndarray):
        return next((n for n, s in zip(GALLERY_NAMES, GALLERY) if s.image.shape == src.shape
                     and np.array_equal(s.image, src)), None)
    return share.name_of(src, PHOTOS)


VIEW = share.View("vit_patches", (
    share.choice("image", GALLERY_NAMES[0], [*GALLERY_NAMES, *PHOTOS]),
    share.choice("model", DEFAULT_MODEL, MODEL_CHOICES),
    share.number("layer", 3, 0, 47, integer=True),  # the page clamps it to the model's last layer
    share.choice("head", "mean", ["mean", *map(str, range(64))]),
    share.number("patch", 32, 0, 4095, integer=True),  # one past the model's last patch: the middle one
    share.number("split", 8, 2, 64, integer=True),
), lesson=(
    share.Beat("An image is a grid of patches",
               "The digits ViT cuts its 64×64 input into 8×8-pixel patches: 8·8 = 64 tokens, plus one [CLS] "
               "token whose final vector is classified. The count under the grid is the formula at work.", {}),
    share.Beat("A patch becomes a vector",
               "Patch 27, near the middle: its 8·8·3 = 192 pixel values, flattened, then projected to the "
               "model's width. From here on the model only ever sees such vectors.", {"patch": 27}),
    share.Beat("Any grid you like, one the model uses",
               "Drawn with 16-pixel patches the grid has 16 cells instead of 64: fewer tokens, coarser detail. "
               "The model itself always keeps its own 8-pixel patches.", {"split": 16}),
    share.Beat("What [CLS] reads in the last layer",
               "In tab 4, the [CLS] token's attention over the patches in the last layer, and the rollout "
               "through all layers. Both should sit on the digit rather than on the texture.", {"layer": 3}),
    share.Beat("The first layer",
               "Layer 0's [CLS] attention is spread much more widely: nothing has been mixed yet. Tab 5 "
               "measures how far each layer's heads look.", {"layer": 0}),
    share.Beat("A photo",
               "The cat, asked of ViT-B/16 (16-pixel patches on 224×224: 196 tokens). Offline its weights are "
               "missing, and the digits ViT stands in: the status line says which model ran.",
               {"image": "cat", "model": "vit_b16"}),
), note_when_missing={"image": share.UPLOAD_NOTE})


def share_values(result: ViTResult, image: str | None, asked_model: str, layer: int | None, head: int | None) -> dict:
    """The link settings of a computed image (the API's share_url)."""
    return {"image": image, "model": asked_model, "layer": result.n_layers - 1 if layer is None else int(layer),
            "head": "mean" if head is None else str(head),
            "patch": 32 if 32 < result.num_patches else result.num_patches // 2,
            "split": result.patch_size}
