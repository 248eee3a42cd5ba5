"""GAN Lab lite: a 2-D GAN trained live on a ring of Gaussians, small enough to watch every few steps.

The real data are 8 Gaussian blobs on a circle. The generator maps 2-D noise to points, and the discriminator
scores points (its decision surface is drawn under both clouds). Two ways to train:
- "standard": the original GAN objective (non-saturating generator loss, Adam), with a discriminator that learns
  10x slower than the generator. It **mode collapses**: the generator piles its samples onto one spot that
  the lagging discriminator currently likes, and when the discriminator catches up it hops to another spot
  instead of spreading over all the blobs. Most runs stay that way; a few spread out after a few thousand steps.
- "wgan-gp": the Wasserstein loss with a gradient penalty (Gulrajani et al. 2017), five critic steps per
  generator step, both networks at the same learning rate. The penalty keeps the critic's slope near 1 on points
  between real and generated samples, so points in a crowded blob are pushed towards empty ones, and the
  generator covers the ring.
The two differ in more than the loss (the balance of the two networks, five critic steps): the page says so.
Seeded: same settings, same run. Framework-free (torch only); runs on the compute lane like all model work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core import lane

MODES = 8
RADIUS = 2.0
SPREAD = 0.05  # each blob's standard deviation
LOSSES = {"standard": "standard GAN, slow discriminator", "wgan-gp": "Wasserstein loss + gradient penalty"}
MAX_STEPS = 5000
HIT = 4 * SPREAD  # a sample closer than this to a blob's centre counts for that blob
RECORD_EVERY = 50  # steps between two entries of a run's history


def real_points(n: int, rng: np.random.Generator) -> np.ndarray:
    """n points from the ring of 8 Gaussians -> (n, 2)."""
    k = rng.integers(0, MODES, n)
    angle = 2 * np.pi * k / MODES
    centre = RADIUS * np.stack([np.cos(angle), np.sin(angle)], 1)
    return (centre + rng.normal(0, SPREAD, (n, 2))).astype(np.float32)


def centres() -> np.ndarray:
    a = 2 * np.pi * np.arange(MODES) / MODES
    return RADIUS * np.stack([np.cos(a), np.sin(a)], 1)  # (8, 2)


def coverage(points: np.ndarray, min_share: float = 0.02) -> tuple[int, float]:
    """(blobs that get at least min_share of the samples, share of samples that land on some blob)."""
    d = np.linalg.norm(points[:, None, :] - centres()[None], axis=-1)  # (n, 8)
    near = d.min(1) < HIT
    counts = np.bincount(d.argmin(1)[near], minlength=MODES) / len(points)
    return int((counts >= min_share).sum()), float(near.mean())


@dataclass
class LabRun:
    """A live training run: the two networks, their optimisers and what has been recorded."""

    loss: str
    seed: int
    step: int = 0
    history: list[dict] = field(default_factory=list)  # {"step", "modes", "on_ring", "d_loss", "g_loss"}
    nets: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return LOSSES[self.loss]


def _mlp(i: int, o: int, h: int = 64):
    from torch import nn

    return nn.Sequential(nn.Linear(i, h), nn.LeakyReLU(0.2), nn.Linear(h, h), nn.LeakyReLU(0.2), nn.Linear(h, o))


def new_run(loss: str = "standard", seed: int = 0) -> LabRun:
    import torch

    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}: choose {', '.join(LOSSES)}.")
    torch.manual_seed(seed)
    g, d = _mlp(2, 2), _mlp(2, 1)
    if loss == "standard":  # a discriminator that learns 10x slower than the generator: collapse comes quickly
        opt_g, opt_d = torch.optim.Adam(g.parameters(), 1e-3, betas=(0.5, 0.999)), \
            torch.optim.Adam(d.parameters(), 1e-4, betas=(0.5, 0.999))
    else:
        opt_g, opt_d = torch.optim.Adam(g.parameters(), 1e-3, betas=(0.5, 0.9)), \
            torch.optim.Adam(d.parameters(), 1e-3, betas=(0.5, 0.9))
    run = LabRun(loss, int(seed))
    run.nets = {"g": g, "d": d, "opt_g": opt_g, "opt_d": opt_d, "rng": np.random.default_rng(seed),
                "gen": torch.Generator().manual_seed(seed)}
    return run


def train(run: LabRun, steps: int, batch: int = 256, record_every: int = RECORD_EVERY) -> LabRun:
    """Advance the run by `steps` generator steps (a WGAN-GP step includes its five critic steps)."""
    import torch

    threads = torch.get_num_threads()
    # Networks this small spend more time handing work between threads than computing: one thread trains the
    # WGAN-GP about 3x faster here (measured). Restored after, for the other demos' big models.
    torch.set_num_threads(1)
    try:
        return _train(run, steps, batch, record_every)
    finally:
        torch.set_num_threads(threads)


def _train(run: LabRun, steps: int, batch: int, record_every: int) -> LabRun:
    import torch
    import torch.nn.functional as F

    n = run.nets
    g, d, opt_g, opt_d, rng, gen = n["g"], n["d"], n["opt_g"], n["opt_d"], n["rng"], n["gen"]
    # WGAN-GP: five critic steps per generator step, so the critic's slope can be trusted.
    critic_steps = 5 if run.loss == "wgan-gp" else 1
    d_loss = g_loss = torch.zeros(())
    for _ in range(int(steps)):
        for _ in range(critic_steps):
            real = torch.from_numpy(real_points(batch, rng))
            fake = g(torch.randn(batch, 2, generator=gen)).detach()
            if run.loss == "standard":
                d_loss = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()  # -log D(real) - log(1 - D(fake))
            else:
                a = torch.rand(batch, 1, generator=gen)
                mix = (a * real + (1 - a) * fake).requires_grad_(True)
                grad = torch.autograd.grad(d(mix).sum(), mix, create_graph=True)[0]  # (B, 2)
                d_loss = d(fake).mean() - d(real).mean() + 10 * ((grad.norm(dim=1) - 1) ** 2).mean()
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        fake = g(torch.randn(batch, 2, generator=gen))
        g_loss = F.softplus(-d(fake)).mean() if run.loss == "standard" else -d(fake).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        run.step += 1
        if run.step % record_every == 0:
            modes, on_ring = coverage(samples(run, 1000))
            run.history.append({"step": run.step, "modes": modes, "on_ring": round(on_ring, 3),
                                "d_loss": round(float(d_loss.detach()), 4), "g_loss": round(float(g_loss.detach()), 4)})
    return run


COVERS = 7  # "covers the ring": at least this many of the 8 blobs get samples
CLAIM_STEPS = {"standard": 1500, "wgan-gp": 3000}  # the steps the page's measured claims speak of


def train_until_covered(run: LabRun, max_steps: int = CLAIM_STEPS["wgan-gp"], chunk: int = 250) -> int | None:
    """Train until COVERS blobs get samples (checked every `chunk` steps) or max_steps; the step it happened."""
    while run.step < max_steps:
        train(run, min(chunk, max_steps - run.step))
        hit = next((h["step"] for h in run.history[-(chunk // RECORD_EVERY):] if h["modes"] >= COVERS), None)
        if hit is not None:
            return hit
    return None


def _peaks(m: dict) -> list[list[int]]:
    """Per seed, the most blobs its standard run covered at any recorded step, under each measured kernel set."""
    per_set = [v["standard"] for v in m["coverage"].values()]  # kernel set -> per seed, one digit per record
    return [[max(map(int, runs[seed])) for runs in per_set] for seed in range(m["seeds"])]


def steady_seeds(m: dict | None = None) -> list[int]:
    """Seeds whose standard run stayed below COVERS blobs at every recorded step up to the measured end, under
    every measured CPU kernel set: runs that show the collapse for as long as anyone plays them."""
    from core import models

    m = models.manifest("gan_lab") if m is None else m
    return [seed for seed, peaks in enumerate(_peaks(m)) if max(peaks) < COVERS] if m else []


def default_seed() -> int:
    """The seed the lab opens on: the first steady one (see steady_seeds), so Play shows what the text says."""
    return (steady_seeds() or [0])[0]


def measured_claim() -> str:
    """What the lab showed over many runs (training/measure_gan_lab.py, in MANIFEST.json), in one paragraph.

    One run is chaotic: a different last bit in one sum (another CPU's kernels, another seed) grows into a
    different run, so the page promises only what held in every measured run."""
    from core import models

    m = models.manifest("gan_lab")
    if not m:
        return "Not measured yet: run training/measure_gan_lab.py."
    first, n = m["wgan_first_cover_step"], m["wgan_runs_covering_by_3000"]
    covered = "every run" if n == m["runs"] else f"{n} of the {m['runs']} runs"
    steady, spread = steady_seeds(m), m["standard_runs_covering_by_5000"]
    spreading = spread_seeds(m)
    return (f"Measured over {m['runs']} runs ({m['seeds']} seeds × {len(m['kernel_sets'])} CPU kernel sets): "
            f"standard training stayed on at most {m['standard_max_blobs_through_1500']} of {MODES} blobs "
            f"through step {CLAIM_STEPS['standard']:,} in every run, hopping from spot to spot. "
            f"{m['runs'] - spread} of the {m['runs']} runs never covered {COVERS} blobs up to step "
            f"{m['steps']['standard']:,}, as far as the lab trains; {spread} spread round the ring at some point "
            f"(the earliest at step {m['standard_first_covering_step']:,}). Seed {steady[0] if steady else 0}, "
            f"where the lab opens, stayed collapsed on every kernel set"
            + (f"; seed {spreading[0]} spread out on every one: try it and watch the coverage curve. " if spreading
               else ". ") + f"WGAN-GP covered at least {COVERS} of {MODES} blobs by step "
            f"{CLAIM_STEPS['wgan-gp']:,} in {covered}, somewhere between step {first['min']:,} and "
            f"{first['max']:,}. Not like for like: the standard run's discriminator learns 10× slower than its "
            f"generator, while WGAN-GP trains its critic at the generator's rate and 5 times per generator step "
            "(5× the critic work per step). The comparison shows the loss and the balance together.")


def spread_seeds(m: dict) -> list[int]:
    """Seeds whose standard run covered COVERS blobs at some recorded step under every measured kernel set."""
    return [seed for seed, peaks in enumerate(_peaks(m)) if min(peaks) >= COVERS]


def samples(run: LabRun, n: int = 500) -> np.ndarray:
    import torch

    with torch.no_grad():
        z = torch.randn(n, 2, generator=torch.Generator().manual_seed(12345))  # the same noise every frame
        return run.nets["g"](z).numpy()


def surface(run: LabRun, side: int = 60, extent: float = 3.0) -> np.ndarray:
    """The discriminator's score on a side x side grid over [-extent, extent]^2 -> (side, side), rows = y."""
    import torch

    c = np.linspace(-extent, extent, side, dtype=np.float32)
    xx, yy = np.meshgrid(c, c)
    with torch.no_grad():
        s = run.nets["d"](torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1))).numpy().reshape(side, side)
    return 1 / (1 + np.exp(-s)) if run.loss == "standard" else s


