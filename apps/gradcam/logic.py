"""Grad-CAM logic: an image and a choice of model/method/target in, heatmaps and numbers out.

Pure: no gradio, no streamlit. The CAM methods are pytorch-grad-cam's own classes; this
file only prepares the input, picks the layer and the target, and packages the result.
torch, timm and pytorch_grad_cam are imported inside functions so the hub starts fast.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from core import api, images, lane, models, share
from core.cache import ResultCache
from core.device import pick_device, stream_with_fallback
from core.errors import UserError, one_of
from core.vision import SAMPLES, as_rgb, find_class, image_key, input_size, to_model_input, to_tensor, top5

__all__ = ["SAMPLES", "image_key", "explain", "faithfulness", "api_payload", "CamResult"]
DEFAULT_MODEL = "efficientnet_lite0"
MODEL_CHOICES = ["efficientnet_lite0", "resnet50", "vit_b16"]
HEATMAP_SIDE = 256  # longest side of the heatmap the API returns

# key -> (pytorch_grad_cam class, title shown to learners)
METHODS: dict[str, tuple[str, str]] = {
    "gradcam": ("GradCAM", "Grad-CAM"),
    "gradcam++": ("GradCAMPlusPlus", "Grad-CAM++"),
    "hirescam": ("HiResCAM", "HiResCAM"),
    "xgradcam": ("XGradCAM", "XGrad-CAM"),
    "layercam": ("LayerCAM", "LayerCAM"),
    "eigencam": ("EigenCAM", "EigenCAM (no gradients, class-agnostic)"),
    "scorecam": ("ScoreCAM", "Score-CAM (one forward pass per channel: slow)"),
    "guided-gradcam": ("GradCAM", "Guided Grad-CAM (Grad-CAM x guided backprop)"),
}

# Target layers per architecture, default first. Names are paths inside core.loaders.ImageClassifier.
LAYERS: dict[str, list[tuple[str, str]]] = {
    "timm:efficientnet_lite0": [
        ("last conv features (bn2, 1/32 of the input)", "backbone.bn2"),
        ("last MBConv stage (blocks.6)", "backbone.blocks.6"),
        ("stage 5 (blocks.5)", "backbone.blocks.5"),
        ("stage 4 (blocks.4, 1/16 of the input)", "backbone.blocks.4"),
    ],
    "torchvision:resnet50": [
        ("layer4 (1/32 of the input)", "backbone.layer4"),
        ("layer3 (1/16 of the input)", "backbone.layer3"),
        ("layer2 (1/8 of the input)", "backbone.layer2"),
    ],
    "timm:vit_base_patch16_224": [
        ("block 12 norm1", "backbone.blocks.11.norm1"),
        ("block 11 norm1", "backbone.blocks.10.norm1"),
        ("block 9 norm1", "backbone.blocks.8.norm1"),
    ],
}


class CamInputError(UserError):
    """Bad method, layer or target: the message says what would work."""


@dataclass
class CamResult:
    model: str  # the model name that ran (the fallback's name when the asked one was unavailable)
    model_label: str  # one honest line: model, source, device
    device: str
    offline: bool
    notices: list[str]  # e.g. a GPU fallback or the hub model that was unavailable; empty when all went as asked
    method: str
    layer: str
    top5: list[dict]
    target: dict
    image: np.ndarray  # (H, W, 3) uint8, the decoded upload
    model_input: np.ndarray  # (h, w, 3) uint8, exactly what the model saw (whole image, no crop)
    cam: np.ndarray  # (h, w) float32 in [0, 1], at model-input resolution
    heatmap: np.ndarray  # (H', W') float32 in [0, 1], image aspect, longest side <= HEATMAP_SIDE
    guided: np.ndarray | None = None  # (H', W', 3) uint8 guided Grad-CAM picture
    elapsed_ms: float = 0.0
    key: tuple = ()  # the result-cache key: what was asked (image, model, method, target, layer, device)
    _overlay: tuple | None = field(default=None, repr=False, compare=False)  # (alpha, picture) of the last overlay

    def __getstate__(self) -> dict:
        """Pickled (to a Ray front end, or to compare it) without the kept overlay: it is a cache, not the result."""
        return {**self.__dict__, "_overlay": None}

    def overlay(self, alpha: float = 0.5) -> np.ndarray:
        """The heatmap over the image, at heatmap resolution (cheap: used on every slider move). The last one is
        kept (read-only): every page showing this result at that opacity, a live class's followers, reuses it."""
        if self.guided is not None:
            return self.guided
        kept = self._overlay
        if kept is not None and kept[0] == alpha:
            return kept[1]
        base = np.asarray(Image.fromarray(self.image).resize(self.heatmap.shape[::-1], Image.Resampling.BILINEAR))
        out = images.overlay(base, self.heatmap, alpha)  # (H', W', 3) uint8
        out.setflags(write=False)
        self._overlay = (alpha, out)  # one tuple, swapped whole: safe for threads reading it meanwhile
        return out


