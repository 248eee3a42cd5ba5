"""Image-classifier plumbing that every vision demo shares: the shared sample gallery, the size a
model sees, uint8 images to tensors, class look-up by name or index, top-5, and a content key
for caches. torch is imported inside functions (the hub starts without it)."""

from __future__ import annotations

import difflib
import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from core import images, models
from core.errors import UserError

SAMPLES_DIR = models.ASSETS / "images"
SAMPLES: dict[str, Path] = {p.stem: p for p in sorted(SAMPLES_DIR.glob("*"))
                            if p.suffix.lower() in (".png", ".jpg")}


class ClassLookupError(UserError):
    """A class name or index that the model does not have."""


_ASSETS = models.ASSETS.resolve()  # the gallery's folder: its pictures are decoded once (as_rgb)


def as_rgb(image) -> np.ndarray:
    """An (H, W, 3) uint8 array as it is, anything else through core.images.load_image (size caps). A gallery
    image (a file under assets/) is decoded once: every view of a sample, every follower of a class showing it,
    asked for it again (a copy comes back, so no caller can change the kept one)."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return image
    if isinstance(image, (str, Path)):
        try:
            path = Path(image).resolve()
            if path.is_relative_to(_ASSETS) and path.is_file():
                st = path.stat()
                return _asset_rgb(str(path), st.st_mtime_ns, st.st_size).copy()
        except OSError:
            pass  # unreadable: load_image says so
    return images.load_image(image)


@lru_cache(maxsize=16)  # assets/ ships 14 pictures, each at most 1024 px a side decoded: under 45 MB in all
def _asset_rgb(path: str, mtime_ns: int, size: int) -> np.ndarray:
    """A file of ours, decoded (the stat values are part of the key: a changed file is decoded again)."""
    return images.load_image(path)


def image_key(rgb: np.ndarray) -> str:
    """A content key for result caches: the same pixels give the same key, whatever the file was."""
    return hashlib.sha1(rgb.tobytes() + str(rgb.shape).encode()).hexdigest()


def input_size(spec: models.ModelSpec, hw: tuple[int, int]) -> tuple[int, int]:
    """(h, w) the model sees. Keep-aspect models get about side^2 pixels with sides divisible by 32."""
    side = spec.config.side
    if spec.config.input == "square":
        return side, side
    h, w = hw
    scale = side / np.sqrt(h * w)
    return tuple(int(np.clip(round(v * scale / 32) * 32, 64, 2 * side)) for v in (h, w))  # type: ignore[return-value]


def to_model_input(rgb: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Resize the WHOLE image (no crop) to (h, w): HWC uint8 -> HWC uint8."""
    h, w = size_hw
    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.BICUBIC))


def to_tensor(rgb: np.ndarray, device: str = "cpu"):
    """HWC uint8 -> (1, 3, h, w) float in [0, 1] (normalisation is inside the model wrapper)."""
    import torch

    x = torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div(255)  # (3, h, w)
    return x.unsqueeze(0).to(device)  # (1, 3, h, w)


def find_class(query: str | int, names: tuple[str, ...]) -> int | list[int]:
    """A class index from an index or a name. Several partial matches -> the list of candidates."""
    if isinstance(query, (int, np.integer)) or (isinstance(query, str) and query.strip().lstrip("-").isdigit()):
        idx = int(query)
        if not 0 <= idx < len(names):
            raise ClassLookupError(f"Class index {idx} is out of range: use 0 to {len(names) - 1}.")
        return idx
    q = str(query).strip().lower()
    if not q:
        raise ClassLookupError("Empty class name: type an ImageNet class such as 'tabby' or 'espresso'.")
    lower = [n.lower() for n in names]
    if q in lower:
        return lower.index(q)
    hits = [i for i, n in enumerate(lower) if q in n]
    if len(hits) == 1:
        return hits[0]
    if hits:
        return hits
    close = difflib.get_close_matches(q, lower, n=5, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ClassLookupError(f"Unknown ImageNet class {query!r}.{hint}")


def top5(probs, names: tuple[str, ...]) -> list[dict]:
    """Top-5 of one probability vector (classes,) -> [{index, label, prob}], highest first.

    Takes numpy or torch; callers softmax first (logits are not probabilities)."""
    p = np.asarray(probs.detach().cpu().numpy() if hasattr(probs, "detach") else probs, dtype=np.float64).ravel()
    idx = np.argsort(-p, kind="stable")[:5]
    return [{"index": int(i), "label": names[int(i)], "prob": round(float(p[i]), 6)} for i in idx]
