"""GAN latent arithmetic: samples by seed, interpolation (lerp and slerp), attribute edits and analogies in the
latent space of a trained generator. Framework-free; both hubs and the /gan_* endpoints call these.

The offline GAN is a DCGAN trained here on generated cartoon faces whose attributes are known
(training/train_gan_faces.py); its attribute directions and their measured success rates come with it. A
published GAN (the CryptoPunks DCGAN) runs when its weights can be had; it has no measured directions.
Same seed, same latent, same image: the latent of a seed is drawn with its own numpy generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core import api, images, models, share
from core.device import run_noted, run_with_fallback
from core.errors import UserError, one_of

DEFAULT_MODEL = "gan_faces"
MODEL_CHOICES = ["gan_faces", "gan_punks"]
MAX_SEEDS = 512
MAX_REAL = 512
MAX_STEPS = 64
MAX_SEED = 2**31 - 1
MAX_STRENGTH = 10.0
# The pages' controls, one definition for both hubs and the link's settings (VIEW): (lowest, highest, step).
COUNT_RANGE = (4, 32, 4)  # faces on the Samples tab
TRUNCATION_RANGE = (0.1, 2.0, 0.05)
PATH_STEPS_RANGE = (3, 15, 1)  # images along an interpolation
STRENGTH_RANGE = (-4.0, 4.0, 0.25)  # of an attribute's direction
EDIT_SEEDS = 6  # faces on the Attributes tab
INTERPOLATIONS = ("slerp", "lerp")


class GanInputError(UserError):
    """Too many seeds, an unknown attribute, a NaN strength: the message says what would work."""


@dataclass
class GanResult:
    model: str
    model_label: str
    device: str
    offline: bool
    images: list[np.ndarray]  # (S, S, 3) uint8 each
    latents: np.ndarray  # (n, Z) the latents the images came from
    notices: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def latent_norms(self) -> list[float]:
        return [round(float(v), 4) for v in np.linalg.norm(self.latents, axis=1)]


# --- checks ---------------------------------------------------------------------------------------

def _int(v, what: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or v is None:
        raise GanInputError(f"{what} must be a whole number from {lo} to {hi:,}.")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise GanInputError(f"{what} must be a whole number from {lo} to {hi:,}, not {v!r}.") from None
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise GanInputError(f"{what} must be a whole number from {lo} to {hi:,}, not {v!r}.")
    return int(f)


def _float(v, what: str, lo: float, hi: float) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise GanInputError(f"{what} must be a number from {lo:g} to {hi:g}, not {v!r}.") from None
    if not math.isfinite(f) or not lo <= f <= hi:
        raise GanInputError(f"{what} must be a number from {lo:g} to {hi:g}, not {v!r}.")
    return f


def check_seeds(seeds) -> list[int]:
    if isinstance(seeds, (int, float, str)) and not isinstance(seeds, bool):
        seeds = [seeds] if not isinstance(seeds, str) else [s for s in seeds.replace(",", " ").split() if s]
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise GanInputError("seeds must be a non-empty list of whole numbers, e.g. [1, 2, 3].")
    if len(seeds) > MAX_SEEDS:
        raise GanInputError(f"{len(seeds):,} seeds is more than {MAX_SEEDS} per call; ask in several calls.")
    return [_int(s, "Each seed", 0, MAX_SEED) for s in seeds]


def check_model(model: str | None) -> str:
    return models.page_model(model, DEFAULT_MODEL, MODEL_CHOICES, "a GAN", GanInputError).name


# --- latents --------------------------------------------------------------------------------------

def latent(seed: int, z_dim: int) -> np.ndarray:
    """The latent of a seed: z ~ N(0, I), float32 (z_dim,). The same for a seed everywhere, always."""
    return np.random.default_rng(seed).standard_normal(z_dim).astype(np.float32)


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(1 - t) a + t b for each t -> (len(t), Z). Its middle is shorter than both ends (the chord of an arc)."""
    return (1 - t)[:, None] * a[None] + t[:, None] * b[None]


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation: along the great circle from a to b, the length moving smoothly from |a| to |b|
    -> (len(t), Z). For equal lengths every point has that length, as typical samples of N(0, I) do."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    ua, ub = a / na, b / nb
    omega = math.acos(float(np.clip(ua @ ub, -1.0, 1.0)))  # the angle between them
    if omega < 1e-6:
        return lerp(a, b, t)
    w_a, w_b = np.sin((1 - t) * omega) / math.sin(omega), np.sin(t * omega) / math.sin(omega)
    direction = w_a[:, None] * ua[None] + w_b[:, None] * ub[None]  # (n, Z) unit vectors on the arc
    return direction * ((1 - t) * na + t * nb)[:, None]


