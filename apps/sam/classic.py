"""The classical promptable segmenter: SAM's interface (clicks and boxes in, up to three scored masks out)
with no learned weights, for any photo offline. It is labelled as what it is on the page.

It keeps SAM's split between a per-image step and a per-prompt step:
- encode (once per image): shrink to a working size, smooth with an edge-preserving filter, convert to Lab
  (where distances are closer to perceived colour differences) and take the colour gradient;
- decode (per prompt): grow regions of similar colour from the positive clicks at three tolerances (a part,
  the object with its holes filled, and the whole that encloses it), or run GrabCut inside a box. Negative
  clicks carve: a region of their own colour is cut out, and where the clicked thing has the same colour as
  the rest (two touching twins), a marker watershed splits the mask along the colour edge or the narrow neck
  between them.
Each candidate gets a score in [0, 1]: its stability (how little the mask changes when the colour tolerance
is made 20% tighter or 25% looser, the stability score SAM's automatic mode uses) for clicks, and how well
its bounding box fills the prompt box for boxes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

WORK_SIDE = 320  # longest side of the working image: masks are computed here and scaled back up
TOLERANCES = (8.0, 16.0, 30.0)  # Lab distance from the clicked colour: part, object, whole
CANDIDATE_NAMES = ("fine", "object", "whole")


def _cv2():
    import cv2

    return cv2


class ClassicEngine(nn.Module):
    """No parameters: an nn.Module only so it loads, caches and reports like every model of the registry."""

    kind = "classic"

    @torch.no_grad()
    def encode(self, rgb: np.ndarray) -> dict:
        """HWC uint8 RGB -> the per-image state every prompt reuses."""
        cv2 = _cv2()
        h, w = rgb.shape[:2]
        scale = min(1.0, WORK_SIDE / max(h, w))
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA) if scale < 1 else rgb.copy()
        smooth = small
        for _ in range(2):  # edge-preserving: flattens noise and texture, keeps the borders between regions
            smooth = cv2.bilateralFilter(smooth, 7, 40, 5)
        lab = cv2.cvtColor(smooth.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)  # (h, w, 3), L in 0..100
        gx = cv2.Sobel(lab, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(lab, cv2.CV_32F, 0, 1, ksize=3)
        grad = np.sqrt((gx ** 2 + gy ** 2).sum(-1))  # (h, w) colour edge strength
        return {"lab": lab, "grad": grad, "small": smooth, "scale": (sh / h, sw / w), "original_size": (h, w)}

    @torch.no_grad()
    def decode(self, state: dict, points, box, multimask: bool) -> tuple[np.ndarray, np.ndarray]:
        """points: (N, 3) [x, y, label] in image pixels (may be empty); box: [x0, y0, x1, y1] or None.
        -> masks (K, H, W) bool and scores (K,), K = 3 with multimask (fewer when candidates coincide), else 1."""
        pts = _to_work(state, np.asarray(points, dtype=np.float64).reshape(-1, 3))
        wbox = _box_to_work(state, box) if box is not None else None
        pos = [(int(x), int(y)) for x, y, lab in pts if lab == 1]
        neg = [(int(x), int(y)) for x, y, lab in pts if lab == 0]
        if wbox is not None:
            cands = _box_candidates(state, wbox, pos, neg)
        else:
            cands = _point_candidates(state, pos, neg)
        cands = _dedupe(cands)
        if not multimask:
            cands = [max(cands, key=lambda c: c[1])]
        h, w = state["original_size"]
        masks = np.stack([_to_image(m, (h, w)) for m, _ in cands])  # (K, H, W)
        return masks, np.array([s for _, s in cands], dtype=np.float32)


def build(spec=None, path=None) -> ClassicEngine:
    """The registry's builder (nothing to read: the engine has no weights)."""
    return ClassicEngine()


# --- coordinates ----------------------------------------------------------------------------------