def layer_choices(model: str) -> list[tuple[str, str]]:
    return LAYERS[models.get_spec(model).arch]


def _has_layer(arch: str, layer: str) -> bool:
    return any(layer in (label, path, path.removeprefix("backbone.")) for label, path in LAYERS[arch])


def _resolve_layer(model_name: str, arch: str, layer: str | None) -> str:
    choices = LAYERS[arch]
    if layer in (None, "", "default"):
        return choices[0][1]
    for label, path in choices:
        if layer in (label, path, path.removeprefix("backbone.")):
            return path
    raise CamInputError(f"Unknown layer {layer!r} for {model_name}. Choose one of: "
                        + ", ".join(p.removeprefix("backbone.") for _, p in choices))


def _reshape_for(arch: str, hw: tuple[int, int]):
    """ViT tokens (B, 1+N, C) -> (B, C, rows, cols) so CAM methods see a spatial map; CNNs need none."""
    if "vit" not in arch:
        return None
    rows, cols = hw[0] // 16, hw[1] // 16

    def reshape(t):  # (B, 1 + rows*cols, C) -> (B, C, rows, cols): drop [CLS], lay tokens on the grid
        return t[:, 1:, :].reshape(t.size(0), rows, cols, t.size(2)).permute(0, 3, 1, 2)

    return reshape


@lru_cache(maxsize=1)
def _guided_relu6_class() -> type:
    """ReLU6 with guided-backprop gradients: the library's GuidedBackpropReLU, then the cap at 6.

    pytorch-grad-cam's guided backprop only swaps nn.ReLU; EfficientNet-Lite uses ReLU6,
    which would otherwise pass plain gradients through. (Built lazily: torch is not
    imported when the hub starts.)
    """
    import torch
    from pytorch_grad_cam.guided_backprop import GuidedBackpropReLU

    class GuidedReLU6(torch.nn.Module):
        def forward(self, x):  # (B, C, H, W) -> same shape
            return GuidedBackpropReLU.apply(x).clamp(max=6.0)

    return GuidedReLU6