# --- generation -------------------------------------------------------------------------------------

def _generate(model: str, zs: np.ndarray, device: str | None = None) -> GanResult:
    def run(dev: str) -> GanResult:
        import torch

        loaded = models.load(model, dev)
        with loaded.lock:
            imgs = loaded.module.generate(torch.from_numpy(np.ascontiguousarray(zs, dtype=np.float32)))  # (n, S, S, 3)
        return GanResult(loaded.spec.name, loaded.describe(), loaded.device, loaded.offline, list(imgs.numpy()),
                         zs, [loaded.fallback_notice])

    return run_noted(run, device)


def z_dim(model: str) -> int:
    from core import lane

    return int(lane.run(lambda: models.load(model).module.z_dim, "gan_z_dim"))


def sample(seeds, truncation: float = 1.0, model: str = DEFAULT_MODEL) -> GanResult:
    """One image per seed. truncation scales each latent towards the mean (0): below 1, samples get more typical
    and less varied (the truncation trick); above 1, stranger."""
    name = check_model(model)
    seeds = check_seeds(seeds)
    psi = _float(1.0 if truncation is None else truncation, "truncation", 0.05, 2.0)
    zd = z_dim(name)
    zs = np.stack([latent(s, zd) for s in seeds]) * psi  # (n, Z)
    r = _generate(name, zs)
    r.extra = {"seeds": seeds, "truncation": psi}
    return r


def interpolate(seed_a, seed_b, steps: int = 9, mode: str = "slerp", model: str = DEFAULT_MODEL) -> GanResult:
    """steps images from seed_a's sample to seed_b's (both ends included), along a straight line (lerp) or an arc
    (slerp)."""
    name = check_model(model)
    a, b = _int(seed_a, "seed_a", 0, MAX_SEED), _int(seed_b, "seed_b", 0, MAX_SEED)
    n = _int(steps, "steps", 2, MAX_STEPS)
    m = str(mode or "slerp").lower()
    if m not in INTERPOLATIONS:
        raise GanInputError(f"Unknown mode {mode!r}: choose 'slerp' or 'lerp'.")
    zd = z_dim(name)
    t = np.linspace(0, 1, n, dtype=np.float32)
    za, zb = latent(a, zd), latent(b, zd)
    zs = (slerp if m == "slerp" else lerp)(za, zb, t).astype(np.float32)
    zs[0], zs[-1] = za, zb  # the ends are exactly the seeds' latents (no rounding from the arc)
    r = _generate(name, zs)
    r.extra = {"seed_a": a, "seed_b": b, "mode": m, "steps": n}
    return r