def figure(run: LabRun, extent: float = 3.0):
    """Real blobs, generated points and the discriminator's surface (plotly), titled with the coverage."""
    import plotly.graph_objects as go

    real = real_points(400, np.random.default_rng(7))
    fake = samples(run)
    modes, on_ring = coverage(samples(run, 1000))
    c = np.linspace(-extent, extent, 60)
    score = "D(x), probability 'real'" if run.loss == "standard" else "critic score"
    fig = go.Figure(go.Heatmap(x=c, y=c, z=surface(run, 60, extent), colorscale="Cividis", opacity=0.75,
                               colorbar={"title": score}, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=real[:, 0], y=real[:, 1], mode="markers", name="real data",
                             marker={"size": 4, "color": "#56B4E9"}))
    fig.add_trace(go.Scatter(x=fake[:, 0], y=fake[:, 1], mode="markers", name="generated",
                             marker={"size": 5, "color": "#D55E00", "symbol": "x"}))
    fig.update_layout(title=f"{run.label}: step {run.step}, {modes} of {MODES} blobs covered, "
                            f"{on_ring:.0%} of samples on a blob",
                      xaxis={"range": [-extent, extent], "scaleanchor": "y", "constrain": "domain"},
                      yaxis={"range": [-extent, extent]}, height=480, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      legend={"orientation": "h", "y": -0.05}, font={"size": 14})
    return fig