def _swap(module, old_type: type, factory) -> None:
    """Replace every submodule of old_type by factory(), a fresh instance per site."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, old_type):
                setattr(parent, name, factory())


def _guided_backprop(module, x, target_idx: int) -> np.ndarray:
    """(h, w, 3) float input gradient with guided ReLUs; the model is restored even on error."""
    import torch
    from pytorch_grad_cam import GuidedBackpropReLUModel
    from pytorch_grad_cam.guided_backprop import GuidedBackpropReLUasModule

    guided_relu6 = _guided_relu6_class()
    try:
        _swap(module, torch.nn.ReLU6, guided_relu6)
        return GuidedBackpropReLUModel(module)(x.clone(), target_category=target_idx)
    finally:
        # The library swaps nn.ReLU itself and swaps it back, unless it failed half-way.
        _swap(module, GuidedBackpropReLUasModule, torch.nn.ReLU)
        _swap(module, guided_relu6, torch.nn.ReLU6)


def _run_cam(loaded: models.Loaded, method: str, layer_path: str, x, target) -> tuple[np.ndarray, object]:
    """One pytorch-grad-cam call. Returns ((h, w) cam in [0,1], logits (1, classes)).

    `with` releases the hooks even when the call fails: a UI that reruns on every
    click must not pile hooks onto the shared model.
    """
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cls = getattr(pytorch_grad_cam, METHODS[method][0])
    layer = loaded.module.get_submodule(layer_path)
    targets = None if target is None else [ClassifierOutputTarget(int(target))]
    with cls(model=loaded.module, target_layers=[layer],
             reshape_transform=_reshape_for(loaded.spec.arch, tuple(x.shape[-2:]))) as cam:
        grayscale = cam(input_tensor=x, targets=targets)  # (1, h, w) float32 in [0, 1]
        logits = cam.outputs.detach()  # (1, classes): the same forward pass, no extra cost
    return grayscale[0].astype(np.float32), logits


SCORECAM_BATCH = 16  # masked images per forward pass: one lane chunk (~0.3 s on 2 CPU cores)


def _score_cam(loaded: models.Loaded, layer_path: str, x, target) -> Iterator:
    """Score-CAM (Wang et al. 2020), computed exactly as pytorch-grad-cam's ScoreCAM does, but one batch
    of masked images per lane chunk: yields a Progress between batches (a chunk boundary: a click can run
    in between, and a learner who leaves stops it), then ((h, w) cam in [0, 1], logits (1, classes)).

    Each channel's upsampled, min-max normalised activation masks the input; the target's logit on that
    masked image is the channel's score; the softmax of the scores weights the activations. The masked
    images are made one batch at a time (the library builds all of them at once: 770 MB for 1,280 channels).
    """
    import torch
    import torch.nn.functional as F
    from pytorch_grad_cam.utils.image import scale_cam_image

    module = loaded.module
    grabbed: list = []
    hook = module.get_submodule(layer_path).register_forward_hook(lambda m, i, o: grabbed.append(o.detach()))
    try:
        with torch.no_grad():
            logits = module(x)  # (1, classes)
    finally:
        hook.remove()  # no hook survives a yield: other jobs use this model between our chunks
    reshape = _reshape_for(loaded.spec.arch, tuple(x.shape[-2:]))
    acts = grabbed[0] if reshape is None else reshape(grabbed[0])  # (1, C, h', w')
    idx = int(logits.argmax(-1)) if target is None else int(target)
    up = F.interpolate(acts, size=x.shape[-2:], mode="bilinear", align_corners=True)[0]  # (C, h, w)
    flat = up.flatten(1)  # (C, h*w)
    lo, hi = flat.min(1).values[:, None, None], flat.max(1).values[:, None, None]  # (C, 1, 1)
    masks = (up - lo) / (hi - lo + 1e-8)  # (C, h, w) in [0, 1]
    scores = []
    for i in range(0, len(masks), SCORECAM_BATCH):
        with torch.no_grad():
            out = module(x * masks[i:i + SCORECAM_BATCH, None])  # (b, 3, h, w) -> (b, classes)
        scores.append(out[:, idx].float().cpu())  # (b,) the target's logit per masked image
        yield Progress(min(i + SCORECAM_BATCH, len(masks)), len(masks))
    weights = torch.softmax(torch.cat(scores), 0).numpy()  # (C,)
    cam = (weights[:, None, None] * acts[0].float().cpu().numpy()).sum(0)  # (h', w')
    cam = scale_cam_image(np.maximum(cam, 0)[None], (x.shape[-1], x.shape[-2]))  # (1, h, w), as the library
    yield scale_cam_image(np.maximum(cam, 0))[0].astype(np.float32), logits


_cache = ResultCache(32, "gradcam")  # results by input and settings: re-asking costs nothing
_faith_cache = ResultCache(32, "gradcam_faithfulness")  # faithfulness numbers by result key


@dataclass(frozen=True)
class Progress:
    """How far a long method (Score-CAM) has got: `done` of `total` channels scored."""

    done: int
    total: int


def explain(image, model: str = DEFAULT_MODEL, method: str = "gradcam", target: str | int | None = None,
            layer: str | None = None, device: str | None = None,
            progress: Callable[[float, str], None] | None = None) -> CamResult:
    """Grad-CAM (or another CAM method) of `target` (default: top-1) for the whole image.

    image: anything core.images.load_image accepts. Results are cached by
    (image, model, method, target, layer), so re-asking (a slider move, a second
    method view) costs nothing. progress(fraction, text), when given, is called from the caller's own
    thread as Score-CAM works through its channels (a UI's progress bar).
    """
    method = (method or "gradcam").strip().lower()
    one_of(method, METHODS, "method", CamInputError)
    spec = models.page_model(model, DEFAULT_MODEL, MODEL_CHOICES, "an image classifier", CamInputError)
    rgb = as_rgb(image)
    if target is not None and isinstance(target, str) and not target.strip():
        target = None
    key = (image_key(rgb), spec.name, method, str(target), layer or "", device or "")

    def compute() -> CamResult:
        ran = None
        for ran in stream_with_fallback(lambda dev: _compute(rgb, spec.name, method, target, layer, dev), device):
            if isinstance(ran.value, Progress) and progress is not None:
                progress(ran.value.done / ran.value.total,
                         f"Score-CAM: {ran.value.done} of {ran.value.total} channels scored")
        result: CamResult = ran.value  # type: ignore[union-attr]  # the last item is the result
        result.notices = api.unique([ran.notice, *result.notices])  # before caching: never changed afterwards
        result.key = key
        return result

    return _cache.get_or_compute(key, compute)


def _compute(rgb: np.ndarray, model: str, method: str, target, layer: str | None, device: str) -> Iterator:
    """Yields a Progress between Score-CAM's batches, then the CamResult. elapsed_ms counts this job's
    compute only, not the time other requests ran in between."""
    import torch

    t0 = time.perf_counter()
    busy = 0.0
    loaded = models.load(model, device)
    arch = loaded.spec.arch
    layer_notice = ""
    if loaded.name != loaded.spec.name and layer not in (None, "", "default") and not _has_layer(arch, layer):
        # A stand-in of another architecture runs: the asked layer is not in it, so use its default.
        layer_notice = (f"Layer {layer!r} belongs to {models.MODELS[loaded.name].title}; "
                        f"used {LAYERS[arch][0][0]} instead.")
        layer = None
    layer_path = _resolve_layer(loaded.spec.name, arch, layer)
    names = loaded.labels
    model_rgb = to_model_input(rgb, input_size(loaded.spec, rgb.shape[:2]))  # (h, w, 3) uint8
    x = to_tensor(model_rgb, loaded.device)  # (1, 3, h, w)
    target_idx = None if target is None else find_class(target, names)
    if isinstance(target_idx, list):  # "cat" matches several classes: take the one the model favours
        with torch.no_grad():
            probs = loaded.module(x).softmax(-1)[0]  # (classes,)
        target_idx = max(target_idx, key=lambda i: float(probs[i]))
    if method == "scorecam":
        for step in _score_cam(loaded, layer_path, x, target_idx):
            if not isinstance(step, Progress):
                cam, logits = step
                break
            busy += time.perf_counter() - t0
            yield step  # handed to explain()'s caller for its progress bar; the lane may run a click now
            t0 = time.perf_counter()
    with loaded.lock:  # never held across a yield: the lane may run another job on this model in between
        if method != "scorecam":
            cam, logits = _run_cam(loaded, method, layer_path, x, target_idx)
        probs = logits.softmax(-1)[0]  # (classes,)
        if target_idx is None:
            target_idx = int(logits.argmax(-1))
        guided_img = None
        if method == "guided-gradcam":
            gb = _guided_backprop(loaded.module, x, target_idx)  # (h, w, 3)
            guided = cam[:, :, None] * gb  # (h, w, 3): keep fine detail only where Grad-CAM is hot
    out_hw = images.fit_within(rgb.shape[:2], HEATMAP_SIDE)
    if method == "guided-gradcam":
        from pytorch_grad_cam.utils.image import deprocess_image

        mag = np.abs(guided).max(axis=2)  # (h, w)
        cam = (mag / mag.max()).astype(np.float32) if mag.max() > 0 else np.zeros_like(mag, np.float32)
        guided_img = Image.fromarray(deprocess_image(guided)).resize(out_hw[::-1], Image.Resampling.BILINEAR)
        guided_img = np.asarray(guided_img)
    heat = np.clip(images.resize_float(cam, out_hw), 0.0, 1.0)  # (H', W') in [0, 1]
    yield CamResult(
        model=loaded.spec.name,
        model_label=loaded.describe(),
        device=loaded.device,
        offline=loaded.offline,
        notices=[loaded.fallback_notice, layer_notice],
        method=method,
        layer=layer_path.removeprefix("backbone."),
        top5=top5(probs, names),
        target={"index": int(target_idx), "label": names[int(target_idx)]},
        image=rgb,
        model_input=model_rgb,
        cam=cam,
        heatmap=heat,
        guided=guided_img,
        elapsed_ms=(busy + time.perf_counter() - t0) * 1000,
    )


# ImageNet ViTs the patch viewer offers, best first: the link to it asks for one only when its weights are here.
PHOTO_VITS = ("vit_b16", "deit_tiny", "dino_vits16")


def vit_link(image: str) -> tuple[dict, str]:
    """The ViT patch viewer's settings and the link's text for a gallery photo: the first ImageNet ViT whose
    weights are on this machine, or (offline) the page's own small ViT, named as such, never a model that would
    only open on a stand-in."""
    found = next((m for m in PHOTO_VITS if models.on_disk(m)), None)
    if found is not None:
        return {"image": image, "model": found}, (f"The same image in a Vision Transformer "
                                                  f"({models.MODELS[found].short_name}): its patches and attention")
    return {"image": image}, ("The same image in a Vision Transformer: its patches and attention (the offline "
                              "digits ViT: no ImageNet ViT's weights are on this machine)")


def heat_peak(result: CamResult) -> tuple[int, int]:
    """(x, y) in the image's pixels of the heatmap's hottest cell: where a SAM click would go to segment
    what the network looked at."""
    hh, hw = result.heatmap.shape
    r, c = np.unravel_index(int(np.argmax(result.heatmap)), (hh, hw))
    h, w = result.image.shape[:2]
    return int((c + 0.5) * w / hw), int((r + 0.5) * h / hh)


SLOW_METHODS = {"scorecam"}  # one forward pass per channel: seconds, where the others take milliseconds


def progress_spans(methods: list[str]) -> list[tuple[float, float]]:
    """(start, width) of each method's share of one progress bar, by its cost: a slow method (Score-CAM) gets
    the bar, a quick one a sliver (before, a quick Grad-CAM took the first half, so a Score-CAM second in line
    started its bar at 50%)."""
    cost = [1.0 if m in SLOW_METHODS else 0.02 for m in methods]
    total, start, out = sum(cost), 0.0, []
    for c in cost:
        out.append((start / total, c / total))
        start += c
    return out


def first_progress_text(model: str, method: str) -> str:
    """What a progress bar says before the first map: loading only when the model is not loaded yet."""
    if models.peek(model, pick_device()) is None and models.peek(model, "cpu") is None:  # on the GPU, or after
        return "Loading the model (first time only)"  # a fallback, on the CPU
    return f"Computing {METHODS[method][1]}"


HOT = 0.5  # heat (of the hottest cell's) from which the map counts as "where the network looks"


def hot_box(result: CamResult, level: float = HOT) -> tuple[int, int, int, int]:
    """[x0, y0, x1, y1] in the image's pixels round the heatmap cells at or above `level`."""
    hh, hw = result.heatmap.shape
    rows, cols = np.nonzero(result.heatmap >= level * float(result.heatmap.max()))
    h, w = result.image.shape[:2]
    return (int(cols.min() * w / hw), int(rows.min() * h / hh), int(min((cols.max() + 1) * w / hw, w - 1)),
            int(min((rows.max() + 1) * h / hh, h - 1)))


def sam_prompt(result: CamResult) -> str:
    """The SAM link's prompt for "segment what the network looks at": a click at the heat peak and a box round
    the hot region, as SAM's link writes them. A click alone often caught a highlight or a sliver (584 pixels on
    the coffee) since the peak cell need not sit on the object's own colour; the box keeps the mask to the
    region the map marks."""
    x, y = heat_peak(result)
    return f"{x},{y},1;" + ",".join(str(v) for v in hot_box(result))


def faithfulness(result: CamResult, fraction: float = 0.2, seed: int = 0) -> dict:
    """How much the target's probability drops when the hottest `fraction` of pixels is removed,
    beside removing the same number of random pixels.

    "Removed" means set to the ImageNet mean colour (zero after normalisation). A faithful
    map's hot pixels should hurt much more than random ones.
    """
    memo = (result.key or id(result), fraction, seed)  # changing only the second method must not redo this
    return _faith_cache.get_or_compute(memo, lambda: lane.run(lambda: _faithfulness(result, fraction, seed),
                                                                "faithfulness"))


def _faithfulness(result: CamResult, fraction: float, seed: int) -> dict:
    import torch

    loaded = models.load(result.model, result.device)
    cam = result.cam  # (h, w)
    n = int(round(fraction * cam.size))
    order = np.argsort(cam.ravel())[::-1]  # hottest first
    hot = np.zeros(cam.size, bool)
    hot[order[:n]] = True
    rand = np.zeros(cam.size, bool)
    rand[np.random.default_rng(seed).choice(cam.size, n, replace=False)] = True
    base = result.model_input.astype(np.float32) / 255  # (h, w, 3)
    fill = np.asarray(models.IMAGENET_MEAN, np.float32)
    batch = []
    for mask in (None, hot, rand):
        img = base.copy()
        if mask is not None:
            img.reshape(-1, 3)[mask] = fill
        batch.append(img)
    x = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).to(loaded.device)  # (3, 3, h, w)
    with loaded.lock, torch.no_grad():
        probs = loaded.module(x).softmax(-1)[:, result.target["index"]].cpu().numpy()  # (3,)
    p, p_hot, p_rand = (float(v) for v in probs)
    return {"fraction": fraction, "p_original": p, "p_hot_removed": p_hot, "p_random_removed": p_rand,
            "drop_hot": p - p_hot, "drop_random": p - p_rand}


