"""CLIP zero-shot classification: labels typed by the learner, scored against an image in one vector space.

Framework-free; both hubs and the /clip endpoint call classify(). The offline model is ConSE, an honest
stand-in built from two bundled models (core.loaders.ConSE); CLIP ViT-B/32 runs when open_clip and its
weights can be had. Image embeddings are cached by image hash and label embeddings by text, so changing
a label costs one short text pass and changing the image one image pass.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from core import api, models, share
from core.cache import ResultCache
from core.device import run_noted, run_with_fallback
from core.errors import UserError
from core.vision import SAMPLES, as_rgb, image_key, input_size, to_model_input, to_tensor

DEFAULT_MODEL = "conse"
MODEL_CHOICES = ["conse", "clip_vit_b32"]
MODES = {"softmax": "softmax over the labels (sums to 1)", "independent": "each label on its own (0 to 1)"}
MAX_LABELS = 64
MAX_LABEL_CHARS = 200
DEFAULT_LABELS = ["a cat", "a dog", "a cup of coffee", "a rocket", "a flower", "a building"]
# A few of the prompt templates CLIP's authors wrote for ImageNet: a bare word ("cat") is unlike the captions
# CLIP was trained on ("a photo of a cat"); averaging several phrasings also smooths out any one of them.
TEMPLATES = ("a photo of a {}.", "a blurry photo of a {}.", "a close-up photo of a {}.", "a bright photo of a {}.",
             "a photo of the small {}.", "a photo of the large {}.", "a good photo of a {}.", "art of a {}.")


class ClipInputError(UserError):
    """No labels, too many, an empty or huge one, an unknown mode: the message says what would work."""


@dataclass
class ClipResult:
    model: str
    model_label: str
    device: str
    offline: bool
    labels: list[str]
    similarities: np.ndarray  # (n,) cosine of the image with each label (templates averaged when on)
    probs: np.ndarray  # (n,) softmax mode: sums to 1; independent mode: each in [0, 1]
    mode: str
    templates: bool
    logit_scale: float
    baseline: float  # the cosine of the content-free label ("something"): independent scores start above it
    image: np.ndarray  # (H, W, 3) uint8 as given
    notices: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def top(self) -> dict:
        i = int(np.argmax(self.probs))
        return {"label": self.labels[i], "prob": float(self.probs[i])}


def clean_labels(labels) -> list[str]:
    """A list of strings, or one string with a label per line (or comma-separated) -> labels, in order.

    Blank lines of a typed string are skipped; an empty entry in a list is an error (it is a mistake
    in the caller's list, not a spacing habit). Repeats are kept once, at their first place."""
    if labels is None:
        raise ClipInputError("Give at least two labels, e.g. 'a cat' and 'a dog'.")
    if isinstance(labels, str):
        parts = labels.splitlines() if "\n" in labels else labels.split(",")
        items = [p.strip() for p in parts if p.strip()]
    elif isinstance(labels, (list, tuple)):
        if not all(isinstance(x, str) for x in labels):
            raise ClipInputError("Labels must be strings.")
        items = [x.strip() for x in labels]
        if any(not x for x in items):
            raise ClipInputError("A label is empty: remove it or write something in it.")
    else:
        raise ClipInputError("Labels must be a list of strings or one string with a label per line.")
    long = next((x for x in items if len(x) > MAX_LABEL_CHARS), None)
    if long is not None:
        raise ClipInputError(f"A label is {len(long):,} characters long; keep each under {MAX_LABEL_CHARS}.")
    out = list(OrderedDict.fromkeys(items))
    if len(out) > MAX_LABELS:
        raise ClipInputError(f"{len(out)} labels is more than {MAX_LABELS}; fewer labels also read better.")
    if len(out) < 2:
        raise ClipInputError("Give at least two labels: zero-shot classification chooses between them.")
    return out


def check_mode(mode) -> str:
    m = str(mode or "softmax").strip().lower()
    if m not in MODES:
        raise ClipInputError(f"Unknown mode {mode!r}. Choose one of: {', '.join(MODES)}.")
    return m


def prompts(label: str, templates: bool) -> list[str]:
    return [t.format(label) for t in TEMPLATES] if templates else [label]


# --- embeddings, cached -----------------------------------------------------------------------

_image_cache = ResultCache(64, "clip_image_vectors")  # (model that ran, image key) -> (D,) unit vector
TEXT_CACHE_SIZE = 4096
_text_cache = ResultCache(TEXT_CACHE_SIZE, "clip_text_vectors")  # (model, label, templates) -> (D,) unit vector


def _label_vectors(module, model: str, labels: list[str], templates: bool) -> np.ndarray:
    """(n, D) unit vectors; with templates, each label's prompts are embedded and averaged (then unit
    length again): CLIP's prompt ensembling. Only labels not seen before reach the text model."""
    found = {x: _text_cache.get((model, x, templates)) for x in labels}
    missing = [x for x, v in found.items() if v is None]
    if missing:  # one batch through the text model for all of them
        texts = [p for x in missing for p in prompts(x, templates)]
        emb = module.encode_text(texts).cpu().numpy()  # (len(missing) * k, D)
        k = len(TEMPLATES) if templates else 1
        for i, x in enumerate(missing):
            v = emb[i * k:(i + 1) * k].mean(0)  # (D,)
            found[x] = v / max(float(np.linalg.norm(v)), 1e-12)
            _text_cache.put((model, x, templates), found[x])
    return np.stack([found[x] for x in labels])  # (n, D)


def _image_vector(loaded: models.Loaded, rgb: np.ndarray) -> np.ndarray:
    def compute() -> np.ndarray:
        x = to_tensor(to_model_input(rgb, input_size(loaded.spec, rgb.shape[:2])), loaded.device)  # (1, 3, h, w)
        return loaded.module.encode_image(x)[0].cpu().numpy()  # (D,)

    return _image_cache.get_or_compute((loaded.spec.name, image_key(rgb)), compute)


def cosines(vecs: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(n, D) float32 x (D,) float32 -> (n,) float64 dot products, each exactly rounded.

    A float32 times a float32 is exact in float64, and fsum adds exactly, so each row's value is the same
    wherever the row sits and whatever kernels the CPU runs: a matrix product (BLAS) may round a row
    differently by its position, which broke "reordering the labels changes nothing else" on some CPUs.
    """
    t = target.astype(np.float64)  # (D,)
    return np.array([math.fsum(row) for row in vecs.astype(np.float64) * t], dtype=np.float64)  # (n,)


BASELINE = "something"  # a label with no content: how much any prompt matches this image by its wording alone


def scores(sims: np.ndarray, mode: str, logit_scale: float, baseline: float) -> np.ndarray:
    """softmax: exp(s * cos) normalised over the labels, so it sums to 1 even when no label fits.
    independent: each label alone, as how far its cosine rises above the content-free label's, on the way
    to a perfect match: clip((cos - baseline) / (1 - baseline), 0, 1). No sum constraint: every label
    can score 0 ("none of these") or several can score high."""
    if mode == "softmax":
        # One label at a time with math.exp and an exactly rounded sum (fsum): the result does not depend on
        # the labels' order or on which SIMD path numpy takes on this CPU (a plain e.sum() moved the last
        # bits when the labels were reordered).
        z = [logit_scale * float(s) for s in sims]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = math.fsum(e)
        return np.array([v / total for v in e], dtype=np.float64)
    return np.clip((sims.astype(np.float64) - baseline) / max(1.0 - baseline, 1e-6), 0.0, 1.0)


# --- classify ---------------------------------------------------------------------------------

def classify(image, labels, model: str = DEFAULT_MODEL, templates: bool = True, mode: str = "softmax",
             device: str | None = None) -> ClipResult:
    """Score each label against the image. Reordering the labels reorders the outputs and nothing else."""
    spec = models.page_model(model, DEFAULT_MODEL, MODEL_CHOICES, "a zero-shot model", ClipInputError)
    names = clean_labels(labels)
    m = check_mode(mode)
    rgb = as_rgb(image)
    return run_noted(lambda dev: _classify(rgb, spec.name, names, bool(templates), m, dev), device)


def _classify(rgb: np.ndarray, model: str, labels: list[str], templates: bool, mode: str,
              device: str) -> ClipResult:
    t0 = time.perf_counter()
    loaded = models.load(model, device)
    module = loaded.module  # core.loaders.ZeroShotModel
    with loaded.lock:
        image_vec = _image_vector(loaded, rgb)  # (D,)
        label_vecs = _label_vectors(module, loaded.spec.name, labels, templates)  # (n, D)
        base_vec = _label_vectors(module, loaded.spec.name, [BASELINE], templates)[0]  # (D,)
    sims = cosines(label_vecs, image_vec)  # (n,) both sides have unit length
    baseline = float(cosines(base_vec[None], image_vec)[0])
    return ClipResult(model=loaded.spec.name, model_label=loaded.describe(), device=loaded.device,
                      offline=loaded.offline, labels=labels, similarities=sims.astype(np.float32),
                      probs=scores(sims, mode, module.logit_scale, baseline), mode=mode, templates=templates,
                      logit_scale=module.logit_scale, baseline=baseline, image=rgb, notices=[loaded.fallback_notice],
                      elapsed_ms=(time.perf_counter() - t0) * 1000)


def similarity_matrix(images: list, labels, model: str = DEFAULT_MODEL, templates: bool = True) -> np.ndarray:
    """(images, labels) cosines, e.g. the gallery against the typed labels."""
    return np.stack([classify(img, labels, model, templates).similarities for img in images])


def retrieve(text: str, images: dict, model: str = DEFAULT_MODEL, templates: bool = True,
             device: str | None = None) -> list[tuple[str, float]]:
    """Text -> image search over named images: (name, cosine), best first. The images' embeddings come
    from the same cache as classify(), so searching the gallery again costs one text pass."""
    query = text.strip() if isinstance(text, str) else ""
    if not query or len(query) > MAX_LABEL_CHARS:
        raise ClipInputError(f"Type what to search for (up to {MAX_LABEL_CHARS} characters).")
    spec = models.get_spec(model or DEFAULT_MODEL)
    rgbs = {name: as_rgb(img) for name, img in images.items()}

    def search(dev: str) -> list[tuple[str, float]]:
        loaded = models.load(spec.name, dev)
        with loaded.lock:
            q = _label_vectors(loaded.module, loaded.spec.name, [query], templates)[0]  # (D,)
            found = [(name, float(_image_vector(loaded, rgb) @ q)) for name, rgb in rgbs.items()]
        return sorted(found, key=lambda t: -t[1])

    return run_with_fallback(search, device).value  # type: ignore[return-value]


def api_payload(result: ClipResult, clock: api.Clock) -> dict:
    """The JSON the /clip endpoint returns (documented in the README): the common header, then these."""
    return api.respond(result, {
        "labels": result.labels,
        "probs": [round(float(p), 6) for p in result.probs],
        "similarities": [round(float(s), 6) for s in result.similarities],
        "top": result.top,
        "mode": result.mode,
        "templates": result.templates,
        "logit_scale": result.logit_scale,
        "baseline": round(result.baseline, 6),
    }, clock, result.notices)


def stand_in_notice(model: str) -> str | None:
    """What a page says under a result from a model that is not CLIP (both hubs show these words)."""
    if model != "conse":
        return None
    return ("This is **not CLIP**: an ImageNet classifier's top classes, mixed in a sentence model's space (ConSE). "
            "It can only say what 1,000 ImageNet classes can say, and nothing was trained to pull images and "
            "captions together.")


def manifest(entry: str = "conse") -> dict:
    """Measured numbers from assets/models/MANIFEST.json: "conse" (training/measure_conse.py) or
    "tiny_clip" (training/train_tiny_clip.py); {} when not measured yet."""
    return models.manifest(entry)


def explainer_values() -> dict[str, str]:
    return {**_conse_values(), "tiny_result": _tiny_values()}


def _tiny_values() -> str:
    m = manifest("tiny_clip")
    if not m:
        return "not measured yet (run training/train_tiny_clip.py)"
    z = m["zero_shot"]
    return (f"the model that ships gets **{z['held_out_compositions']:.0%}** of them right, against "
            f"{z['seen_compositions']:.0%} on the compositions it saw and a chance level of {z['chance']:.0%}")


def _conse_values() -> dict[str, str]:
    m = manifest()
    g = m.get("gallery", {})
    if not g:
        return {"gallery_accuracy": "not measured yet (run training/measure_conse.py)"}
    t, b = g["templates"], g["bare_labels"]
    wrong = [f"{name} read as '{pick}'" for name, pick in b["picks"].items() if pick != m["gallery_labels"][name]]
    return {"gallery_accuracy": f"**{t['correct']} of {t['of']}** right with the templates, {b['correct']} of "
                                f"{b['of']} with the bare labels" + (f" ({'; '.join(wrong)})" if wrong else "")}


def tiny_clip_text() -> str:
    """What the tiny CLIP learned, from its manifest entry (training/train_tiny_clip.py)."""
    m = manifest("tiny_clip")
    if not m:
        return "The tiny CLIP has not been trained yet: run `training/train_tiny_clip.py`."
    z = m["zero_shot"]
    return (f"A tiny CLIP trained here in {m['train_seconds']:.0f} s on a CPU ({m['steps']} steps of "
            f"{m['batch']} generated image–caption pairs, symmetric InfoNCE with a learned temperature, now "
            f"1/τ = {m['final_inverse_temperature']:g}). Zero-shot over the 12 colour–shape captions: "
            f"**{z['seen_compositions']:.0%}** on compositions it saw, **{z['held_out_compositions']:.0%}** on "
            f"three it never saw ({', '.join(m['held_out_compositions'])}); chance is {z['chance']:.0%}.")


def warmup() -> None:
    """The page's opening view: the cat, the default labels and the gallery's similarity matrix."""
    classify(SAMPLES["cat"], DEFAULT_LABELS)
    similarity_matrix(list(SAMPLES.values()), DEFAULT_LABELS)


def exercise(image) -> None:
    """Every kind of model work this page does, once (tests/unit/test_lane.py runs it for every demo)."""
    classify(image, ["a lane", "a cat"])
    retrieve("a cat", {"photo": image})


# --- figures (plotly; both hubs draw these) -----------------------------------------------------

NONE_THRESHOLD = 0.25  # independent mode: below this for every label, the page says "none of these"


def verdict(result: ClipResult, threshold: float = NONE_THRESHOLD) -> str:
    """One sentence on the answer, honest about what each mode can say."""
    top = result.top
    if result.mode == "softmax":
        return (f"Best label: **{top['label']}** ({top['prob']:.0%} of the softmax over these "
                f"{len(result.labels)} labels; the shares always add up to 100%, even when no label fits).")
    above = [(x, p) for x, p in zip(result.labels, result.probs) if p >= threshold]
    if not above:
        return (f"**None of these**: no label rises more than {threshold:.0%} of the way from the content-free "
                f"label '{BASELINE}' to a perfect match.")
    return "Labels that fit on their own: " + ", ".join(f"**{x}** ({p:.0%})" for x, p in
                                                          sorted(above, key=lambda t: -t[1])) + "."


def bars_figure(result: ClipResult, threshold: float = NONE_THRESHOLD):
    """The labels in the order given, with their scores (and the cosines in the hover)."""
    import plotly.graph_objects as go

    softmax = result.mode == "softmax"
    colours = ["#0072B2" if softmax or p >= threshold else "#9ca3af" for p in result.probs]  # colour-blind safe
    fig = go.Figure(go.Bar(x=result.probs, y=result.labels, orientation="h", marker={"color": colours},
                           text=[f"{p:.0%}" for p in result.probs], textposition="outside",
                           cliponaxis=False,  # a narrow plot (a phone) has no room past 100% for "100%"
                           customdata=result.similarities,
                           hovertemplate="%{y}: %{x:.1%}<br>cosine %{customdata:.3f}<extra></extra>"))
    if not softmax:  # the line's name goes in the title: written beside the line, it sat on the top bar's value
        fig.add_vline(x=threshold, line_dash="dash", line_color="grey")
    fig.update_layout(title="softmax over the labels (sums to 1)" if softmax else
                      f"each label on its own (0 to 1); dashed: the none-of-these line at {threshold:.0%}",
                      xaxis={"range": [0, 1.12], "tickformat": ".0%"}, yaxis={"autorange": "reversed"},
                      # the right margin holds the last tick label, "100%", which was cut off on a phone
                      height=max(220, 60 + 36 * len(result.labels)), margin={"l": 10, "r": 30, "t": 50, "b": 30},
                      font={"size": 15})
    return fig


def matrix_figure(names: list[str], labels: list[str], matrix: np.ndarray):
    """Images x labels cosines as a heatmap: each row's brightest cell is that image's zero-shot answer."""
    import plotly.graph_objects as go

    best = matrix.argmax(1)
    text = [[("★ " if j == best[i] else "") + f"{matrix[i, j]:.2f}" for j in range(len(labels))]
            for i in range(len(names))]
    fig = go.Figure(go.Heatmap(z=matrix, x=labels, y=names, colorscale="Viridis", text=text, texttemplate="%{text}",
                               hovertemplate="%{y} vs %{x}: cosine %{z:.3f}<extra></extra>"))
    fig.update_layout(title="Cosine similarity, images × labels (★ = each image's best label)",
                      yaxis={"autorange": "reversed"}, height=120 + 48 * len(names),
                      margin={"l": 10, "r": 10, "t": 50, "b": 10}, font={"size": 14})
    return fig


def result_png(result: ClipResult) -> bytes:
    """The image beside its labels' scores as bars, slide-sized: 1600 pixels wide, 28-pixel text (one PNG for
    slides, drawn with Pillow: Plotly needs kaleido for that)."""
    from PIL import Image, ImageDraw

    from core import images

    font, width, row = images.slide_font(), images.SLIDE_WIDTH, int(images.SLIDE_TEXT * 2)
    title = f"{MODES[result.mode]} · {result.model}"
    side = max(560, 80 + row * len(result.labels))  # the picture's box; the bars fit beside it
    img = Image.fromarray(result.image)
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    if max(img.size) < side:  # a small image is enlarged to fill its box
        scale = side / max(img.size)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    sheet = Image.new("RGB", (width, side), "white")
    sheet.paste(img, (0, 0))
    draw = ImageDraw.Draw(sheet)
    x0 = side + 40
    draw.text((x0, 8), title, fill="black", font=font)
    label_w, pct_w = 420, 110
    bar_w = width - x0 - label_w - pct_w - 20
    for i, (label, p) in enumerate(zip(result.labels, result.probs)):
        y = 70 + i * row
        text = label if font.getlength(label) <= label_w - 10 else label[:22] + "…"
        draw.text((x0, y + 4), text, fill="black", font=font)
        bx = x0 + label_w
        draw.rectangle((bx, y, bx + max(2, int(bar_w * float(p))), y + row - 14), fill=(0, 114, 178))
        draw.text((bx + bar_w + 10, y + 4), f"{float(p):.0%}", fill="black", font=font)
    return images.to_png_bytes(np.asarray(sheet))


# --- the page's settings as a link, and its lesson ---------------------------------------------------

_NO_FIT = "a car\na boat\nan airplane"
VIEW = share.View("clip_zero_shot", (
    share.choice("image", "cat", SAMPLES),
    share.text("labels", "\n".join(DEFAULT_LABELS), MAX_LABELS * 40),
    share.choice("model", DEFAULT_MODEL, MODEL_CHOICES),
    share.flag("templates", True),
    share.choice("mode", "softmax", MODES),
    share.number("threshold", NONE_THRESHOLD, 0.0, 1.0),
), lesson=(
    share.Beat("Labels you type",
               "The image and each label become vectors in one space; the label whose vector points the most the "
               "same way as the image's wins. Six labels, one clear winner.", {}),
    share.Beat("No right answer, a confident pick anyway",
               "None of car, boat or airplane is in the photo, yet a softmax over the three must share out 100%: "
               "one label still 'wins' with most of it.", {"labels": _NO_FIT}),
    share.Beat("Each label on its own",
               "Scored one at a time against a content-free label, no label fits: the page says 'none of these'. "
               "The softmax could not say that.", {"labels": _NO_FIT, "mode": "independent"}),
    share.Beat("Finer labels",
               "Zero-shot means any labels you type: real CLIP learned from captions, never from a fixed list of "
               "classes. The offline stand-in did learn a list (ImageNet's 1,000 classes), and tabby, tiger and "
               "lion are on it: here it reads these words through classes it knows by name. Which cat word wins?",
               {"labels": "a tabby cat\na tiger\na lion\na dog"}),
    share.Beat("Another photo",
               "The rocket with the six starting labels. Below, the matrix scores every gallery image against "
               "every label at once: the diagonal-like pattern is zero-shot classification for all of them.",
               {"image": "rocket"}),
), note_when_missing={"image": share.UPLOAD_NOTE})


def share_values(result: ClipResult, image: str | None, asked_model: str, templates: bool, mode: str) -> dict:
    """The link settings of a computed classification (the API's share_url)."""
    return {"image": image, "labels": "\n".join(result.labels), "model": asked_model, "templates": bool(templates),
            "mode": mode, "threshold": NONE_THRESHOLD}


def class_question(values: dict) -> dict:
    """The live-class question of a zero-shot view: which of its labels wins (up to the first 10 labels)."""
    name = values.get("image")
    if not name:
        raise ClipInputError("This view's image is an upload, which a class cannot share: pick a gallery image.")
    r = classify(SAMPLES[name], values["labels"], values["model"], values["templates"], values["mode"])
    if len(r.labels) > 10:
        raise ClipInputError("A class question has at most 10 options: this view has more labels; keep 10 or fewer.")
    best = int(np.argmax(r.probs))
    kind = "the softmax over the labels" if r.mode == "softmax" else "each label on its own"
    return {"question": "Which label wins?", "options": list(r.labels), "answer": best,
            "explain": f"'{r.labels[best]}' scores {r.probs[best]:.0%} ({kind}, {r.model})."}