def edit(seeds, attribute: str, strength: float | None = None,
         model: str = DEFAULT_MODEL) -> tuple[GanResult, GanResult]:
    """Each seed's sample before and after z + strength * offset * d, d the attribute's unit direction and offset
    the length of the mean difference it was measured from; negative strengths remove the attribute.
    strength None: the measured best for that attribute."""
    name = check_model(model)
    seeds = check_seeds(seeds)

    def find(dev: str):
        # Everything edit needs from the model, read on the lane in one go: with GLASSBOX_BACKEND=ray the
        # model lives on a replica, and only these plain values come back.
        loaded = models.load(name, dev)
        m = loaded.module
        known = attribute in m.attribute_names
        return (list(m.attribute_names), loaded.spec.title, loaded.spec.name, m.z_dim,
                m.direction(attribute).cpu().numpy() if known else None,  # (Z,) unit direction
                m.offsets[attribute] if known else None)

    names, title, ran_name, zd, d, off = run_with_fallback(find).value  # type: ignore[misc]
    if not names:
        raise GanInputError(f"{title} has no measured attribute directions; they were measured for the "
                            "faces GAN trained here (model 'gan_faces').")
    one_of(attribute, names, "attribute", GanInputError)
    s = best_strength(attribute) if strength is None else _float(strength, "strength", -MAX_STRENGTH, MAX_STRENGTH)
    zs = np.stack([latent(x, zd) for x in seeds])  # (n, Z)
    before = _generate(ran_name, zs)
    after = _generate(ran_name, zs + s * off * d[None].astype(np.float32))
    after.extra = {"attribute": attribute, "strength": s, "seeds": seeds}
    return before, after


def analogy(a, b, c, model: str = DEFAULT_MODEL) -> GanResult:
    """The image of z_a - z_b + z_c (DCGAN's "man with glasses - man + woman"). The sum of three standard normal
    vectors is about sqrt(3) times longer than a typical latent, so it is scaled back to the mean length of
    the three: a point the generator has seen the like of. Images: [a, b, c, result]."""
    name = check_model(model)
    sa, sb, sc = (_int(v, k, 0, MAX_SEED) for v, k in ((a, "a"), (b, "b"), (c, "c")))
    zd = z_dim(name)
    za, zb, zc = latent(sa, zd), latent(sb, zd), latent(sc, zd)
    raw = za - zb + zc
    target = np.mean([np.linalg.norm(v) for v in (za, zb, zc)])
    z = raw / np.linalg.norm(raw) * target
    r = _generate(name, np.stack([za, zb, zc, z.astype(np.float32)]))
    r.extra = {"a": sa, "b": sb, "c": sc}
    return r


def real(n: int = 16, seed: int = 0) -> tuple[list[np.ndarray], list[dict]]:
    """The training distribution: n generated faces and their attributes (what the GAN learned from)."""
    from apps.gan_latent import faces

    n = _int(n, "n", 1, MAX_REAL)
    imgs, labels = faces.sample(n, _int(seed, "seed", 0, MAX_SEED))
    return list(imgs), [dict(zip(faces.ATTRIBUTES, map(int, row))) for row in labels]


def judge(imgs: list[np.ndarray]) -> np.ndarray:
    """The attribute judge's reading of face images -> (n, 4) 0/1 (see apps/gan_latent/judge.py)."""
    from core import lane

    return lane.run(lambda: _judge(np.stack(imgs)), "gan_judge")


def _judge(imgs: np.ndarray) -> np.ndarray:
    import torch

    net = _judge_net()
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div(127.5).sub(1)  # (n, 3, 32, 32)
    with torch.no_grad():
        return (net(x) > 0).numpy().astype(np.int64)


def _judge_net():
    return models.load("face_judge", "cpu").module  # called on the lane (judge() puts it there)


# --- measured numbers --------------------------------------------------------------------------------

def manifest() -> dict:
    return models.manifest("gan_faces")


def best_strength(attribute: str) -> float:
    m = manifest().get("edits", {}).get(attribute)
    return float(m["best"]["strength"]) if m else 1.5


def success_text(attribute: str) -> str:
    m = manifest().get("edits", {}).get(attribute)
    if not m:
        return "not measured"
    b = m["best"]
    k = f"{b['strength']:g}"
    return (f"adding {k} × the direction switches it on for {b['on']:.0%} of samples that lacked it; subtracting "
            f"it (−{k}) switches it off for {b['off']:.0%} of those that had it; the other attributes stay as "
            f"they were for {b['others_kept']:.0%}")


