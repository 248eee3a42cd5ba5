"""Generated images whose ground truth we know: a scikit-learn digit pasted at a random place
and size on a random texture. Shared by training/train_vit_digits.py, the demo and the tests.

Digits 0-1199 of scikit-learn's 1,797 are for training, the rest for testing, so test
images show digit drawings the model has never seen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.digits import real_digits

SIZE = 64
TRAIN_DIGITS = 1200


@dataclass
class Sample:
    image: np.ndarray  # (64, 64, 3) uint8
    label: int  # the digit, 0-9
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) of the pasted digit, pixels, x1/y1 exclusive


def _textures(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 64, 64, 3) float backgrounds: a colour gradient plus smooth and fine noise, never flat."""
    import torch
    import torch.nn.functional as F

    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE  # (64, 64)
    t = rng.uniform(0, 1, (n, 1, 1))
    ramp = (t * xx + (1 - t) * yy)[..., None]  # (n, 64, 64, 1)
    c0, c1 = rng.uniform(0.1, 0.6, (n, 1, 1, 3)), rng.uniform(0.1, 0.6, (n, 1, 1, 3))
    coarse = torch.from_numpy(rng.uniform(-1, 1, (n, 3, 8, 8)).astype(np.float32))
    smooth = F.interpolate(coarse, size=(SIZE, SIZE), mode="bicubic", align_corners=False)  # (n, 3, 64, 64)
    img = c0 * ramp + c1 * (1 - ramp) + 0.12 * smooth.permute(0, 2, 3, 1).numpy()
    return np.clip(img + rng.normal(0, 0.04, img.shape), 0, 1)


def batch(rng: np.random.Generator, n: int, split: str = "train") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, 64, 64, 3) uint8 images, (n,) labels, (n, 4) boxes (x0, y0, x1, y1)."""
    images, labels = real_digits()
    lo, hi = (0, TRAIN_DIGITS) if split == "train" else (TRAIN_DIGITS, len(labels))
    imgs = _textures(rng, n)
    idx = rng.integers(lo, hi, n)
    sizes = rng.integers(20, 41, n)  # digit size in pixels
    boxes = np.zeros((n, 4), np.int64)
    for k in range(n):
        s = int(sizes[k])
        x0, y0 = int(rng.integers(0, SIZE - s + 1)), int(rng.integers(0, SIZE - s + 1))
        glyph = np.asarray(Image.fromarray(images[idx[k]], mode="F").resize((s, s), Image.Resampling.BILINEAR))
        ink = np.clip(glyph, 0, 1)[..., None]  # (s, s, 1)
        colour = rng.uniform(0.75, 1.0, 3) if imgs[k].mean() < 0.45 else rng.uniform(0.0, 0.2, 3)
        patch = imgs[k, y0:y0 + s, x0:x0 + s]
        imgs[k, y0:y0 + s, x0:x0 + s] = (1 - ink) * patch + ink * colour
        boxes[k] = (x0, y0, x0 + s, y0 + s)
    return (imgs * 255).round().astype(np.uint8), labels[idx], boxes


def make(rng: np.random.Generator, split: str = "train") -> Sample:
    x, y, b = batch(rng, 1, split)
    return Sample(x[0], int(y[0]), tuple(int(v) for v in b[0]))


GALLERY_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "images" / "vit_digits"


def saved_gallery() -> list[Sample]:
    """The gallery as written by training/make_vit_gallery.py (no torch or scikit-learn needed)."""
    index = json.loads((GALLERY_DIR / "index.json").read_text())
    return [Sample(np.asarray(Image.open(GALLERY_DIR / e["file"]).convert("RGB")), e["label"], tuple(e["box"]))
            for e in index]


def gallery(n: int = 8, seed: int = 2024) -> list[Sample]:
    """Fixed test-split samples for the demo's gallery (generated; saved_gallery() reads the saved copy)."""
    rng = np.random.default_rng(seed)
    return [make(rng, "test") for _ in range(n)]
