"""Generated scenes whose true masks are known: the tiny SAM's training data, the engines' test bench and
the page's "generated scene" source.

A scene is a background (a colour, a gentle gradient, some noise) with a few flat-coloured shapes on it.
Three things in it make segmentation worth learning:
- occlusion: later shapes cover earlier ones, so a mask is the *visible* part of a shape;
- parts inside wholes: a shape may carry a smaller shape of another colour (a "window" in a "house"),
  so one click on the part is truly ambiguous: the part, or the whole it belongs to;
- touching twins: two shapes of nearly the same colour that touch, which only a negative click can tell apart.

Shapes are drawn in unit coordinates, so the same seed renders the same scene at any size. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LINK_PREFIX = "scene-"  # a generated scene in a link or a lesson: "scene-7"
SOURCE_PREFIX = "scene:"  # ...and as a page's current picture: "scene:7" (no file path starts so)
MAX_SEED = 2**31 - 1


def source_name(seed) -> str:
    """A page's current picture when it is generated scene `seed`."""
    return f"{SOURCE_PREFIX}{int(seed or 0)}"


def link_name(seed: int) -> str:
    return f"{LINK_PREFIX}{int(seed)}"


def seed_of(name) -> int | None:
    """The seed of a scene named as a page's picture ("scene:7") or in a link ("scene-7"); None for anything
    else (a gallery name, a file path, a seed out of range)."""
    if isinstance(name, str):
        for prefix in (SOURCE_PREFIX, LINK_PREFIX):
            rest = name[len(prefix):]
            if name.startswith(prefix) and rest.isdigit() and int(rest) <= MAX_SEED:
                return int(rest)
    return None


@dataclass
class Target:
    """One thing a prompt may ask for: a visible object, or a part inside one."""

    mask: np.ndarray  # (H, W) bool
    kind: str  # "object" | "part" | "twin"
    parent: int | None = None  # for a part: the index of its whole in Scene.targets


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    targets: list[Target] = field(default_factory=list)
    seed: int = 0


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = (np.arange(size, dtype=np.float32) + 0.5) / size  # pixel centres in [0, 1]
    return np.meshgrid(c, c)  # (H, W) x, (H, W) y