def faithfulness_text(f: dict) -> str:
    """The faithfulness check in plain words (Markdown), with its verdict and the sign explained."""
    part = f"{f['fraction']:.0%}"

    def change(drop: float) -> str:  # drop = p_before - p_after: positive means the probability fell
        return f"falls by {drop:.1%}" if drop >= 0 else f"rises by {-drop:.1%}"

    text = (f"**Faithfulness check** (the target's probability is {f['p_original']:.1%}): greying out the "
            f"map's hottest {part} of pixels, it **{change(f['drop_hot'])}**; greying out a random {part}, it "
            f"**{change(f['drop_random'])}**. ")
    if f["drop_hot"] > f["drop_random"]:
        return text + "✅ The map passes: the pixels it marks matter more to the model than random ones."
    return text + ("❌ The map fails its own check here: the pixels it marks mattered less than random ones "
                   "(a rise means the model became *more* sure without them), so do not read it as "
                   "\"what the model used\" for this image.")


def compare_png(results: list[CamResult], alpha: float = 0.5) -> bytes:
    """Original | overlay(s), captioned, as one slide-sized PNG."""
    first = results[0]
    h, w = first.heatmap.shape
    base = np.asarray(Image.fromarray(first.image).resize((w, h), Image.Resampling.BILINEAR))
    panels = [("input", base)] + [(f"{METHODS[r.method][1].split(' (')[0]} · {r.target['label']}", r.overlay(alpha))
                                  for r in results]
    return images.to_png_bytes(images.captioned_row(panels))