def coverage_figure(run: LabRun):
    """Blobs covered at every recorded step of the run so far (plotly): mode hopping and spreading out, over
    time, beside the snapshot that figure() draws."""
    import plotly.graph_objects as go

    steps = [h["step"] for h in run.history]
    fig = go.Figure(go.Scatter(x=steps, y=[h["modes"] for h in run.history], mode="lines+markers",
                               line={"color": "#D55E00", "shape": "hv"}, marker={"size": 5}, name="blobs covered"))
    fig.add_hline(y=COVERS, line={"dash": "dot", "color": "#555555"},
                  annotation_text=f"{COVERS}: covers the ring", annotation_position="top left")
    fig.update_layout(title="Blobs covered, step by step", height=260, font={"size": 14},
                      xaxis={"title": "training step", "range": [0, max(MAX_STEPS // 5, run.step)]},
                      yaxis={"title": "blobs", "range": [-0.3, MODES + 0.5], "dtick": 2},
                      margin={"l": 60, "r": 10, "t": 40, "b": 50}, showlegend=False)
    return fig


# --- what both pages do with a run: written once, UI-free ---------------------------------------------------

STEP = 100  # generator steps one press of "Step" trains
PLAY_CHUNK, PLAY_CHUNKS = 50, 20  # "Play": 20 chunks of 50 steps, the picture redrawn after each
LANE = "gan_lab"  # lane job name: the lab's work waits its turn behind and beside every other model's


def current(run: LabRun | None, loss: str, seed: int) -> LabRun:
    """The session's run if it is still the one asked for, else a fresh one (on the compute lane)."""
    if run is None or run.loss != loss or run.seed != int(seed or 0):
        run = lane.run(lambda: new_run(loss, int(seed or 0)), LANE)
    return run


def step(run: LabRun, steps: int = STEP) -> LabRun:
    """Train `steps` more (on the compute lane), never past MAX_STEPS."""
    steps = max(0, min(int(steps), MAX_STEPS - run.step))
    if steps:
        trained = lane.run(lambda: train(run, steps), LANE)
        if trained is not run:  # GLASSBOX_BACKEND=ray: a replica trained a copy; the session keeps this object
            run.__dict__.update(trained.__dict__)
    return run


def play(run: LabRun):
    """Train chunk after chunk, yielding (chunks done, chunks in all) after each so the page can redraw; stops at
    MAX_STEPS."""
    for k in range(PLAY_CHUNKS):
        if run.step >= MAX_STEPS:
            return
        step(run, PLAY_CHUNK)
        yield k + 1, PLAY_CHUNKS


def drawn(run: LabRun):
    """The run's figure, drawn on the compute lane (it samples the generator and the critic)."""
    return lane.run(lambda: figure(run), LANE)


INTRO = ("A tiny GAN learns a ring of 8 blobs, live. **Standard** training collapses onto a spot or two and hops "
         "between them; most runs stay collapsed, a few spread out after some thousands of steps. **WGAN-GP** "
         "spreads over the ring. The shading is the discriminator's view; the curve under it counts the blobs "
         "covered at every step so far.")


def status_text(run: LabRun) -> str:
    if not run.history:
        return f"Step {run.step}."
    h = run.history[-1]
    return (f"Step {run.step}: **{h['modes']} of {MODES} blobs** get samples, {h['on_ring']:.0%} of samples on a "
            f"blob. Discriminator loss {h['d_loss']:.3f}, generator loss {h['g_loss']:.3f}.")
