"""Diffusion step-through logic: the forward process in closed form, the reverse process step by
step with diffusers' schedulers, cached trajectories, comparisons and exports.

Pure: no gradio, no streamlit. torch and diffusers load inside functions, on first use.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator

import numpy as np
from PIL import Image

from apps.diffusion import digits
from apps.diffusion.sampling import SCHEDULERS
from core import api, images, lane, models, share
from core.cache import ResultCache
from core.device import stream_with_fallback
from core.errors import UserError, one_of
from core.images import enlarge
from core.vision import SAMPLES  # the shared gallery photos, name -> path

DEFAULT_MODEL = "ddpm_digits"
MODEL_CHOICES = ["ddpm_digits", "ddpm_cifar10"]
MAX_STEPS = 1000  # every model here was trained with 1,000 timesteps; a sampler cannot use more
MAX_GUIDANCE = 20.0
MAX_SEED = 2**32 - 1
EPS_RANGE = 3.0  # predicted noise is shown on a fixed [-3, 3] scale so that frames compare
FORWARD_SCHEDULES = {"linear": "linear (DDPM: beta 1e-4 to 0.02)", "cosine": "cosine (improved DDPM)"}

_cache = ResultCache(24, "diffusion_trajectories")  # finished trajectories, keyed by every setting that changes them


class DiffusionInputError(UserError):
    """A setting no sampler can use; the message says what would work."""


def manifest() -> dict:
    """The bundled digits model's MANIFEST.json entry (training settings and measured quality)."""
    return models.manifest("ddpm_digits")


def default_guidance() -> float:
    """The guidance scale at which the bundled model's samples read best as the requested digit."""
    return float(manifest().get("best_guidance", 1.0))


def measured_guidance() -> dict[float, float]:
    """Guidance scale -> share of samples read as the requested digit, as measured for the bundled model."""
    table = manifest().get("quality", {}).get("by_guidance", {})
    return {float(g): float(acc) for g, acc in sorted(table.items(), key=lambda kv: float(kv[0]))}


def guidance_slider_max() -> float:
    """The guidance slider's end: the largest scale that was measured, so every value on it has a number
    near it (8 when nothing was measured, e.g. a hub model)."""
    table = measured_guidance()
    return max(table) if table else 8.0


def explainer_values() -> dict[str, str]:
    """The numbers the explainer quotes, read from the manifest of the model that ships."""
    quality = manifest().get("quality", {})
    sampler = quality.get("sampler", {})
    table = measured_guidance()
    best = default_guidance()
    rows = ["| guidance $w$ | " + " | ".join(f"{g:g}" for g in table) + " |",
            "|---|" + "---|" * len(table),
            "| read as the asked digit | " + " | ".join(
                f"**{acc:.1%}**" if g == best else f"{acc:.1%}" for g, acc in table.items()) + " |"]
    setup = (f"{sampler.get('scheduler', '?').upper()} with {sampler.get('steps', '?')} steps, "
             f"{sampler.get('per_digit', '?')} samples per digit, read by an SVM trained on real digits")
    return {"guidance_table": "\n".join(rows) if table else "(not measured for this model)",
            "guidance_setup": setup, "guidance_note": guidance_note(table, sampler.get("per_digit"))}