def api_payload(result: CamResult, clock: api.Clock, alpha: float = 0.5) -> dict:
    """The JSON the /gradcam endpoint returns (documented in the README): the common header, then these."""
    return api.respond(result, {
        "method": result.method,
        "layer": result.layer,
        "top5": result.top5,
        "target": result.target,
        # float64 before rounding: float32 values print as 0.12339999973773956 and triple the JSON
        "heatmap": np.round(result.heatmap.astype(np.float64), 3).tolist(),
        "overlay": images.to_data_url(result.overlay(alpha)),
    }, clock, result.notices)


def warmup() -> None:
    """The page's opening view (both methods and the faithfulness check), so opening it costs a cache look-up."""
    d = VIEW.defaults()
    a = explain(SAMPLES[d["image"]], d["model"], d["method"])
    explain(a.image, d["model"], d["compare"], a.target["index"])
    faithfulness(a)


def exercise(image) -> None:
    """Every kind of model work this page does, once (tests/unit/test_lane.py runs it for every demo)."""
    faithfulness(explain(image))


# --- the page's settings as a link, and its lesson ---------------------------------------------------

def _image_names() -> list[str]:
    """Gallery names, and the images other pages handed over by link (FGSM's adversarial ones)."""
    return [*SAMPLES, *share.SHELF.keys()]


