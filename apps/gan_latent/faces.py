"""Generated cartoon faces whose attributes are known: the GAN's training data, and the ground truth its
latent directions are judged by.

Each 32 x 32 face has four binary attributes that show clearly at that size, and random nuisance factors
(position, size, skin tone, hat colour, background hue), so that the data has real variety and the attributes
are not the only thing a GAN must learn. Faces are drawn at twice the size and averaged down (anti-aliased).
Same seed, same faces. Pure numpy.
"""

from __future__ import annotations

import numpy as np

SIZE = 32
ATTRIBUTES = ("smiling", "glasses", "hat", "bright_background")
_SS = 2  # supersampling


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    c = (np.arange(n, dtype=np.float32) + 0.5) / n * SIZE  # pixel centres, in output-pixel units
    return np.meshgrid(c, c)  # (n, n) x, (n, n) y


_X, _Y = _grid(SIZE * _SS)


def _paint(img: np.ndarray, mask: np.ndarray, colour) -> None:
    img[mask] = colour


def face(attrs: dict[str, int], rng: np.random.Generator) -> np.ndarray:
    """One face with the given attributes and random nuisances -> (32, 32, 3) uint8."""
    x, y = _X, _Y
    n = SIZE * _SS
    img = np.empty((n, n, 3), dtype=np.float32)
    hue = rng.uniform(0, 1)
    base = np.array([0.5 + 0.5 * np.cos(2 * np.pi * (hue + k / 3)) for k in range(3)])  # a colour of that hue
    bg = (170 + 70 * base) if attrs["bright_background"] else (15 + 60 * base)
    img[:] = bg
    cx, cy = 16 + rng.uniform(-2.5, 2.5), 17 + rng.uniform(-2, 2)
    rx, ry = rng.uniform(8.0, 10.5), rng.uniform(9.5, 11.5)
    skin = np.array([226, 182, 150]) * rng.uniform(0.6, 1.08) + rng.normal(0, 8, 3)
    head = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1
    _paint(img, head, np.clip(skin, 0, 255))
    ex, ey = 0.42 * rx, cy - 0.18 * ry  # eye offset and height
    for sx in (-1, 1):
        _paint(img, (x - (cx + sx * ex)) ** 2 + (y - ey) ** 2 <= 1.3 ** 2, (25, 20, 20))
    if attrs["glasses"]:  # thick dark rings around both eyes and a bridge
        for sx in (-1, 1):
            d = np.sqrt((x - (cx + sx * ex)) ** 2 + (y - ey) ** 2)
            _paint(img, (d >= 2.3) & (d <= 3.5), (10, 10, 10))
        _paint(img, (np.abs(y - ey) <= 0.6) & (np.abs(x - cx) <= ex - 2.3), (10, 10, 10))
    my, mw = cy + 0.45 * ry, 0.45 * rx  # mouth centre height and half-width
    t = (x - cx) / mw
    bend = 2.2 * (t ** 2 - 0.5)  # a parabola through the mouth: corners up (smile) or down (frown)
    curve = my + (-bend if attrs["smiling"] else bend)
    _paint(img, (np.abs(t) <= 1) & (np.abs(y - curve) <= 0.9), (120, 20, 30))
    if attrs["hat"]:  # a crown covering the top of the head and a brim wider than the face
        hat = np.clip(rng.uniform(0, 255, 3), 0, 255)
        if np.linalg.norm(hat - bg) < 80:  # keep the hat visible against the background
            hat = 255 - hat
        top = cy - 0.55 * ry
        _paint(img, (y <= top) & (y >= top - 7.5) & (np.abs(x - cx) <= 0.75 * rx), hat)
        _paint(img, (np.abs(y - top) <= 1.1) & (np.abs(x - cx) <= 1.25 * rx), hat)
    img += rng.normal(0, 3, img.shape)
    small = img.reshape(SIZE, _SS, SIZE, _SS, 3).mean((1, 3))  # (32, 32, 3) anti-aliased
    return np.clip(small, 0, 255).astype(np.uint8)


def sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n faces with independent fair-coin attributes -> images (n, 32, 32, 3) uint8, attributes (n, 4) int."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=(n, len(ATTRIBUTES)))
    imgs = np.stack([face(dict(zip(ATTRIBUTES, map(int, row))), rng) for row in labels])
    return imgs, labels.astype(np.int64)