def short_latent_share(dim: int = 64) -> float:
    """P(|z| <= sqrt(dim / 2)) for z ~ N(0, I_dim): how often a training latent is as short as the middle of lerp
    between two independent ones. |z|^2 is chi-square with dim degrees of freedom; for even dim its CDF at x is
    1 - exp(-x/2) * sum_{j < dim/2} (x/2)^j / j!."""
    half = dim / 4  # x / 2 with x = dim / 2
    term, total = 1.0, 1.0
    for j in range(1, dim // 2):
        term *= half / j
        total += term
    return 1 - math.exp(-half) * total


def explainer_values() -> dict[str, str]:
    m = manifest()
    one_in = f"about 1 in {float(f'{1 / short_latent_share(64):.2g}'):,.0f}"
    if not m:
        return {"gan_result": "not measured yet (run training/train_gan_faces.py)", "short_share": one_in}
    rows = [f"| {name.replace('_', ' ')} | {m['judge_accuracy'][name]:.0%} | {m['generated_share'][name]:.0%} | "
            f"{e['best']['strength']:g} | {e['best']['on']:.0%} | {e['best']['off']:.0%} | "
            f"{e['best']['others_kept']:.0%} |"
            for name, e in m["edits"].items()]
    table = ("| attribute | judge accuracy (real faces) | share of GAN samples | strength | switched on | "
             "switched off | others unchanged |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows))
    return {"gan_result": f"trained for {m['steps']:,} steps in {m['gan_seconds'] / 60:.0f} minutes on a CPU.\n\n"
                          + table, "short_share": one_in}


def warmup() -> None:
    """The page's opening view on every tab: samples, both paths, the default edit and the analogy."""
    d = VIEW.defaults()
    sample(list(range(d["start"], d["start"] + d["count"])), d["truncation"])
    for mode in ("slerp", "lerp"):
        interpolate(d["seed_a"], d["seed_b"], d["steps"], mode)
    edit(list(range(d["edit_start"], d["edit_start"] + 6)), d["attribute"], d["strength"])
    analogy(d["a"], d["b"], d["c"])


def exercise(image) -> None:
    """Every kind of model work this page does, once (tests/unit/test_lane.py runs it for every demo)."""
    from apps.gan_latent import lab

    sample([1, 2])
    interpolate(1, 2, 3)
    edit([1], "hat")
    analogy(1, 2, 3)
    lab.step(lab.current(None, "standard", lab.default_seed()), 2)


# --- pictures and payloads ---------------------------------------------------------------------------

def enlarge(img: np.ndarray, side: int = 128) -> np.ndarray:
    """Nearest-neighbour enlargement: a 32-pixel face stays crisp on a projector (128 pixels: a gallery cell)."""
    return images.enlarge(img, side)


def grid_image(imgs: list[np.ndarray], columns: int = 8, side: int = 128, gap: int = 4) -> np.ndarray:
    """Images enlarged and tiled in rows of `columns` on white: one picture of a batch for slides."""
    tiles = [enlarge(im, side) for im in imgs]
    t = tiles[0].shape[0]
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * (t + gap) - gap, min(columns, len(tiles)) * (t + gap) - gap, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * (t + gap):r * (t + gap) + t, c * (t + gap):c * (t + gap) + t] = tile[..., :3]
    return sheet


def diff_image(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """What changed: the per-pixel change, brightest where the edit acted (colour-blind-safe heat colours)."""
    d = np.abs(after.astype(np.int16) - before.astype(np.int16)).max(-1).astype(np.float32) / 255.0  # (S, S)
    return images.colorize(np.clip(d / max(float(d.max()), 1e-6), 0, 1))


def norms_figure(lerp_norms: list[float], slerp_norms: list[float], typical: float):
    """Latent length along both paths, beside the typical length sqrt(Z) of a standard normal latent."""
    import plotly.graph_objects as go

    t = np.linspace(0, 1, len(lerp_norms))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t, y=slerp_norms, name="slerp (arc)", mode="lines+markers", line={"color": "#0072B2"}))
    fig.add_trace(go.Scatter(x=t, y=lerp_norms, name="lerp (straight line)", mode="lines+markers",
                             line={"color": "#D55E00", "dash": "dash"}))
    fig.add_hline(y=typical, line_dash="dot", line_color="grey", annotation_text=f"typical length √Z = {typical:.1f}")
    fig.update_layout(title="Latent length |z| along the path", xaxis_title="t (0 = seed A, 1 = seed B)",
                      yaxis={"title": "|z|", "rangemode": "tozero"}, height=320, font={"size": 14},
                      margin={"l": 10, "r": 10, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.3})
    return fig