def layer_label(model: str, layer: str | None) -> str:
    """The dropdown's name of a layer of this model (given as a name, a module path or None); the model's
    default layer when it has no such layer (a link that names another model's layer)."""
    choices = layer_choices(model)
    for label, path in choices:
        if layer in (label, path, path.removeprefix("backbone.")):
            return label
    return choices[0][0]


# Links name a layer by its short module path ("bn2", "layer3"); the dropdown by a longer label.
LAYER_KEYS = {label: path.removeprefix("backbone.") for arch in LAYERS.values() for label, path in arch}
VIEW = share.View("gradcam", (
    share.choice("image", "cat", _image_names),
    share.choice("model", DEFAULT_MODEL, MODEL_CHOICES),
    share.choice("method", "gradcam", METHODS),
    share.choice("compare", "gradcam++", ["none", *METHODS]),
    share.text("target", "", 80),
    share.choice("layer", "bn2", sorted(set(LAYER_KEYS.values()))),
    share.number("alpha", 0.5, 0.0, 1.0),
), lesson=(
    share.Beat("Where does the network look?",
               "The classifier calls this photo an Egyptian cat. Grad-CAM weights the last feature maps by how much "
               "each one raised that score and shows where they fire. Now read the faithfulness check: greying out "
               "the map's brightest fifth does not lower the score here. A map is a hypothesis, not a proof.", {}),
    share.Beat("Same image, another class: tiger cat",
               "Nothing changes but the class we ask about. The map now shows the evidence for 'tiger cat', and "
               "this time the faithfulness check passes.", {"target": "tiger cat"}),
    share.Beat("Ask for a class that is not there",
               "'washbasin' scores almost zero, yet the map is still normalised to full brightness. A bright "
               "map does not mean a confident model: read the top-5 first.", {"target": "washbasin"}),
    share.Beat("An earlier layer: finer, noisier",
               "Half the stride, four times the cells: on this photo (192×288 as the model sees it) the map is "
               "12×18 instead of the last layer's 6×9. But earlier features are less about classes and more "
               "about texture.",
               {"layer": "blocks.4"}),
    share.Beat("A method without gradients",
               "EigenCAM takes the main direction of the feature maps and ignores the class: compare it with "
               "Grad-CAM, which follows the class you ask about.", {"method": "eigencam", "compare": "gradcam"}),
    share.Beat("Another photo",
               "The espresso: a confident answer, and a map that passes its check by a wide margin. Greying out its "
               "hottest fifth costs the score far more than greying out a random fifth.", {"image": "coffee"}),
), note_when_missing={"image": share.UPLOAD_NOTE})