def shape_mask(kind: str, p: dict, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(H, W) bool for one shape; p holds unit-coordinate parameters."""
    dx, dy = x - p["cx"], y - p["cy"]
    ca, sa = np.cos(p.get("angle", 0.0)), np.sin(p.get("angle", 0.0))
    u, v = ca * dx + sa * dy, -sa * dx + ca * dy  # the shape's own axes
    if kind == "circle":
        return dx * dx + dy * dy <= p["r"] ** 2
    if kind == "ellipse":
        return (u / p["rx"]) ** 2 + (v / p["ry"]) ** 2 <= 1.0
    if kind == "rect":
        return (np.abs(u) <= p["w"] / 2) & (np.abs(v) <= p["h"] / 2)
    if kind == "triangle":  # isoceles, apex up in its own axes
        h, w = p["h"], p["w"]
        t = (v + h / 2) / h  # 0 at the base, 1 at the apex
        return (t >= 0) & (t <= 1) & (np.abs(u) <= (1 - t) * w / 2)
    raise ValueError(kind)


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated or a plain colour, 0..255 floats."""
    return rng.uniform(0, 255, 3) if rng.random() < 0.5 else rng.choice([30.0, 120.0, 220.0], 3) + rng.normal(0, 12, 3)


def _far(c: np.ndarray, used: list[np.ndarray], gap: float) -> bool:
    return all(np.linalg.norm(c - u) > gap for u in used)


def _pick_colour(rng: np.random.Generator, used: list[np.ndarray], gap: float = 70.0) -> np.ndarray:
    for _ in range(50):
        c = np.clip(_colour(rng), 0, 255)
        if _far(c, used, gap):
            return c
    return np.clip(_colour(rng), 0, 255)


def _random_shape(rng: np.random.Generator, size_range=(0.09, 0.22)) -> tuple[str, dict]:
    kind = str(rng.choice(["circle", "ellipse", "rect", "triangle"]))
    s = rng.uniform(*size_range)
    p = {"cx": rng.uniform(0.15, 0.85), "cy": rng.uniform(0.15, 0.85), "angle": rng.uniform(0, np.pi)}
    if kind == "circle":
        p["r"] = s
    elif kind == "ellipse":
        p.update(rx=s, ry=s * rng.uniform(0.55, 0.9))
    elif kind == "rect":
        p.update(w=2 * s, h=2 * s * rng.uniform(0.55, 1.0))
    else:
        p.update(w=2.2 * s, h=2.2 * s)
    return kind, p


def make_scene(seed: int, size: int = 64, *, twins: float = 0.35, parts: float = 0.45,
               noise: tuple[float, float] = (0.0, 6.0)) -> Scene:
    """The scene of `seed`, rendered at size x size. Same seed, same scene (at any size)."""
    rng = np.random.default_rng(seed)
    x, y = _grid(size)
    bg = _pick_colour(rng, [])
    used = [bg]
    owner = np.full((size, size), -1, dtype=np.int32)  # which drawn shape is on top at each pixel
    colours: list[np.ndarray] = []
    groups: list[int] = []  # shape -> its target (a part's pixels also belong to its whole)
    kinds: list[tuple[str, int | None]] = []  # per target: (kind, parent)

    def draw(mask: np.ndarray, colour: np.ndarray, target: int) -> None:
        owner[mask] = len(colours)
        colours.append(colour)
        groups.append(target)

    for _ in range(int(rng.integers(2, 5))):
        kind, p = _random_shape(rng)
        c = _pick_colour(rng, used)
        used.append(c)
        t = len(kinds)
        kinds.append(("object", None))
        draw(shape_mask(kind, p, x, y), c, t)
        if rng.random() < parts:  # a part inside this whole: a smaller shape near its centre
            e = _extent(kind, p)
            pk, pp = _random_shape(rng, (0.3 * e, 0.45 * e))
            pp.update(cx=p["cx"] + rng.uniform(-0.25, 0.25) * e, cy=p["cy"] + rng.uniform(-0.25, 0.25) * e)
            pc = _pick_colour(rng, used)
            used.append(pc)
            kinds.append(("part", t))
            draw(shape_mask(pk, pp, x, y) & shape_mask(kind, p, x, y), pc, len(kinds) - 1)
    if rng.random() < twins:  # two touching shapes of nearly one colour, on top of everything
        r1, r2 = rng.uniform(0.09, 0.16), rng.uniform(0.09, 0.16)
        cx, cy, a = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0, 2 * np.pi)
        c = _pick_colour(rng, used)
        used.append(c)
        for r, sign in ((r1, -1), (r2, 1)):
            d = r if sign > 0 else -r  # centres r1 + r2 apart: the circles touch at (cx, cy)
            kinds.append(("twin", None))
            twin_colour = np.clip(c + rng.normal(0, 6, 3), 0, 255)
            draw(shape_mask("circle", {"cx": cx + d * np.cos(a), "cy": cy + d * np.sin(a), "r": r}, x, y),
                 twin_colour, len(kinds) - 1)

    img = np.empty((size, size, 3), dtype=np.float32)
    img[:] = bg
    grad = rng.uniform(-18, 18, 3)  # a gentle light gradient across the background
    img += (x[..., None] - 0.5) * grad
    for i, c in enumerate(colours):
        img[owner == i] = c
    img += rng.normal(0, rng.uniform(*noise), img.shape)
    image = np.clip(img, 0, 255).astype(np.uint8)

    # Target masks: a shape's visible pixels, plus its parts' pixels for a whole.
    by_target = [np.zeros((size, size), dtype=bool) for _ in kinds]
    for i, t in enumerate(groups):
        by_target[t] |= owner == i
    for t, (kind, parent) in enumerate(kinds):
        if kind == "part" and parent is not None:
            by_target[parent] |= by_target[t]
    # Shapes hidden almost entirely by later ones are no target; parents are renumbered to match.
    kept = [t for t, m in enumerate(by_target) if m.sum() >= max(6, size * size // 400)]
    index = {t: i for i, t in enumerate(kept)}
    targets = [Target(by_target[t], kinds[t][0], index.get(kinds[t][1]) if kinds[t][1] is not None else None)
               for t in kept]
    return Scene(image, targets, seed)


def _extent(kind: str, p: dict) -> float:
    return float(p.get("r", p.get("rx", p.get("w", 0.2) / 2)))


def inside_point(mask: np.ndarray, rng: np.random.Generator, margin: int = 2) -> tuple[int, int]:
    """A random (x, y) pixel well inside a mask (at least `margin` pixels from its edge when it can)."""
    import cv2

    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)  # (H, W) pixels to the edge
    ok = dist >= min(margin, float(dist.max()))
    ys, xs = np.nonzero(ok)
    i = int(rng.integers(len(xs)))
    return int(xs[i]), int(ys[i])


def box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    """[x0, y0, x1, y1] pixel box around a mask (inclusive corners)."""
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
