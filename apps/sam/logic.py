"""SAM prompting: clicks and boxes in, scored masks out, with the image encoded once and each prompt decoded.

Framework-free; both hubs and the /sam endpoint call segment(). Three engines share one interface
(`encode(rgb) -> state`, `decode(state, points, box, multimask) -> (masks, scores)`):
- sam_classic: a classical promptable segmenter for any photo offline (apps/sam/classic.py), not SAM;
- sam_tiny: segment_anything's own modules at toy size, trained here on generated scenes;
- sam_vit_b: Meta's ViT-B SAM when its checkpoint can be had (falls back to the classical engine, saying so).
The per-image state (SAM's image embedding, or the classical engine's smoothed Lab image) is cached by image
hash, so a second click on the same picture only pays for the decoder: the lesson of SAM's design.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from apps.sam import scenes
from core import api, images, models, remote, share
from core.cache import ResultCache
from core.device import run_noted
from core.errors import UserError
from core.vision import SAMPLES, image_key

DEFAULT_MODEL = "sam_classic"
MODEL_CHOICES = ["sam_classic", "sam_tiny", "sam_vit_b"]
MAX_POINTS = 64
EVERYTHING_GRID = 8  # "everything" mode prompts an 8 x 8 grid of points, as SAM's automatic mode does (32 x 32)
DEDUPE_IOU = 0.7


class SamInputError(UserError):
    """Points outside the image, a label other than 0/1, a reversed box, no prompt: says what would work."""


@dataclass
class Prompt:
    points: list[tuple[float, float, int]]  # (x, y, label) in the image's pixels; label 1 keep, 0 leave out
    box: tuple[float, float, float, float] | None  # (x0, y0, x1, y1)


@dataclass
class SamResult:
    model: str
    model_label: str
    device: str
    offline: bool
    image: np.ndarray  # (H, W, 3) uint8, the picture the masks belong to
    prompt: Prompt
    masks: np.ndarray  # (K, H, W) bool, best first for the classical engine, SAM's token order otherwise
    scores: np.ndarray  # (K,) predicted quality in [0, 1]-ish: SAM's IoU head, or the classical stand-ins
    best: int
    encode_ms: float  # spent on the image in this call (0 when the cache had it)
    decode_ms: float
    embedding_cached: bool
    embedding_shape: tuple[int, ...]  # what the encoder produced, for the page's "what is cached" line
    encoded_ms: float = 0.0  # what encoding this image took when it was done (in this call or an earlier one)
    encoded_at_start: bool = False  # encoded by the hub's warm-up, before anyone opened the page
    notices: list[str] = field(default_factory=list)

    @property
    def areas(self) -> list[int]:
        return [int(m.sum()) for m in self.masks]


# --- prompts ------------------------------------------------------------------------------------

def _number(v: Any, what: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise SamInputError(f"{what} must be a number, not {v!r}.") from None
    if not math.isfinite(f):
        raise SamInputError(f"{what} must be a finite number, not {v!r}.")
    return f


def check_prompt(points, box, hw: tuple[int, int]) -> Prompt:
    """Validate points [[x, y, label], ...] and a box [x0, y0, x1, y1] against an image of size hw."""
    h, w = hw
    if isinstance(points, str):
        try:
            points = json.loads(points) if points.strip() else []
        except json.JSONDecodeError:
            raise SamInputError("points must be a list of [x, y, label] triples, e.g. [[120, 80, 1]].") from None
    if isinstance(box, str):
        try:
            box = json.loads(box) if box.strip() else None
        except json.JSONDecodeError:
            raise SamInputError("box must be [x0, y0, x1, y1] or null.") from None
    points = [] if points is None else points
    if not isinstance(points, (list, tuple)):
        raise SamInputError("points must be a list of [x, y, label] triples, e.g. [[120, 80, 1]].")
    if len(points) > MAX_POINTS:
        raise SamInputError(f"{len(points)} points is more than {MAX_POINTS}; a few well-placed clicks do better.")
    out: list[tuple[float, float, int]] = []
    for i, p in enumerate(points):
        if not isinstance(p, (list, tuple)) or len(p) != 3:
            raise SamInputError(f"Point {i + 1} is {p!r}; each point is [x, y, label].")
        x, y = _number(p[0], f"Point {i + 1}'s x"), _number(p[1], f"Point {i + 1}'s y")
        label = _number(p[2], f"Point {i + 1}'s label")
        if label not in (0.0, 1.0):
            raise SamInputError(f"Point {i + 1} has label {p[2]!r}: use 1 for 'part of the object', 0 for 'not'.")
        if not (0 <= x < w and 0 <= y < h):
            raise SamInputError(f"Point {i + 1} ({x:g}, {y:g}) is outside the image, which is {w}x{h} pixels "
                                f"(x from 0 to {w - 1}, y from 0 to {h - 1}).")
        out.append((x, y, int(label)))
    b = None
    if box is not None:
        if not isinstance(box, (list, tuple)) or len(box) != 4:
            raise SamInputError(f"box is {box!r}; give [x0, y0, x1, y1] (top-left, then bottom-right corner).")
        x0, y0, x1, y1 = (_number(v, "A box coordinate") for v in box)
        if x1 <= x0 or y1 <= y0:
            raise SamInputError(f"box {list(box)} has x1 <= x0 or y1 <= y0: give the top-left corner first, "
                                "then the bottom-right one.")
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            raise SamInputError(f"box {list(box)} reaches outside the image, which is {w}x{h} pixels.")
        b = (x0, y0, x1, y1)
    if not out and b is None:
        raise SamInputError("Give a prompt: click on the object (a positive point) or draw a box around it.")
    return Prompt(out, b)


# --- engines and the per-image cache --------------------------------------------------------------

@dataclass
class _Encoded:
    state: Any  # the engine's per-image state (SAM's image embedding, the classical engine's smoothed Lab)
    ms: float  # what the encode took
    at_start: bool = False  # made by warmup()


# (engine that ran, image key) -> _Encoded; a few MB each. The encode time stays with the state, so a page that
# shows an image first after another request encoded it (its link export, a second tab) still shows the cost.
_states = ResultCache(16, "sam_encodings")


def _state(loaded: models.Loaded, rgb: np.ndarray) -> tuple[_Encoded, bool, float]:
    """The engine's per-image state: (encoded, was it cached, ms spent now)."""
    key = (loaded.spec.name, image_key(rgb))
    hit = _states.get(key)
    if hit is not None:
        return hit, True, 0.0

    def encode() -> _Encoded:
        t0 = time.perf_counter()
        state = loaded.module.encode(rgb)
        return _Encoded(state, (time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    encoded = _states.get_or_compute(key, encode)
    return encoded, False, (time.perf_counter() - t0) * 1000


def _embedding_shape(state: Any) -> tuple[int, ...]:
    if isinstance(state, dict) and "features" in state:
        return tuple(state["features"].shape[1:])  # (C, s, s): SAM's image embedding
    return tuple(state["lab"].shape) if isinstance(state, dict) and "lab" in state else ()


def segment(image, points=None, box=None, model: str = DEFAULT_MODEL, multimask: bool = True,
            device: str | None = None, original_size: tuple[int, int] | None = None, scene: bool = False) -> SamResult:
    """Masks for a prompt on an image (HWC uint8, a path, bytes, a data URL...). Points and box are in the
    image's own pixels, as given: a large upload is worked on smaller and its masks scaled back up.
    original_size: the (height, width) an already decoded and shrunk array had as an upload. scene: the picture is
    a generated scene (flat shapes, what the tiny SAM was trained on), not a photo."""
    spec = models.page_model(model, DEFAULT_MODEL, MODEL_CHOICES, "a segmentation model", SamInputError)
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        rgb, original = image, tuple(original_size or image.shape[:2])
    else:
        rgb, original = images.load_image_sized(image)
    prompt = check_prompt(points, box, original)
    scale = (rgb.shape[0] / original[0], rgb.shape[1] / original[1])  # (sy, sx): 1 unless the upload was shrunk
    work = Prompt([(x * scale[1], y * scale[0], lab) for x, y, lab in prompt.points],
                  None if prompt.box is None else (prompt.box[0] * scale[1], prompt.box[1] * scale[0],
                                                   prompt.box[2] * scale[1], prompt.box[3] * scale[0]))
    # With several Ray Serve replicas, the clicks on one image go to the replica that encoded it (core.remote).
    with remote.affinity(f"sam:{image_key(rgb)}"):
        result: SamResult = run_noted(lambda dev: _segment(rgb, work, spec.name, bool(multimask), dev, scene), device)
    if original != rgb.shape[:2]:
        result.masks = np.stack([_resize_mask(m, original) for m in result.masks])
        result.prompt = prompt
    return result


def _resize_mask(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(mask.astype(np.uint8), (hw[1], hw[0]), interpolation=cv2.INTER_NEAREST).astype(bool)


def _segment(rgb: np.ndarray, prompt: Prompt, model: str, multimask: bool, device: str, scene: bool) -> SamResult:
    loaded = models.load(model, device)
    if loaded.module.kind == "classic" and not any(lab == 1 for *_, lab in prompt.points) and prompt.box is None:
        raise SamInputError("Only 'leave out' clicks: add a positive click on the object, or draw a box.")
    with loaded.lock:
        encoded, cached, encode_ms = _state(loaded, rgb)
        state = encoded.state
        t0 = time.perf_counter()
        pts = np.array(prompt.points, dtype=np.float32).reshape(-1, 3)
        masks, scores = loaded.module.decode(state, pts, prompt.box, multimask)  # (K, H, W), (K,)
        decode_ms = (time.perf_counter() - t0) * 1000
    scores = np.asarray(scores, dtype=np.float32)
    notices = [loaded.fallback_notice]
    # An empty candidate is no reading of the prompt: it is dropped (one is kept, said, if every one is empty).
    found = [i for i, m in enumerate(masks) if m.any()]
    if not found:
        found = [int(np.argmax(scores))]
        notices.append("The engine found no mask for this prompt: click inside the object, or draw a box round it.")
    masks, scores = masks[found], scores[found]  # (K', H, W), (K',)
    if loaded.spec.name == "sam_tiny" and not scene and max(rgb.shape[:2]) > 64:
        notices.append("The tiny SAM sees every picture at 64 pixels and only ever saw flat-coloured shapes: "
                       "on a photo its masks are coarse. Try a generated scene, or the classical engine.")
    return SamResult(model=loaded.spec.name, model_label=loaded.describe(), device=loaded.device,
                     offline=loaded.offline, image=rgb, prompt=prompt, masks=masks, scores=scores,
                     best=int(np.argmax(scores)), encode_ms=encode_ms, decode_ms=decode_ms,
                     embedding_cached=cached, embedding_shape=_embedding_shape(state), notices=notices,
                     encoded_ms=encoded.ms, encoded_at_start=encoded.at_start)


def everything(image, model: str = DEFAULT_MODEL, grid: int = EVERYTHING_GRID,
               progress: Callable[[int, int], None] | None = None, device: str | None = None) -> list[dict]:
    """SAM's automatic mode in small: a grid x grid lattice of single positive clicks, each answered with its
    best mask; masks that repeat one already kept (IoU above 0.7) or are tiny are dropped. Best scores first.
    -> [{mask (H, W) bool, score, area, point}]"""
    rgb = image if isinstance(image, np.ndarray) else images.load_image(image)
    grid = int(np.clip(grid, 2, 16))
    h, w = rgb.shape[:2]
    found: list[dict] = []
    n = grid * grid
    for i in range(n):
        x, y = (i % grid + 0.5) * w / grid, (i // grid + 0.5) * h / grid
        r = segment(rgb, [[x, y, 1]], None, model, True, device)
        m, s = r.masks[r.best], float(r.scores[r.best])
        if m.sum() >= 0.001 * h * w and not any(scenes.iou(m, f["mask"]) > DEDUPE_IOU for f in found):
            found.append({"mask": m, "score": s, "area": int(m.sum()), "point": (x, y)})
        if progress:
            progress(i + 1, n)
    return sorted(found, key=lambda f: -f["score"])


# --- pictures -----------------------------------------------------------------------------------

POSITIVE, NEGATIVE, BOX = (0, 158, 115), (213, 94, 0), (0, 114, 178)  # colour-blind-safe (Okabe-Ito)
MASK_TINT = np.array([0, 114, 178], dtype=np.float32)


def mask_png(mask: np.ndarray) -> np.ndarray:
    """A mask as a black-and-white picture (white inside), HWC uint8."""
    return np.repeat((mask.astype(np.uint8) * 255)[..., None], 3, axis=2)


def cutout(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The object alone: RGBA with everything outside the mask transparent."""
    return np.dstack([rgb, mask.astype(np.uint8) * 255])


def draw_prompt(rgb: np.ndarray, prompt: Prompt, mask: np.ndarray | None = None,
                pending: tuple[float, float] | None = None) -> np.ndarray:
    """The image with the mask tinted, its outline drawn, the clicks (green keep, orange leave out) and the box."""
    import cv2

    out = rgb.astype(np.float32)
    if mask is not None and mask.any():
        out[mask] = 0.55 * out[mask] + 0.45 * MASK_TINT
    out = out.astype(np.uint8)
    if mask is not None and mask.any():
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (255, 255, 255), max(1, round(max(rgb.shape[:2]) / 300)))
    r = max(4, round(max(rgb.shape[:2]) / 80))
    if prompt.box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in prompt.box)
        cv2.rectangle(out, (x0, y0), (x1, y1), BOX, max(2, r // 2))
    if pending is not None:
        cv2.drawMarker(out, (int(pending[0]), int(pending[1])), BOX, cv2.MARKER_CROSS, 3 * r, max(2, r // 2))
    for x, y, lab in prompt.points:
        c = (int(x), int(y))
        cv2.circle(out, c, r + 2, (255, 255, 255), -1)
        cv2.circle(out, c, r, POSITIVE if lab == 1 else NEGATIVE, -1)
        if lab == 0:  # a minus sign as well: the two kinds differ by shape, not only by colour
            cv2.line(out, (c[0] - r + 2, c[1]), (c[0] + r - 2, c[1]), (255, 255, 255), max(1, r // 3))
        else:
            cv2.line(out, (c[0] - r + 2, c[1]), (c[0] + r - 2, c[1]), (255, 255, 255), max(1, r // 3))
            cv2.line(out, (c[0], c[1] - r + 2), (c[0], c[1] + r - 2), (255, 255, 255), max(1, r // 3))
    return out


def candidates_strip(result: SamResult, side: int = 200) -> list[tuple[np.ndarray, str]]:
    """Each candidate on the image, captioned with its score and area (⭐ marks the best)."""
    import cv2

    out = []
    for k, m in enumerate(result.masks):
        pic = draw_prompt(result.image, result.prompt, m)
        hh, ww = pic.shape[:2]
        s = side / max(hh, ww)
        pic = cv2.resize(pic, (max(1, round(ww * s)), max(1, round(hh * s))), interpolation=cv2.INTER_AREA)
        star = "⭐ " if k == result.best else ""
        out.append((pic, f"{star}#{k + 1}: score {result.scores[k]:.2f}, {int(m.sum()):,} px"))
    return out


def everything_picture(rgb: np.ndarray, found: list[dict]) -> np.ndarray:
    """Every kept mask in its own colour (largest drawn first, so small ones stay visible)."""
    palette = np.array([(0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233),
                        (213, 94, 0), (240, 228, 66), (120, 120, 120)], dtype=np.float32)
    out = rgb.astype(np.float32)
    for i, f in enumerate(sorted(found, key=lambda f: -f["area"])):
        m = f["mask"] if f["mask"].shape == rgb.shape[:2] else _resize_mask(f["mask"], rgb.shape[:2])
        out[m] = 0.4 * out[m] + 0.6 * palette[i % len(palette)]
    return out.astype(np.uint8)


# --- API, texts --------------------------------------------------------------------------------------

def api_payload(result: SamResult, clock: api.Clock) -> dict:
    """The JSON the /sam endpoint returns (documented in the README): the common header, then these."""
    return api.respond(result, {
        "masks": [{"mask": images.to_data_url(mask_png(m)), "score": round(float(s), 4), "area": int(m.sum())}
                  for m, s in zip(result.masks, result.scores)],
        "best": result.best,
        "timing": {"encode_ms": round(result.encode_ms, 1), "decode_ms": round(result.decode_ms, 1),
                   "embedding_cached": result.embedding_cached},
    }, clock, result.notices)


def timing_text(r: SamResult, first_view: bool = False) -> str:
    """The encode-once line under the picture. first_view: the first result the page shows for this picture,
    which names the encode and its real time even when another request (the page's own link export, another
    tab, the warm-up) encoded it a moment before; later clicks show the cache hit."""
    shape = " × ".join(str(d) for d in r.embedding_shape)
    what = "image embedding" if r.model != "sam_classic" else "smoothed Lab image"
    if not r.embedding_cached:
        enc = f"**cache miss**: encoded the image once, {r.encode_ms:.0f} ms → {what} {shape}"
    elif first_view and r.encoded_at_start:
        enc = (f"**encoded at start-up**: {r.encoded_ms:.0f} ms → {what} {shape} (the hub encodes its opening "
               "picture before anyone visits, so the first click is quick); this click reused it, 0 ms")
    elif first_view:
        enc = (f"**encoded once** for this picture: {r.encoded_ms:.0f} ms → {what} {shape}; this click and every "
               "later one reuse it, 0 ms")
    else:
        enc = f"**cache hit**: the {what} ({shape}) was reused, 0 ms (encoding it took {r.encoded_ms:.0f} ms)"
    return (f"⏱️ Encode: {enc} · Decode this prompt: **{r.decode_ms:.0f} ms** · "
            f"{len(r.prompt.points)} point(s){' + box' if r.prompt.box else ''}")


def engine_note(model: str) -> str:
    """What the engine that ran is, and what the real SAM would add."""
    if model == "sam_classic":
        return ("This is **not SAM**: a classical engine with SAM's interface. Clicks grow regions of similar "
                "colour (three tolerances: part, object, the whole around it), boxes run GrabCut, and a negative "
                "click cuts the mask at the strongest edge or narrowest neck. Scores are the masks' stability "
                "(clicks) or how well they fill the box. The real SAM would know objects whose parts have "
                "different colours and textures, from 1.1 billion training masks.")
    if model == "sam_tiny":
        return ("A **tiny SAM**: segment_anything's own image encoder, prompt encoder and mask decoder at toy "
                "size, trained here on generated shapes. Everything SAM does is here (the cached embedding, three "
                "candidates, the IoU head), but it has only ever seen flat-coloured shapes at 64 × 64 pixels.")
    return ("**Segment Anything (ViT-B)**, Meta's model: a 91 M-parameter image encoder run once per image, then "
            "a 4 M-parameter prompt encoder and mask decoder per click.")


def manifest() -> dict:
    """The tiny SAM's measured numbers (training/train_tiny_sam.py); {} before it is trained."""
    return models.manifest("sam_tiny")


def explainer_values() -> dict[str, str]:
    m = manifest()
    if not m:
        return {"tiny_result": "not measured yet (run training/train_tiny_sam.py)", "tiny_params": "?",
                "tiny_embedding": "?"}
    h = m["held_out_iou"]
    result = (f"on {h['scenes']} held-out scenes, mean IoU **{h['point_best_by_score']:.2f}** for one click (the "
              f"candidate its IoU head ranks first; {h['point_oracle']:.2f} when the best of the three is picked "
              f"by hand), **{h['box']:.2f}** for a box and **{h['point_plus_one']:.2f}** after one corrective click")
    if "twins_cover_positive" in h:
        result += (f"; on touching twins, a click on one and a negative click on the other covers "
                   f"{h['twins_cover_positive']:.0%} of the first and {h['twins_cover_negative']:.0%} of the second")
    return {"tiny_result": result, "tiny_params": f"{m['parameters']:,}",
            "tiny_embedding": _channels_first(m["architecture"].rsplit(", ", 1)[-1])}


def _channels_first(text: str) -> str:
    """The manifest's "8x8x64 image embedding" (height x width x channels) written as the page writes every
    embedding: channels × height × width."""
    found = re.match(r"(\d+)x(\d+)x(\d+)(.*)", text)
    if not found:
        return text
    h, w, c, rest = found.groups()
    return f"{c} × {h} × {w}{rest} (channels × height × width)"


START_SAMPLE = "coffee"  # both pages open on this sample, computed
FIRST_CLICKS = {"coffee": (0.45, 0.40)}  # where a picture's first click goes, as fractions (else its middle)


def first_click(hw: tuple[int, int], name: str | None = None, seed: int | None = None) -> tuple[float, float, int]:
    """The positive click a new picture starts with, so the page shows a mask at once. A generated scene (seed)
    gets it on its largest whole shape, at the point deepest inside it: its middle is often background."""
    if seed is not None:
        target = largest_shape(seed, hw[0])
        if target is not None:
            import cv2

            dist = cv2.distanceTransform(target.astype(np.uint8), cv2.DIST_L2, 3)  # (H, W) pixels to the edge
            y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
            return (float(x), float(y), 1)
    fx, fy = FIRST_CLICKS.get(name or "", (0.5, 0.5))
    return (hw[1] * fx, hw[0] * fy, 1)


def largest_shape(seed: int, size: int = 256) -> np.ndarray | None:
    """Where a click means one whole shape of a scene: the largest shape's own colour (its true mask without the
    parts drawn inside it), preferring a shape that has no touching twin. (H, W) bool, or None."""
    targets = scenes.make_scene(int(seed), int(size)).targets
    own = []
    for i, t in enumerate(targets):
        if t.kind == "part":
            continue
        mask = t.mask.copy()
        for p in targets:
            if p.kind == "part" and p.parent == i:
                mask &= ~p.mask
        own.append((t.kind != "twin", int(mask.sum()), mask))
    return max(own, key=lambda o: o[:2])[2] if own else None


def shown_text(r: SamResult, choice: int) -> str:
    """Which candidate is on screen: the best-scored one, or one picked by hand (and then which is best)."""
    best, m = r.best, r.masks[choice]
    head = (f"Best mask: **#{best + 1}** of {len(r.masks)}" if choice == best else
            f"Showing mask **#{choice + 1}** of {len(r.masks)} (picked; the best-scored is #{best + 1})")
    return (f"{head}, score {r.scores[choice]:.2f}, {int(m.sum()):,} pixels. Click again to add points, or pick "
            "another candidate.")


def scene_score_text(seed: int, mask: np.ndarray) -> str:
    """The shown mask scored against the generated scene's true masks."""
    match = scene_match(seed, mask)
    if match is None:
        return ""
    k, score, kind = match
    return f"🎯 Against the scene's true masks: best match shape {k} ({kind}), **IoU {score:.2f}**."


def scene_match(seed: int, mask: np.ndarray) -> tuple[int, float, str] | None:
    """The scene's true mask that `mask` matches best: (its number from 1, IoU, what it is), or None."""
    targets = scenes.make_scene(int(seed), mask.shape[0]).targets
    if not targets or mask.shape[0] != mask.shape[1]:
        return None
    scores = [scenes.iou(mask, t.mask) for t in targets]
    k = int(np.argmax(scores))
    kind = {"part": "a part inside a shape", "twin": "one of two touching twins"}.get(targets[k].kind, "a shape")
    return k + 1, float(scores[k]), kind


def scene(seed: int, size: int = 256) -> np.ndarray:
    """A generated scene (flat shapes, parts inside wholes, touching twins) as HWC uint8."""
    return scenes.make_scene(int(seed), int(size)).image


def warmup() -> None:
    """The page's opening example, so the first visit finds the image encoded and the engine loaded."""
    rgb = images.load_image(SAMPLES[START_SAMPLE])
    r = segment(rgb, [first_click(rgb.shape[:2], START_SAMPLE)])
    encoded = _states.get((r.model, image_key(rgb)))
    if encoded is not None and not r.embedding_cached:  # this warm-up made it: the page says so, and why
        encoded.at_start = True


def exercise(image) -> None:
    """Every kind of model work this page does, once (tests/unit/test_lane.py runs it for every demo)."""
    segment(image, [[100, 100, 1]])
    segment(image, [], [10, 10, 200, 200], model="sam_tiny")


# --- the page's settings as a link, and its lesson ---------------------------------------------------

def _parse_image(text: str) -> str:
    """A gallery name or 'scene-<seed>' (a generated scene)."""
    if text in SAMPLES:
        return text
    if text.startswith(scenes.LINK_PREFIX) and scenes.seed_of(text) is not None:
        return text
    raise ValueError(text)


def format_prompt(points, box) -> str:
    """Clicks and box as link text: 'x,y,label' per click and 'x0,y0,x1,y1' for the box, ';' between."""
    parts = [f"{float(x):g},{float(y):g},{int(lab)}" for x, y, lab in points or []]
    if box is not None:
        parts.append(",".join(f"{float(v):g}" for v in box))
    return ";".join(parts)


def parse_prompt(text: str) -> tuple[list[tuple[float, float, int]], tuple | None]:
    """The inverse of format_prompt (ValueError on anything else). Whether the clicks fall inside the
    picture is checked when it is segmented, as for the API."""
    points, box = [], None
    for part in filter(None, text.split(";")):
        nums = [float(v) for v in part.split(",")]
        if not all(np.isfinite(nums)):
            raise ValueError(part)
        if len(nums) == 3 and nums[2] in (0, 1):
            points.append((round(nums[0], 1), round(nums[1], 1), int(nums[2])))
        elif len(nums) == 4 and box is None:
            box = tuple(round(v, 1) for v in nums)
        else:
            raise ValueError(part)
    if len(points) > MAX_POINTS:
        raise ValueError(text[:20])
    return points, box


def _prompt_param() -> share.Param:
    def parse(text: str) -> str:
        return format_prompt(*parse_prompt(text))  # normalised, so equal prompts give equal links

    return share.Param("prompt", "", parse, str, "clicks as x,y,1 or x,y,0 and a box as x0,y0,x1,y1, with ';' "
                                                 "between")


VIEW = share.View("sam", (
    share.Param("image", START_SAMPLE, _parse_image, str, "a gallery name or scene-<seed>"),
    share.choice("model", DEFAULT_MODEL, MODEL_CHOICES),
    _prompt_param(),  # empty: the picture's own first click
    share.flag("multimask", True),
    share.number("mask", -1, -1, 2, integer=True),  # the candidate shown; -1: the best-scored one
), lesson=(
    share.Beat("One click, three readings",
               "A click on the coffee could mean a patch of it, the coffee, or the coffee with the cup's inside. "
               "The engine returns three candidates with a score each and shows the best-scored one.",
               {"prompt": "270,160,1"}),
    share.Beat("The widest reading",
               "Candidate 3 reads the same click most broadly: the coffee and the cup's inner wall. Nothing in one "
               "click says which reading you meant: that ambiguity is why SAM answers with several masks.",
               {"prompt": "270,160,1", "mask": 2}),
    share.Beat("Click somewhere else",
               "Three clicks round the red saucer: another object in the same picture, with no new encoding of the "
               "image (see the timing line). One click there takes only the saucer's lit side: this engine grows "
               "regions of similar colour, and the saucer's shading splits it.",
               {"prompt": "120,300,1;280,370,1;450,250,1"}),
    share.Beat("A box instead of clicks",
               "A box round the cup's top says 'the thing in here'. This engine separates the box's foreground "
               "colours from its background (GrabCut) and keeps what belongs to the middle: the rim with the "
               "coffee.", {"prompt": "170,15,412,210"}),
    share.Beat("A scene with known answers",
               "Generated scenes come with their true masks, so every mask gets a score (🎯, its IoU with the true "
               "one). This click on one of two touching shapes of nearly the same colour takes both: an IoU of "
               "about 0.5 with the shape clicked.", {"image": "scene-8", "prompt": "133,112,1"}),
    share.Beat("A ➖ click separates them",
               "A negative click on the other twin cuts it away: the mask is the shape clicked, IoU 1.00.",
               {"image": "scene-8", "prompt": "133,112,1;120,54,0"}),
), note_when_missing={"image": share.UPLOAD_NOTE})


def share_values(result: SamResult, image: str | None, asked_model: str, multimask: bool) -> dict:
    """The link settings of computed masks (the API's share_url); the clicks in the picture's pixels."""
    return {"image": image, "model": asked_model,
            "prompt": format_prompt(result.prompt.points, result.prompt.box), "multimask": bool(multimask),
            "mask": -1}