def guidance_note(table: dict[float, float], per_digit: int | None) -> str:
    """How far the default scale is ahead of the next best, in samples: a lead of a few samples is no lead."""
    if len(table) < 2 or not per_digit:
        return ""
    (g1, a1), (g2, a2) = sorted(table.items(), key=lambda kv: -kv[1])[:2]
    n = int(per_digit) * 10  # ten digits
    ahead = round((a1 - a2) * n)
    if ahead <= max(3, n // 50):
        return (f"The default, {g1:g}, is ahead of {g2:g} by {ahead} sample{'s' if ahead != 1 else ''} in {n}: "
                "the two do about equally well, and the page could as well open on either.")
    return f"The default, {g1:g}, is ahead of the next best, {g2:g}, by {ahead} samples in {n}."


@dataclass(frozen=True)
class Settings:
    model: str = DEFAULT_MODEL
    scheduler: str = "ddim"
    steps: int = 50
    eta: float = 0.0
    seed: int = 0
    label: int | None = None  # 0-9 for the digits model; None = unconditional
    guidance: float = 1.0

    def describe(self) -> str:
        eta = f", eta {self.eta:g}" if self.scheduler == "ddim" else ""
        cond = "unconditional" if self.label is None else f"digit {self.label}, guidance {self.guidance:g}"
        return f"{self.scheduler.upper()} {self.steps} steps{eta}, seed {self.seed}, {cond}"


def _number(value: Any, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DiffusionInputError(f"{name} must be a number, got {value!r}.") from None
    if math.isnan(x):
        raise DiffusionInputError(f"{name} is NaN; give a number.")
    return x


def check(model: str | None = None, scheduler: str | None = "ddim", steps: Any = 50, eta: Any = 0.0,
          seed: Any = 0, label: Any = None, guidance: Any = None) -> tuple[Settings, list[str]]:
    """Validate and normalise the settings. Out-of-range counts are capped (with a notice); settings
    that have no sensible nearest value (NaN, a label that is no digit, a negative seed) are refused."""
    notices: list[str] = []
    model = model or DEFAULT_MODEL
    one_of(model, MODEL_CHOICES, "model", DiffusionInputError)
    scheduler = one_of((scheduler or "ddim").lower(), SCHEDULERS, "scheduler", DiffusionInputError)
    steps_f = _number(steps, "steps")
    if math.isinf(steps_f):
        steps_f = MAX_STEPS if steps_f > 0 else 1
    n = int(steps_f)
    if n < 1:
        notices.append(f"Steps {n} is too few: using 1 (the fewest a sampler can take).")
        n = 1
    elif n > MAX_STEPS:
        notices.append(f"Steps {n:,} is more than the {MAX_STEPS:,} timesteps the model was trained on: using "
                       f"{MAX_STEPS:,}.")
        n = MAX_STEPS
    eta_f = _number(eta if eta is not None else 0.0, "eta")
    if not 0.0 <= eta_f <= 1.0:
        notices.append(f"eta {eta_f:g} is outside 0..1 (0 = deterministic DDIM, 1 = DDPM-like noise): "
                       f"using {min(max(eta_f, 0.0), 1.0):g}.")
        eta_f = min(max(eta_f, 0.0), 1.0)
    seed_f = _number(seed if seed is not None else 0, "seed")
    if seed_f < 0 or seed_f > MAX_SEED or seed_f != int(seed_f):
        raise DiffusionInputError(f"The seed must be a whole number from 0 to {MAX_SEED:,}; got {seed!r}.")
    classes = models.MODELS[model].config.classes
    lab: int | None = None
    if label not in (None, "", "none", "None"):
        lab_f = _number(label, "label")
        if not classes:
            notices.append(f"{models.MODELS[model].title} is unconditional: the label is ignored.")
        elif lab_f != int(lab_f) or not 0 <= lab_f < classes:
            raise DiffusionInputError(f"The label must be a digit from 0 to {classes - 1} (or none for "
                                      f"unconditional); got {label!r}.")
        else:
            lab = int(lab_f)
    g = _number(guidance if guidance is not None else default_guidance(), "guidance")
    if g < 0 or g > MAX_GUIDANCE:
        notices.append(f"Guidance {g:g} is outside 0..{MAX_GUIDANCE:g}: using {min(max(g, 0.0), MAX_GUIDANCE):g}.")
        g = min(max(g, 0.0), MAX_GUIDANCE)
    if lab is None:
        g = 0.0  # without a label there is nothing to guide towards
    return Settings(model, scheduler, n, eta_f if scheduler == "ddim" else 0.0, int(seed_f), lab, g), notices


@dataclass
class Trajectory:
    """Everything one reverse run produced, kept so the step slider never recomputes.

    x_t, x0 and eps are (steps, H, W, C) float16 in model space: x_t and x0 in [-1, 1], eps ~ N(0, 1).
    """

    settings: Settings
    model_label: str = ""
    device: str = "cpu"
    model: str = ""  # the name of the model that ran (the stand-in's when the asked one was unavailable)
    offline: bool = True
    timesteps: list[int] = field(default_factory=list)
    x_t: np.ndarray | None = None
    x0: np.ndarray | None = None
    eps: np.ndarray | None = None
    final: np.ndarray | None = None  # (H, W, C) float32 in [-1, 1], set when done
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.final is not None

    @property
    def n(self) -> int:
        """Steps recorded so far."""
        return 0 if self.x_t is None else len(self.x_t)

    @property
    def grayscale(self) -> bool:
        return self.x_t is not None and self.x_t.shape[-1] == 1


def _to_unit(x: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(x, dtype=np.float32) + 1) / 2, 0, 1)


def to_uint8(x: np.ndarray, kind: str = "x") -> np.ndarray:
    """(H, W, C) model-space array -> (H, W) or (H, W, 3) uint8 for display. kind 'eps' uses [-3, 3]."""
    a = np.asarray(x, dtype=np.float32)
    unit = np.clip((a / EPS_RANGE + 1) / 2, 0, 1) if kind == "eps" else _to_unit(a)
    out = (unit * 255).round().astype(np.uint8)
    return out[..., 0] if out.shape[-1] == 1 else out


def _key(s: Settings) -> tuple:
    return (s.model, s.scheduler, s.steps, round(s.eta, 6), s.seed, s.label, round(s.guidance, 6))


def cached(settings: Settings) -> Trajectory | None:
    return _cache.get(_key(settings))


def stream(settings: Settings, device: str | None = None, every: int = 1) -> Iterator[Trajectory]:
    """Run the reverse process, yielding the growing Trajectory every `every` steps and once done.

    A finished run is cached: asking again (or scrubbing) costs a dictionary look-up. A CUDA
    out-of-memory or driver failure restarts the run on the CPU, with a notice.
    """
    hit = cached(settings)
    if hit is not None:
        yield hit
        return
    for ran in stream_with_fallback(lambda dev: _stream(settings, dev, every), device):
        traj = ran.value
        if ran.notice and ran.notice not in traj.notices:
            traj.notices.append(ran.notice)
        if traj.done:
            _cache.put(_key(settings), traj)  # after its last change: a cached run is never changed again
        yield traj


def run(settings: Settings, device: str | None = None) -> Trajectory:
    """The finished trajectory (from the cache when it was computed before)."""
    last = None
    for last in stream(settings, device, every=10**9):  # noqa: B007 - runs the stream out; the last is kept
        pass
    assert last is not None and last.done
    return last


def _stream(s: Settings, device: str, every: int) -> Iterator[Trajectory]:
    import torch

    from apps.diffusion import sampling

    loaded = models.load(s.model, device)
    dm = loaded.module  # core.loaders.DiffusionModel
    label = s.label if dm.null_label is not None else None
    traj = Trajectory(s, loaded.describe(), loaded.device, model=loaded.spec.name, offline=loaded.offline,
                      notices=[loaded.fallback_notice] if loaded.fallback_notice else [])
    shape = (1, dm.channels, dm.size, dm.size)
    scheduler = sampling.make_scheduler(s.scheduler, dm.scheduler_config)
    x, generator = sampling.initial_noise(shape, s.seed)  # (1, C, H, W) on the CPU, as diffusers draws it
    labels = None if label is None else torch.tensor([label], device=loaded.device)
    xs, x0s, epss = [], [], []
    busy = 0.0  # compute time only: the caller's work between yields (drawing frames) is not ours
    t0 = time.perf_counter()
    steps = sampling.denoise(dm.unet, scheduler, x.to(loaded.device), s.steps, labels=labels,
                             guidance=s.guidance, eta=s.eta, generator=generator, null_label=dm.null_label)
    for step in steps:
        traj.timesteps.append(step.t)
        xs.append(step.x_t[0].permute(1, 2, 0).float().cpu().numpy())  # (H, W, C)
        x0s.append(step.x0_pred[0].permute(1, 2, 0).float().cpu().numpy())
        epss.append(step.eps_pred[0].permute(1, 2, 0).float().cpu().numpy())
        if (step.index + 1) % every == 0 and step.index + 1 < s.steps:
            traj.x_t, traj.x0, traj.eps = (np.stack(v).astype(np.float16) for v in (xs, x0s, epss))
            busy += time.perf_counter() - t0
            traj.seconds = busy
            yield traj
            t0 = time.perf_counter()
        else:
            busy += time.perf_counter() - t0
            yield lane.TICK  # a chunk boundary: a waiting click may run before the next step
            t0 = time.perf_counter()
        last = step
    traj.x_t, traj.x0, traj.eps = (np.stack(v).astype(np.float16) for v in (xs, x0s, epss))  # (N, H, W, C)
    traj.final = last.x_next[0].permute(1, 2, 0).clamp(-1, 1).float().cpu().numpy()  # (H, W, C)
    traj.seconds = busy + time.perf_counter() - t0
    yield traj


def frame(traj: Trajectory, i: int, side: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Step i of a (cached) trajectory as three display images x_t | predicted x0 | predicted noise,
    plus the timestep. A look-up and an enlargement: no model call."""
    if traj.n == 0:
        raise DiffusionInputError("No steps computed yet.")
    i = int(min(max(i, 0), traj.n - 1))
    return (enlarge(to_uint8(traj.x_t[i]), side), enlarge(to_uint8(traj.x0[i]), side),
            enlarge(to_uint8(traj.eps[i], "eps"), side), traj.timesteps[i])


def final_image(traj: Trajectory, side: int = 256) -> np.ndarray:
    return enlarge(to_uint8(traj.final), side)


def side_by_side(tiles: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Equal-height display tiles (H, W) or (H, W, 3) in a row, separated by white gaps."""
    white = np.full((tiles[0].shape[0], gap) + tiles[0].shape[2:], 255, np.uint8)
    return np.concatenate([t for tile in tiles for t in (tile, white)][:-1], axis=1)


def spaced_steps(n: int, count: int) -> np.ndarray:
    """Up to `count` evenly spaced step indices 0..n-1, first and last included."""
    return np.unique(np.linspace(0, n - 1, count).round().astype(int))


def filmstrip(traj: Trajectory, kind: str = "x0", count: int = 8, side: int = 96) -> np.ndarray:
    """`count` evenly spaced steps side by side (plus the final sample), for comparing runs."""
    src = {"x_t": traj.x_t, "x0": traj.x0}[kind]
    frames = [src[i] for i in spaced_steps(traj.n, count)] + [traj.final]
    return side_by_side([enlarge(to_uint8(f), side) for f in frames])


def strip_labels(traj: Trajectory, count: int = 8) -> str:
    return " → ".join(f"t={traj.timesteps[i]}" for i in spaced_steps(traj.n, count)) + " → final"


def frame_png(traj: Trajectory, i: int) -> bytes:
    """PNG of step i: x_t | predicted x0 | predicted noise, 256 px each."""
    xt, x0, eps, _ = frame(traj, i)
    return images.to_png_bytes(side_by_side([xt, x0, eps], gap=8))


def gif_bytes(traj: Trajectory, side: int = 192, max_frames: int = 100) -> bytes:
    """An animated GIF of the run: x_t (left) and predicted x0 (right) per step, then the final
    sample held for a second. Long runs (DDPM 1000) are thinned to max_frames evenly spaced steps."""
    pairs = [(traj.x_t[i], traj.x0[i]) for i in spaced_steps(traj.n, min(traj.n, max_frames))]
    pairs.append((traj.final, traj.final))
    pics = [Image.fromarray(side_by_side([enlarge(to_uint8(a), side), enlarge(to_uint8(b), side)], gap=8))
            for a, b in pairs]
    buf = io.BytesIO()
    durations = [80] * (len(pics) - 1) + [1200]
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=durations, loop=0)
    return buf.getvalue()


def api_payload(traj: Trajectory, clock: api.Clock, notices: list[str] = ()) -> dict:
    """The /diffusion answer: the common header, then images at model resolution as PNG data URLs
    and the final array."""
    final = _to_unit(traj.final)  # (H, W, C) in [0, 1]
    final_array = final[..., 0] if traj.grayscale else final
    return api.respond(traj, {
        "settings": {"scheduler": traj.settings.scheduler, "steps": traj.settings.steps, "eta": traj.settings.eta,
                     "seed": traj.settings.seed, "label": traj.settings.label, "guidance": traj.settings.guidance},
        "timesteps": list(traj.timesteps),
        "frames": [images.to_data_url(to_uint8(x)) for x in traj.x_t],
        "x0_preds": [images.to_data_url(to_uint8(x)) for x in traj.x0],
        "final": images.to_data_url(to_uint8(traj.final)),
        "final_array": np.round(final_array, 4).tolist(),
        "seconds": round(traj.seconds, 3),
    }, clock, [*notices, *traj.notices])


# ---------------------------------------------------------------- forward process


@lru_cache(maxsize=4)
def noise_schedule(kind: str):
    """A diffusers DDPMScheduler with the linear or cosine beta schedule (1,000 steps)."""
    one_of(kind, FORWARD_SCHEDULES, "schedule", DiffusionInputError)
    return lane.run(lambda: _make_schedule(kind), "noise_schedule")


def _make_schedule(kind: str):
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2" if kind == "cosine" else "linear")


def schedule_curves(kind: str) -> dict[str, np.ndarray]:
    """beta_t, alpha-bar_t = prod(1 - beta_s) and SNR_t = alpha-bar / (1 - alpha-bar), t = 0..999."""
    s = noise_schedule(kind)
    ab = s.alphas_cumprod.double().numpy()
    return {"t": np.arange(len(ab)), "beta": s.betas.double().numpy(), "alpha_bar": ab, "snr": ab / (1 - ab)}


def schedule_figure(t: int | None = None):
    """Plotly: beta_t, alpha-bar_t and log10 SNR for both schedules, with the chosen t marked."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=3, subplot_titles=("βₜ (noise added at step t)", "ᾱₜ (signal kept)",
                                                         "log₁₀ SNR = log₁₀ ᾱ/(1−ᾱ)"))
    colours = {"linear": "#1f77b4", "cosine": "#d62728"}
    for kind in FORWARD_SCHEDULES:
        c = schedule_curves(kind)
        for col, y in enumerate((c["beta"], c["alpha_bar"], np.log10(c["snr"])), start=1):
            fig.add_scatter(x=c["t"], y=y, name=kind, legendgroup=kind, showlegend=col == 1,
                            line={"color": colours[kind], "width": 3}, row=1, col=col)
    if t is not None:
        for col in (1, 2, 3):
            fig.add_vline(x=int(t), line={"dash": "dot", "color": "#555"}, row=1, col=col)
    fig.update_yaxes(type="log", row=1, col=1)  # cosine's betas end at 0.999: linear axes would hide the rest
    fig.update_layout(height=300, margin={"l": 40, "r": 10, "t": 40, "b": 30}, font={"size": 14},
                      legend={"orientation": "h", "y": -0.15})
    return fig


def source_image(kind: str, index: int = 0, upload: Any = None) -> np.ndarray:
    """The forward process's x0 in [-1, 1], (H, W, C): a real digit (16x16), a gallery photo or an upload (64x64)."""
    if kind == "digit":
        imgs, _ = digits.real_digits()
        x = lane.run(lambda: digits.upsample(imgs[int(index) % len(imgs)][None]))  # (1, 1, 16, 16)
        return x[0].permute(1, 2, 0).numpy()  # (16, 16, 1)
    if kind == "upload":
        return _small_square(images.load_image(upload))
    if kind not in SAMPLES:
        raise DiffusionInputError(f"Unknown image {kind!r}. Choose digit, upload or one of: {', '.join(SAMPLES)}.")
    return _gallery_x0(kind)


@lru_cache(maxsize=8)
def _gallery_x0(name: str) -> np.ndarray:
    """Decoded once: the forward tab asks again on every move of the t slider."""
    return _small_square(images.load_image(SAMPLES[name]))


def _small_square(rgb: np.ndarray, side: int = 64) -> np.ndarray:
    """Centre square at 64x64 in [-1, 1]: small enough to see individual noisy pixels."""
    h, w = rgb.shape[:2]
    c = min(h, w)
    sq = Image.fromarray(rgb[(h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c])
    return np.asarray(sq.resize((side, side), Image.Resampling.LANCZOS), dtype=np.float32) / 127.5 - 1


def add_noise(x0: np.ndarray, t: int, kind: str = "cosine", seed: int = 0) -> np.ndarray:
    """q(x_t | x0) in one jump: sqrt(alpha-bar_t) x0 + sqrt(1 - alpha-bar_t) eps (diffusers' add_noise)."""
    schedule = noise_schedule(kind)
    return lane.run(lambda: _add_noise(x0, t, schedule, seed), "add_noise")


def _add_noise(x0: np.ndarray, t: int, schedule, seed: int) -> np.ndarray:
    import torch

    t = int(min(max(int(t), 0), 999))
    x = torch.from_numpy(np.ascontiguousarray(x0, dtype=np.float32)).permute(2, 0, 1)[None]  # (1, C, H, W)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(int(seed)))
    out = schedule.add_noise(x, noise, torch.tensor([t]))  # (1, C, H, W)
    return out[0].permute(1, 2, 0).numpy()


FORWARD_TS = (0, 50, 100, 200, 300, 500, 700, 999)


def forward_strip(x0: np.ndarray, kind: str, seed: int = 0, side: int = 128) -> np.ndarray:
    """x_t at FORWARD_TS side by side (the same noise draw, so only t changes)."""
    noisy = lane.run(lambda: [add_noise(x0, t, kind, seed) for t in FORWARD_TS], "forward_strip")
    return side_by_side([enlarge(to_uint8(x), side) for x in noisy])


def forward_stats(t: int, kind: str) -> str:
    c = schedule_curves(kind)
    t = int(min(max(int(t), 0), 999))
    ab = c["alpha_bar"][t]
    return (f"t = {t}: x_t = {math.sqrt(ab):.3f}·x₀ + {math.sqrt(1 - ab):.3f}·ε  (ᾱ = {ab:.4f}, "
            f"SNR = {c['snr'][t]:.3g})")


def warmup() -> None:
    """The page's opening view (and the API's defaults): computed once, then served from the cache."""
    d = VIEW.defaults()
    run(check(d["model"], d["scheduler"], d["steps"], d["eta"], d["seed"], d["label"], d["guidance"])[0])
    run(check()[0])


def exercise(image) -> None:
    """Every kind of model work this page does, once (tests/unit/test_lane.py runs it for every demo)."""
    run(check(steps=3, label=1)[0])


# --- the page's settings as a link, and its lesson (the reverse-process tab) ----------------------------

LABELS = ["none", *map(str, range(10))]
VIEW = share.View("diffusion", (
    share.choice("model", DEFAULT_MODEL, MODEL_CHOICES),
    share.choice("scheduler", "ddim", SCHEDULERS),
    share.number("steps", 50, 1, MAX_STEPS, integer=True),
    share.number("eta", 0.0, 0.0, 1.0),
    share.number("seed", 0, 0, MAX_SEED, integer=True),
    share.choice("label", "3", LABELS),
    share.number("guidance", default_guidance(), 0.0, guidance_slider_max()),
    share.number("step", 49, 0, MAX_STEPS - 1, integer=True),  # the frame shown; past the last: the last
), lesson=(
    share.Beat("From noise to a digit",
               "Fifty DDIM steps turn pure noise into a 3. At each step the model predicts the noise in x_t; the "
               "sampler removes part of it and moves to a less noisy x_t.", {}),
    share.Beat("x_t vs predicted x₀ at step 10",
               "x_t is still mostly noise, but the predicted x₀ (the model's guess at the clean image, right now) "
               "is already a rough, blurry digit. Drag the step slider to watch the guess sharpen.", {"step": 9}),
    share.Beat("The very first step",
               "At step 1 the model sees pure noise, yet its guess at x₀ is already a speckled outline of the "
               "final digit: the label, pushed by guidance, says which digit to draw. The speckle is noise it "
               "cannot explain yet, magnified by the division by √ᾱ_t, which is small this early.", {"step": 0}),
    share.Beat("Ten steps instead of fifty",
               "DDIM can skip: ten bigger jumps along the same path still end on a digit, five times faster.",
               {"steps": 10, "step": 9}),
    share.Beat("No label, no guidance",
               "Unconditional sampling from the same seed: the noise alone decides which digit appears.",
               {"label": "none", "guidance": 0.0}),
    share.Beat("DDPM: fresh noise at every step",
               "DDPM adds new random noise after each step, so its path is stochastic. Compare its final sample "
               "with DDIM's from the same seed.", {"scheduler": "ddpm", "steps": 100, "step": 99}),
))


def share_values(settings: Settings, step: int | None = None) -> dict:
    """The link settings of a run (the API's share_url opens on its last frame)."""
    return {"model": settings.model, "scheduler": settings.scheduler, "steps": settings.steps,
            "eta": float(settings.eta), "seed": settings.seed, "label": "none" if settings.label is None
            else str(settings.label), "guidance": float(settings.guidance),
            "step": settings.steps - 1 if step is None else int(step)}


def class_question(values: dict) -> dict:
    """The live-class question of a digits view: which digit this seed becomes, as the page's digit reader (an
    SVM on the real digits, about 99% right on them) reads the final sample."""
    label = values.get("label")
    settings, _ = check(values["model"], values["scheduler"], values["steps"], values["eta"], values["seed"],
                        None if label in (None, "none") else label, values["guidance"])
    if settings.model != "ddpm_digits":
        raise DiffusionInputError("The page's question is about digits: switch to the digits model, or type the "
                                  "options yourself.")
    traj = run(settings)
    sample = (traj.final[..., 0] + 1) / 2  # (16, 16) in [0, 1]
    digit = int(digits.read_as(sample[None])[0])
    asked = "no digit asked" if settings.label is None else f"digit {settings.label} asked"
    return {"question": f"Which digit will seed {settings.seed} become ({asked}, guidance {settings.guidance:g})?",
            "options": [str(d) for d in range(10)], "answer": digit,
            "explain": f"The final sample reads as {digit} to the page's digit reader ({traj.model})."}
