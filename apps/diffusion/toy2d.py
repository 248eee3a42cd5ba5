"""A 2-D toy diffusion: every point of a cloud denoised at once, so the whole reverse process
fits in one scatter plot.

Two noise predictors, both driven by the same diffusers schedulers as the image models:
- "learned": a small MLP trained by training/train_toy2d.py on two moons or a swiss roll
  (assets/models/toy2d.safetensors), the way a real diffusion model learns a density;
- "exact": for points the learner draws, the noise predictor that minimises the training loss
  for that finite set exactly. Its x0 estimate is a softmax-weighted average of the points,
  weights exp(-|x_t - sqrt(ab) p_j|^2 / (2 (1 - ab))), so samples land on the drawn points: the
  ideal model memorises, which is why real models must generalise instead.
Pure: no UI imports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from core import lane
from core.errors import UserError
from core.models import ASSETS

DATASETS = {"moons": "two moons", "swiss_roll": "swiss roll", "drawn": "your points (exact denoiser)"}
WEIGHTS = ASSETS / "models" / "toy2d.safetensors"
# A plain linear-beta schedule without clipping: the toy data is not confined to [-1, 1].
SCHEDULER_CONFIG = {"num_train_timesteps": 1000, "beta_schedule": "linear", "clip_sample": False,
                    "prediction_type": "epsilon"}
MAX_POINTS = 2000
HIDDEN = 128


class ToyInputError(UserError):
    pass


def dataset(name: str, n: int = 1000, seed: int = 0) -> np.ndarray:
    """(n, 2) float32 points, centred and scaled to unit standard deviation overall."""
    from sklearn.datasets import make_moons, make_swiss_roll

    if name == "moons":
        p, _ = make_moons(n, noise=0.05, random_state=seed)
    elif name == "swiss_roll":
        p3, _ = make_swiss_roll(n, noise=0.3, random_state=seed)
        p = p3[:, [0, 2]]
    else:
        raise ToyInputError(f"Unknown toy dataset {name!r}. Choose one of: moons, swiss_roll.")
    p = p - p.mean(0)
    return (p / p.std()).astype(np.float32)


def parse_points(text: str) -> np.ndarray:
    """'x, y' pairs, one per line (or ';'-separated) -> (n, 2), scaled like the datasets."""
    rows = [r for r in str(text or "").replace(";", "\n").splitlines() if r.strip()]
    if len(rows) > MAX_POINTS:
        raise ToyInputError(f"{len(rows):,} points is more than the {MAX_POINTS:,} this demo draws; use fewer.")
    pts = []
    for r in rows:
        parts = r.replace(",", " ").split()
        try:
            x, y = (float(v) for v in parts)
        except ValueError:
            raise ToyInputError(f"Could not read {r.strip()!r} as a point: write 'x, y', one per line.") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ToyInputError(f"{r.strip()!r} is not a finite point.")
        pts.append((x, y))
    if len(pts) < 2:
        raise ToyInputError("Give at least two points ('x, y' per line), or click on the canvas.")
    p = np.asarray(pts, dtype=np.float32)
    p = p - p.mean(0)
    spread = float(p.std())
    return p / spread if spread > 0 else p


def make_mlp():
    """eps_theta(x_t, t): 2 coordinates + a sinusoidal embedding of t -> 3 hidden layers -> 2."""
    import torch
    from torch import nn

    class ToyMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(2 + 32, HIDDEN), nn.SiLU(), nn.Linear(HIDDEN, HIDDEN), nn.SiLU(),
                                     nn.Linear(HIDDEN, HIDDEN), nn.SiLU(), nn.Linear(HIDDEN, 2))

        def forward(self, x, t, class_labels=None):
            t = torch.as_tensor(t, dtype=torch.float32).reshape(-1).expand(x.shape[0])  # (B,)
            freqs = torch.exp(torch.arange(16) * (-math.log(1000.0) / 16))  # (16,)
            ang = t[:, None] * freqs[None]  # (B, 16)
            h = torch.cat([x, ang.sin(), ang.cos()], dim=1)  # (B, 34)
            return SimpleNamespace(sample=self.net(h))  # (B, 2): the same .sample shape as a UNet's output

    return ToyMLP()


def from_checkpoint(spec, path):
    """The noise predictors of core.models' "toy2d" (its builder): one MLP per dataset, their weights prefixed
    '<dataset>.' in one safetensors file."""
    from safetensors.torch import load_file
    from torch import nn

    state = load_file(str(path))
    mlps = nn.ModuleDict()
    for name in {k.split(".", 1)[0] for k in state}:
        mlps[name] = make_mlp()
        mlps[name].load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(name + ".")})
    return mlps


def learned_model(name: str):
    """The bundled MLP for dataset `name`, from the shared model cache."""
    from core import lane, models

    if not WEIGHTS.exists():
        raise ToyInputError("The toy models are missing: run training/train_toy2d.py.")
    mlps = lane.run(lambda: models.load("toy2d", "cpu").module, "toy2d")
    if name not in mlps:
        raise ToyInputError(f"No bundled toy model for {name!r}.")
    return mlps[name]


class ExactDenoiser:
    """The loss-minimising noise predictor for a finite point set (see the module docstring)."""

    def __init__(self, points: np.ndarray, alphas_cumprod):
        import torch

        self.p = torch.from_numpy(np.asarray(points, dtype=np.float32))  # (M, 2)
        self.ab = alphas_cumprod

    def x0(self, x, t):
        import torch

        ab = self.ab[int(t)].float()
        d2 = torch.cdist(x, ab.sqrt() * self.p).pow(2)  # (B, M)
        w = torch.softmax(-d2 / (2 * (1 - ab)), dim=1)  # (B, M): posterior over which point x came from
        return w @ self.p  # (B, 2)

    def __call__(self, x, t, class_labels=None):
        ab = self.ab[int(t)].float()
        return SimpleNamespace(sample=(x - ab.sqrt() * self.x0(x, t)) / (1 - ab).sqrt())  # (B, 2)


@dataclass
class ToyRun:
    data: np.ndarray  # (M, 2) the training points
    timesteps: list[int]
    path: np.ndarray  # (steps + 1, N, 2): x_T ... x_0 for every sample
    x0: np.ndarray  # (steps, N, 2): the predicted clean points at each step


def reverse(name: str, scheduler: str = "ddim", steps: int = 50, n: int = 500, seed: int = 0,
            points: np.ndarray | None = None) -> ToyRun:
    """Denoise n Gaussian points with a diffusers scheduler and the dataset's noise predictor
    (on the compute lane, like all torch work)."""
    return lane.run(lambda: _reverse(name, scheduler, steps, n, seed, points), "toy2d")


def _reverse(name: str, scheduler: str, steps: int, n: int, seed: int, points: np.ndarray | None) -> ToyRun:
    import torch

    from apps.diffusion import sampling

    steps = int(min(max(int(steps), 1), 1000))
    n = int(min(max(int(n), 1), MAX_POINTS))
    sched = sampling.make_scheduler(scheduler, SCHEDULER_CONFIG)
    if name == "drawn":
        data = np.asarray(points if points is not None else [], dtype=np.float32)
        if data.ndim != 2 or len(data) < 2:
            raise ToyInputError("Click at least two points on the pad (or type them) first.")
        model = ExactDenoiser(data, sched.alphas_cumprod)
    else:
        data = dataset(name)
        model = learned_model(name)
    x, generator = sampling.initial_noise((n, 2), seed)  # (n, 2)
    path, x0s, ts = [x.numpy()], [], []
    with torch.no_grad():
        for step in sampling.denoise(model, sched, x, steps, generator=generator, x0_clip=None):
            ts.append(step.t)
            x0s.append(step.x0_pred.numpy())
            path.append(step.x_next.numpy())
    return ToyRun(data, ts, np.stack(path), np.stack(x0s))


def figure(run: ToyRun, title: str = ""):
    """Plotly animation: the cloud from pure noise (x_T) to samples, one frame per step, over the data."""
    import plotly.graph_objects as go

    lim = 3.2
    few = len(run.data) < 50  # a handful of drawn points must stay visible under 500 samples
    grey = go.Scatter(x=run.data[:, 0], y=run.data[:, 1], mode="markers", name="training data",
                      marker={"color": "rgba(60,60,60,0.8)" if few else "rgba(120,120,120,0.35)",
                              "size": 14 if few else 5, "symbol": "x" if few else "circle"})

    def cloud(k: int) -> go.Scatter:
        pts = run.path[k]
        return go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name="samples",
                          marker={"color": "#d62728", "size": 5})

    labels = ["x_T (noise)"] + [f"after t={t}" for t in run.timesteps]
    frames = [go.Frame(data=[grey, cloud(k)], name=str(k)) for k in range(len(run.path))]
    fig = go.Figure(data=[grey, cloud(0)], frames=frames)
    fig.update_layout(
        title=title, height=600, font={"size": 14}, margin={"l": 30, "r": 10, "t": 50, "b": 110},
        xaxis={"range": [-lim, lim], "zeroline": False}, yaxis={"range": [-lim, lim], "scaleanchor": "x"},
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0.0, "y": -0.1, "xanchor": "left",
                      "yanchor": "top",
                      "buttons": [{"label": "▶ Play", "method": "animate",
                                   "args": [None, {"frame": {"duration": 60, "redraw": False}, "fromcurrent": True,
                                                   "transition": {"duration": 0}}]},
                                  {"label": "⏸", "method": "animate",
                                   "args": [[None], {"mode": "immediate", "frame": {"duration": 0}}]}]}],
        sliders=[{"active": 0, "y": -0.1, "x": 0.3, "len": 0.7, "currentvalue": {"prefix": "step: "},
                  "steps": [{"label": labels[k] if k in (0, len(labels) - 1) else str(k), "method": "animate",
                             "args": [[str(k)], {"mode": "immediate", "frame": {"duration": 0, "redraw": False}}]}
                            for k in range(len(run.path))]}],
    )
    return fig


PAD_SIDE = 300  # pixels of the click pad
PAD_LIM = 3.0  # the pad shows -3..3 on both axes


def pad_to_point(px: float, py: float, side: int = PAD_SIDE) -> tuple[float, float]:
    """A click on the pad (pixels, y down) -> a point (x right, y up), rounded to two decimals."""
    x = (float(px) / side * 2 - 1) * PAD_LIM
    y = (1 - float(py) / side * 2) * PAD_LIM
    return round(x, 2), round(y, 2)


def raw_points(text: str) -> list[tuple[float, float]]:
    """The 'x, y' lines as typed (no scaling), skipping lines that are not two numbers."""
    out = []
    for row in str(text or "").replace(";", "\n").splitlines():
        parts = row.replace(",", " ").split()
        try:
            if len(parts) == 2:
                out.append((float(parts[0]), float(parts[1])))
        except ValueError:
            continue
    return out


def pad_image(text: str, side: int = PAD_SIDE) -> np.ndarray:
    """The click pad: a light grid with the points typed or clicked so far, numbered. (side, side, 3) uint8.

    A plain image with a click event replaces a sketchpad: nothing to select before drawing, and every
    point is also a line in the text box, so the two never disagree.
    """
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(img)
    for k in range(-int(PAD_LIM), int(PAD_LIM) + 1):
        v = (k / PAD_LIM + 1) / 2 * side
        colour = (150, 150, 150) if k == 0 else (225, 225, 225)
        draw.line([(v, 0), (v, side)], fill=colour)
        draw.line([(0, v), (side, v)], fill=colour)
    for i, (x, y) in enumerate(raw_points(text)):
        cx = (x / PAD_LIM + 1) / 2 * side
        cy = (1 - y / PAD_LIM) / 2 * side
        draw.ellipse([cx - 6, cy - 6, cx + 6, cy + 6], fill=(31, 119, 180), outline="black")
        if i < 99:
            draw.text((cx + 8, cy - 14), str(i + 1), fill="black")
    return np.asarray(img)


def resample_outline(xs, ys, n: int = 120) -> np.ndarray:
    """A drawn loop (its vertices) -> n points evenly spaced along its outline, closed. (n, 2) float32.

    Streamlit reports a lasso as the path's vertices, bunched where the hand slowed down; even spacing
    makes every stretch of the drawing count alike."""
    pts = np.stack([np.asarray(xs, np.float64), np.asarray(ys, np.float64)], 1)  # (k, 2)
    if len(pts) < 2:
        return pts.astype(np.float32)
    loop = np.concatenate([pts, pts[:1]])  # (k + 1, 2) closed
    seg = np.hypot(*np.diff(loop, axis=0).T)  # (k,)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] == 0:
        return pts[:1].astype(np.float32)
    at = np.linspace(0, s[-1], n, endpoint=False)
    return np.stack([np.interp(at, s, loop[:, 0]), np.interp(at, s, loop[:, 1])], 1).astype(np.float32)


def canvas_figure(text: str):
    """A -3..3 canvas for drawing with the lasso (Streamlit), showing the points so far. A faint lattice
    of points makes the plot selectable everywhere."""
    import plotly.graph_objects as go

    g = np.linspace(-PAD_LIM, PAD_LIM, 25)
    gx, gy = np.meshgrid(g, g)
    fig = go.Figure(go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", hoverinfo="skip", showlegend=False,
                               marker={"size": 3, "color": "rgba(0,0,0,0.12)"}))
    pts = raw_points(text)
    if pts:
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers", showlegend=False,
                                 marker={"size": 7, "color": "#1f77b4"}, hoverinfo="skip"))
    fig.update_layout(dragmode="lasso", height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis={"range": [-PAD_LIM, PAD_LIM], "zeroline": True},
                      yaxis={"range": [-PAD_LIM, PAD_LIM], "scaleanchor": "x", "zeroline": True})
    return fig


def distance_to_data(samples: np.ndarray, data: np.ndarray) -> float:
    """Mean distance from each sample to its nearest training point (small = on the data)."""
    d = np.sqrt(((samples[:, None, :] - data[None, :, :]) ** 2).sum(-1))  # (N, M)
    return float(d.min(1).mean())