def share_values(result: CamResult, image_name: str | None, asked_model: str, compare: str = "none",
                 target=None, alpha: float = 0.5) -> dict:
    """The link settings of a computed CAM (the API's share_url)."""
    return {"image": image_name, "model": asked_model, "method": result.method, "compare": compare,
            "target": "" if target in (None, "") else str(target), "layer": result.layer,
            "alpha": alpha}


# The 3x3 grid of the live-class question "where will it look?", in reading order.
GRID_CELLS = ("top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom", "bottom right")


def heat_by_cell(heatmap: np.ndarray) -> np.ndarray:
    """(9,) share of the heatmap's total heat in each cell of a 3x3 grid over the image, reading order."""
    hh, hw = heatmap.shape
    rows, cols = np.linspace(0, hh, 4).round().astype(int), np.linspace(0, hw, 4).round().astype(int)
    heat = np.array([heatmap[rows[r]:rows[r + 1], cols[c]:cols[c + 1]].sum() for r in range(3) for c in range(3)])
    return heat / max(float(heat.sum()), 1e-12)  # (9,)


def class_question(values: dict) -> dict:
    """The live-class question of a Grad-CAM view: in which ninth of the image the chosen method puts the most heat
    (the answer is computed from the view's own map)."""
    name = values.get("image")
    if not name:
        raise CamInputError("This view's image is an upload, which a class cannot share: pick a gallery image.")
    image = share.SHELF.get(name) if name in share.SHELF.keys() else SAMPLES[name]
    r = explain(image, values["model"], values["method"], values.get("target") or None,
                layer_label(values["model"], values.get("layer")))
    share_ = heat_by_cell(r.heatmap)
    best = int(np.argmax(share_))
    return {"question": f"Where will {METHODS[r.method][1]} look for '{r.target['label']}'?",
            "options": [c.capitalize() for c in GRID_CELLS], "answer": best,
            "explain": f"{METHODS[r.method][1]} puts {share_[best]:.0%} of its heat in the {GRID_CELLS[best]} ninth "
                       f"of the image ({r.model})."}