def gif_bytes(frames: list[np.ndarray], side: int = 128) -> bytes:
    """The interpolation as an animated GIF, there and back again."""
    import io

    from PIL import Image

    pics = [Image.fromarray(enlarge(f, side)) for f in frames + frames[-2:0:-1]]
    buf = io.BytesIO()
    pics[0].save(buf, "GIF", save_all=True, append_images=pics[1:], duration=120, loop=0)
    return buf.getvalue()


def payload(result: GanResult, clock: api.Clock, body: dict) -> dict:
    return api.respond(result, body, clock, result.notices)


def urls(imgs: list[np.ndarray]) -> list[str]:
    return [images.to_data_url(i) for i in imgs]


# --- the page's settings as a link, and its lesson ---------------------------------------------------

def _view() -> share.View:
    from apps.gan_latent import faces

    seed = lambda name, default: share.number(name, default, 0, MAX_SEED, integer=True)  # noqa: E731
    return share.View("gan_latent", (
        share.choice("model", DEFAULT_MODEL, MODEL_CHOICES),
        seed("start", 0),
        share.number("count", 16, *COUNT_RANGE[:2], integer=True),
        share.number("truncation", 1.0, *TRUNCATION_RANGE[:2]),
        seed("seed_a", 3),
        seed("seed_b", 7),
        share.number("steps", 9, *PATH_STEPS_RANGE[:2], integer=True),
        share.choice("attribute", "glasses", faces.ATTRIBUTES),
        share.number("strength", best_strength("glasses"), *STRENGTH_RANGE[:2]),
        seed("edit_start", 0),
        seed("a", 0),
        seed("b", 1),
        seed("c", 2),
    ), lesson=(
        share.Beat("A seed is a face",
                   "Each seed draws a random vector z; the generator turns it into a face. The same seed always "
                   "gives the same face, on any machine.", {}),
        share.Beat("Truncation: towards the average face",
                   "Multiplying every z by ψ = 0.5 pulls it towards the centre of the latent space: the faces vary "
                   "less, and what the average face lacks fades (fewer glasses and hats). Variety is traded for "
                   "typical looks.", {"truncation": 0.5}),
        share.Beat("Walk from one face to another",
                   "On the Interpolate tab: seed 3 to seed 7. Along the arc (slerp) every step is a plausible face; "
                   "the straight line (lerp) passes through short vectors the generator rarely saw.", {}),
        share.Beat("Add a direction: a hat",
                   f"On the Attributes tab: z + {best_strength('hat'):g} × the 'hat' direction, found from the "
                   f"faces a classifier judged with and without one. Measured {success_text('hat')}.",
                   {"attribute": "hat", "strength": best_strength("hat")}),
        share.Beat("Directions are tangled",
                   f"Glasses at {best_strength('glasses'):g}: measured {success_text('glasses')}. One direction "
                   "in z moves more than one thing in the picture; look at 'What changed'.", {}),
        share.Beat("Arithmetic on faces",
                   "On the Analogy tab: A − B + C. Whatever separates B from A, added to C. It works only as far "
                   "as the directions are straight and untangled.", {}),
    ))


VIEW = _view()


def share_values(**settings) -> dict:
    """The link settings of an API call: the page's defaults with the call's own on top."""
    return {**VIEW.defaults(), **{k: v for k, v in settings.items() if v is not None}}