def _to_work(state: dict, pts: np.ndarray) -> np.ndarray:
    sy, sx = state["scale"]
    h, w = state["lab"].shape[:2]
    out = pts.copy()
    out[:, 0] = np.clip(np.floor(pts[:, 0] * sx), 0, w - 1)
    out[:, 1] = np.clip(np.floor(pts[:, 1] * sy), 0, h - 1)
    return out


def _box_to_work(state: dict, box) -> tuple[int, int, int, int]:
    sy, sx = state["scale"]
    h, w = state["lab"].shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    return (int(np.clip(np.floor(x0 * sx), 0, w - 1)), int(np.clip(np.floor(y0 * sy), 0, h - 1)),
            int(np.clip(np.ceil(x1 * sx), 0, w - 1)), int(np.clip(np.ceil(y1 * sy), 0, h - 1)))


def _to_image(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """A working-size mask back at the image's size (smooth edges: resize as a float, cut at one half)."""
    cv2 = _cv2()
    h, w = hw
    if mask.shape == (h, w):
        return mask
    return cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5


# --- regions --------------------------------------------------------------------------------------

def _seed_colour(lab: np.ndarray, p: tuple[int, int]) -> np.ndarray:
    x, y = p
    win = lab[max(0, y - 2):y + 3, max(0, x - 2):x + 3].reshape(-1, 3)
    return np.median(win, 0)  # robust to a click on a stray pixel


def _local_spread(lab: np.ndarray, p: tuple[int, int]) -> float:
    x, y = p
    win = lab[max(0, y - 3):y + 4, max(0, x - 3):x + 4].reshape(-1, 3)
    return float(np.sqrt(win.var(0).sum()))


def _component(binary: np.ndarray, p: tuple[int, int]) -> np.ndarray:
    """The 4-connected component of `binary` that holds p (empty when p is not in it)."""
    cv2 = _cv2()
    x, y = p
    if not binary[y, x]:
        return np.zeros_like(binary)
    _, labels = cv2.connectedComponents(binary.astype(np.uint8), connectivity=4)
    return labels == labels[y, x]


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with every region it encloses filled in (what is not reachable from the border)."""
    cv2 = _cv2()
    h, w = mask.shape
    padded = np.zeros((h + 2, w + 2), np.uint8)
    padded[1:-1, 1:-1] = mask
    flood = padded.copy()
    cv2.floodFill(flood, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 2)
    return (flood != 2)[1:-1, 1:-1]


def _grow(state: dict, p: tuple[int, int], tol: float, dist_cache: dict) -> np.ndarray:
    key = p
    if key not in dist_cache:
        lab = state["lab"]
        dist = np.linalg.norm(lab - _seed_colour(lab, p), axis=-1)  # (h, w) Lab distance to the clicked colour
        x, y = p
        dist[max(0, y - 1):y + 2, max(0, x - 1):x + 2] = 0.0  # the clicked spot always belongs (texture may not)
        dist_cache[key] = dist
    return _component(dist_cache[key] <= tol, p)


def _region(state: dict, seeds: list[tuple[int, int]], tol: float, filled: bool, cache: dict) -> np.ndarray:
    m = np.zeros(state["lab"].shape[:2], bool)
    for p in seeds:
        m |= _grow(state, p, tol, cache)
    return fill_holes(m) if filled else m


def _stability(state, seeds, tol, filled, cache, mask) -> float:
    """IoU of the region grown 20% tighter with the one grown 25% looser (1 = the edge is sharp), discounted
    for specks: a region of a few pixels is trivially stable and still not what a click meant."""
    from apps.sam.scenes import iou

    tight = _region(state, seeds, tol * 0.8, filled, cache)
    loose = _region(state, seeds, tol * 1.25, filled, cache)
    h, w = mask.shape
    speck = max(16.0, 0.002 * h * w)
    return iou(tight, loose) * min(1.0, float(mask.sum()) / speck)


def _enclosing_whole(state: dict, inner: np.ndarray, cache: dict) -> np.ndarray | None:
    """When the clicked region sits inside one other region (a window in a house), that region with its holes
    filled: the 'whole' reading of an ambiguous click. None when the surroundings are the background."""
    cv2 = _cv2()
    ring = cv2.dilate(inner.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~inner
    if not ring.any():
        return None
    ys, xs = np.nonzero(ring)
    lab = state["lab"]
    centre = np.median(lab[ys, xs], 0)
    k = int(np.argmin(np.linalg.norm(lab[ys, xs] - centre, axis=-1)))  # the most typical ring pixel
    around = _grow(state, (int(xs[k]), int(ys[k])), TOLERANCES[1], cache)
    whole = fill_holes(around | inner)
    h, w = inner.shape
    touches = around[0].any() + around[-1].any() + around[:, 0].any() + around[:, -1].any()
    if not (whole & inner).sum() == inner.sum() or whole.sum() > 0.5 * h * w or touches >= 3:
        return None  # the surroundings are the background, not an object holding the click
    return whole


def _carve(state: dict, mask: np.ndarray, pos: list, neg: list) -> np.ndarray:
    """Take out what the negative clicks point at. The mask is cut where it is thinnest between the clicks:
    at a strong colour edge, or at the narrow neck where two round things touch. So a negative click removes
    a part of another colour, and also splits two touching things of one colour, which no colour threshold
    can tell apart. With neither an edge nor a neck, the cut falls halfway between the clicks."""
    if not neg or not pos or not mask.any():
        return mask
    cv2 = _cv2()
    # A negative click in a hole of the mask (the other twin's middle, when only its rim was similar enough)
    # or just beside it (on a blurred edge) still points at that part: split the filled mask, then keep only
    # what the mask had.
    filled = fill_holes(mask)
    inside = [q for q in (_snap(filled, q) for q in neg) if q is not None]
    starts = [p for p in (_snap(filled, p) for p in pos) if p is not None]
    if not inside or not starts:
        return mask
    grad = state["grad"]
    edges = grad > 0.5 * float(np.percentile(grad[filled], 99))  # the strongest colour edges in the mask
    free = (filled & ~edges).astype(np.uint8)
    dist = cv2.distanceTransform(free, cv2.DIST_L2, 5)  # (h, w) pixels to the mask edge or a strong edge
    # Each click goes uphill on the distance map to the middle of the piece it is in.
    top_pos = [_climb(dist, p)[-1] for p in starts]
    top_neg = [_climb(dist, q)[-1] for q in inside]
    core_pos, core_neg = _cores(dist, top_pos, top_neg, starts, inside)
    if not core_pos.any() or not core_neg.any():
        return mask
    lab = state["lab"]
    # Each side's colour, read where the learner clicked (the surest sample of what they meant).
    m_pos = np.median([_seed_colour(lab, p) for p in starts], 0)  # (3,)
    m_neg = np.median([_seed_colour(lab, q) for q in inside], 0)  # (3,)
    spread = float(np.median([_local_spread(lab, p) for p in [*starts, *inside]]))  # noise left after smoothing
    if np.linalg.norm(m_pos - m_neg) > max(4.0, 3 * spread):
        # The sides differ in colour, if only a little: each pixel joins the side whose colour it is closer to
        # (a median filter removes the speckle that noise makes near the tie).
        closer = np.linalg.norm(lab - m_pos, axis=-1) <= np.linalg.norm(lab - m_neg, axis=-1)
        out = mask & (cv2.medianBlur(closer.astype(np.uint8), 5) > 0)
    else:  # one colour: each pixel joins the core nearest to it, so the cut runs through the neck
        d_pos = cv2.distanceTransform((~core_pos).astype(np.uint8), cv2.DIST_L2, 5)  # (h, w) to the positive core
        d_neg = cv2.distanceTransform((~core_neg).astype(np.uint8), cv2.DIST_L2, 5)  # (h, w) to the negative core
        out = mask & (d_pos <= d_neg)
    keep = np.zeros_like(out)
    for p in starts:  # only the pieces that hold a positive click
        keep |= _component(out, p) if out[p[1], p[0]] else np.zeros_like(out)
    return keep if keep.any() else out


def _cores(dist: np.ndarray, top_pos: list, top_neg: list, pos: list, neg: list) -> tuple[np.ndarray, np.ndarray]:
    """The two sides' cores: the parts of the mask deeper than the smallest depth at which no piece holds
    both a positive and a negative peak. Without such a depth (one blob, no neck), small discs at the clicks."""
    cv2 = _cv2()
    highest = min(max(dist[y, x] for x, y in top_pos), max(dist[y, x] for x, y in top_neg))
    for level in np.arange(0.5, float(highest), 0.5):
        _, comps = cv2.connectedComponents((dist > level).astype(np.uint8), connectivity=8)
        lp = {int(comps[y, x]) for x, y in top_pos if dist[y, x] > level}
        ln = {int(comps[y, x]) for x, y in top_neg if dist[y, x] > level}
        if lp and ln and not lp & ln:
            return np.isin(comps, list(lp)), np.isin(comps, list(ln))
    core_pos, core_neg = np.zeros(dist.shape, np.uint8), np.zeros(dist.shape, np.uint8)
    for x, y in pos:
        cv2.circle(core_pos, (x, y), 2, 1, -1)
    for x, y in neg:
        cv2.circle(core_neg, (x, y), 2, 1, -1)
    return core_pos.astype(bool), core_neg.astype(bool) & ~core_pos.astype(bool)


def _snap(mask: np.ndarray, q: tuple[int, int], radius: int = 3) -> tuple[int, int] | None:
    """q, or the nearest mask pixel within `radius` (a click on a blurred edge), or None."""
    x, y = q
    if mask[y, x]:
        return q
    ys, xs = np.nonzero(mask[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1])
    if not len(xs):
        return None
    xs, ys = xs + max(0, x - radius), ys + max(0, y - radius)
    k = int(np.argmin((xs - x) ** 2 + (ys - y) ** 2))
    return int(xs[k]), int(ys[k])


def _climb(dist: np.ndarray, p: tuple[int, int]) -> list[tuple[int, int]]:
    """Steepest ascent on the distance map from p to a local maximum: the pixels on the way."""
    h, w = dist.shape
    path = [p]
    x, y = p
    while len(path) < h + w:
        ys, xs = slice(max(0, y - 1), y + 2), slice(max(0, x - 1), x + 2)
        win = dist[ys, xs]
        k = np.unravel_index(int(np.argmax(win)), win.shape)
        nx, ny = xs.start + int(k[1]), ys.start + int(k[0])
        if dist[ny, nx] <= dist[y, x]:
            break
        x, y = nx, ny
        path.append((x, y))
    return path


def _point_candidates(state: dict, pos: list, neg: list) -> list[tuple[np.ndarray, float]]:
    if not pos:
        raise ValueError("a click prompt needs at least one positive click (or give a box)")
    cache: dict = {}
    fine_tol, obj_tol, whole_tol = TOLERANCES
    fine = _region(state, pos, fine_tol, False, cache)
    obj = _region(state, pos, obj_tol, True, cache)
    whole = _enclosing_whole(state, obj, cache)
    cands = [(fine, _stability(state, pos, fine_tol, False, cache, fine)),
             (obj, _stability(state, pos, obj_tol, True, cache, obj))]
    if whole is not None:
        cands.append((whole, 0.9 * _stability(state, pos, obj_tol, True, cache, obj)))
    else:
        coarse = _region(state, pos, whole_tol, True, cache)
        cands.append((coarse, _stability(state, pos, whole_tol, True, cache, coarse)))
    return [(_carve(state, m, pos, neg), s) for m, s in cands]


def _grabcut(state: dict, box, pos: list, neg: list, iters: int = 4) -> np.ndarray:
    """GrabCut inside the box, on a crop of the box and a margin around it: the margin is enough to learn the
    background's colours, and the crop keeps a box prompt fast on the whole picture."""
    cv2 = _cv2()
    img = state["small"]
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    out = np.zeros((h, w), bool)
    if x1 - x0 < 2 or y1 - y0 < 2:
        out[y0:y1 + 1, x0:x1 + 1] = True
        return out
    m = max(8, (x1 - x0 + y1 - y0) // 8)
    cx0, cy0, cx1, cy1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m + 1), min(h, y1 + m + 1)
    mask = np.full((cy1 - cy0, cx1 - cx0), cv2.GC_BGD, np.uint8)
    mask[y0 - cy0:y1 - cy0 + 1, x0 - cx0:x1 - cx0 + 1] = cv2.GC_PR_FGD
    for x, y in pos:
        cv2.circle(mask, (x - cx0, y - cy0), 2, int(cv2.GC_FGD), -1)
    for x, y in neg:
        cv2.circle(mask, (x - cx0, y - cy0), 2, int(cv2.GC_BGD), -1)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut initialises its colour models with k-means: same prompt, same mask
    crop = np.ascontiguousarray(img[cy0:cy1, cx0:cx1])
    if (mask == cv2.GC_BGD).any():  # GrabCut needs some background to model (a box over the whole image has none)
        cv2.grabCut(crop, mask, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    out[cy0:cy1, cx0:cx1] = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return out


def _box_fit(mask: np.ndarray, box) -> float:
    """IoU of the mask's bounding box with the prompt box: a box prompt says the object spans it."""
    if not mask.any():
        return 0.0
    ys, xs = np.nonzero(mask)
    a = (xs.min(), ys.min(), xs.max(), ys.max())
    ix = max(0, min(a[2], box[2]) - max(a[0], box[0]) + 1)
    iy = max(0, min(a[3], box[3]) - max(a[1], box[1]) + 1)
    inter = ix * iy
    area = lambda b: (b[2] - b[0] + 1) * (b[3] - b[1] + 1)  # noqa: E731
    return float(inter / (area(a) + area(box) - inter))


def _largest(mask: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    if n <= 1:
        return mask
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _box_candidates(state: dict, box, pos: list, neg: list) -> list[tuple[np.ndarray, float]]:
    cache: dict = {}
    x0, y0, x1, y1 = box
    inside = np.zeros(state["lab"].shape[:2], bool)
    inside[y0:y1 + 1, x0:x1 + 1] = True
    cut = _carve(state, _grabcut(state, box, pos, neg) & inside, pos, neg)
    cut = _largest(cut) if not pos else cut
    centre = [((x0 + x1) // 2, (y0 + y1) // 2)]
    seeds = pos or centre
    region = _carve(state, fill_holes(_region(state, seeds, TOLERANCES[1], False, cache) & inside), pos, neg)
    filled = fill_holes(cut)
    return [(cut, _box_fit(cut, box)), (filled, _box_fit(filled, box) * 0.99), (region, _box_fit(region, box) * 0.98)]


def _dedupe(cands: list[tuple[np.ndarray, float]]) -> list[tuple[np.ndarray, float]]:
    """Identical candidates are shown once (the best-scored copy); empty ones are dropped unless all are."""
    out: list[tuple[np.ndarray, float]] = []
    # Best first; between equally sharp readings the object (listed second) is the likelier intent than a part.
    order = sorted(range(len(cands)), key=lambda i: (-round(cands[i][1], 3), i != 1))
    for m, s in (cands[i] for i in order):
        if any(np.array_equal(m, o) for o, _ in out):
            continue
        out.append((m, s))
    nonempty = [c for c in out if c[0].any()]
    return nonempty or out[:1]
