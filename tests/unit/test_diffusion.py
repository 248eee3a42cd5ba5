"""Diffusion step-through: the forward process against its closed form, the step loop against the
diffusers pipelines, determinism, the bundled model's quality, caching/scrubbing, exports, bad input."""

from __future__ import annotations

import hashlib
import io
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from apps.diffusion import digits, logic, sampling, toy2d
from core import api, models

# Numbers from models: run again under another CPU kernel set (scripts/dev.sh).
pytestmark = pytest.mark.kernels

ASSETS = models.ASSETS / "models"
MANIFEST = json.loads((ASSETS / "MANIFEST.json").read_text())["ddpm_digits"]


@pytest.fixture(autouse=True)
def fresh_cache():
    logic._cache.clear()
    yield
    logic._cache.clear()


def tiny_unet(num_class_embeds=None):
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                       block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4,
                       num_class_embeds=num_class_embeds).eval()


# ------------------------------------------------------------------ forward process


def independent_alpha_bar(kind: str) -> np.ndarray:
    """The two schedules from their papers, computed without diffusers."""
    T = 1000
    if kind == "linear":  # Ho et al. 2020
        betas = np.linspace(1e-4, 0.02, T)
    else:  # Nichol & Dhariwal 2021, s = 0.008, betas capped at 0.999
        f = lambda t: math.cos((t / T + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
        betas = np.array([min(1 - f(t + 1) / f(t), 0.999) for t in range(T)])
    return np.cumprod(1 - betas)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedule_curves_match_the_papers(kind):
    c = logic.schedule_curves(kind)
    ab = independent_alpha_bar(kind)
    np.testing.assert_allclose(c["alpha_bar"], ab, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(c["snr"], ab / (1 - ab), rtol=1e-3)
    assert np.all(np.diff(c["alpha_bar"]) < 0) and c["alpha_bar"][-1] < 1e-3  # the signal fades to nothing


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("t", [0, 100, 500, 999])
def test_forward_process_statistics_match_the_closed_form(kind, t):
    """Over many draws x_t has mean sqrt(ab) x0 and variance 1 - ab, per pixel."""
    x0 = logic.source_image("digit", 7)  # (16, 16, 1) in [-1, 1]
    draws = np.stack([logic.add_noise(x0, t, kind, seed) for seed in range(400)])  # (400, 16, 16, 1)
    ab = independent_alpha_bar(kind)[t]
    mean_err = draws.mean(0) - math.sqrt(ab) * x0
    var = draws.var(0)
    # 400 draws: each pixel's mean has standard error sqrt(1 - ab)/20 (mean |error| about 0.8 of that);
    # the variance averaged over 256 pixels has a relative standard error of about 0.5 %.
    assert np.abs(mean_err).mean() < 1.2 * math.sqrt(1 - ab) / 20 + 1e-6
    assert abs(var.mean() - (1 - ab)) < 0.03 * (1 - ab) + 1e-7
    # The same seed gives the same noise draw: only t changes between forward frames.
    np.testing.assert_array_equal(logic.add_noise(x0, t, kind, 3), logic.add_noise(x0, t, kind, 3))


def test_forward_views_render():
    x0 = logic.source_image("cat")
    assert x0.shape == (64, 64, 3) and x0.min() >= -1 and x0.max() <= 1
    strip = logic.forward_strip(x0, "linear")
    assert strip.shape[0] == 128 and strip.shape[2] == 3  # 64 px tiles, doubled
    assert "x_t = 0.920·x₀ + 0.393·ε" in logic.forward_stats(250, "cosine")
    fig = logic.schedule_figure(250)
    assert len(fig.data) == 6  # beta, alpha-bar, SNR for two schedules
    with pytest.raises(logic.DiffusionInputError):
        logic.schedule_curves("quadratic")


# ------------------------------------------------------------------ the step loop vs diffusers


def pipeline_final(pipe_cls, sched, unet, steps, seed, **kwargs):
    pipe = pipe_cls(unet=unet, scheduler=sched)
    pipe.set_progress_bar_config(disable=True)
    g = torch.Generator("cpu").manual_seed(seed)
    return pipe(batch_size=1, generator=g, num_inference_steps=steps, output_type="np", **kwargs).images[0]


@pytest.mark.parametrize("kind, eta", [("ddpm", 0.0), ("ddim", 0.0), ("ddim", 0.5), ("dpm", 0.0)])
def test_our_step_loop_equals_the_diffusers_pipeline(kind, eta):
    from diffusers import DDIMPipeline, DDPMPipeline

    unet = tiny_unet()
    config = {"num_train_timesteps": 1000, "beta_schedule": "linear"}
    steps, seed = 12, 42
    ours = sampling.sample(unet, sampling.make_scheduler(kind, config), (1, 1, 8, 8), steps, seed, eta=eta)
    ours = ((ours[0].permute(1, 2, 0) / 2 + 0.5).clamp(0, 1)).numpy()  # the pipelines' output transform
    if kind == "ddim":
        ref = pipeline_final(DDIMPipeline, sampling.make_scheduler(kind, config), unet, steps, seed, eta=eta)
    else:
        ref = pipeline_final(DDPMPipeline, sampling.make_scheduler(kind, config), unet, steps, seed)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_guidance_is_the_classifier_free_combination():
    unet = tiny_unet(num_class_embeds=3)
    x = torch.randn(2, 1, 8, 8)
    labels = torch.tensor([0, 1])
    with torch.no_grad():
        c = unet(x, 10, class_labels=labels).sample
        u = unet(x, 10, class_labels=torch.tensor([2, 2])).sample
        for w in (0.0, 1.0, 2.5):
            got = sampling.predict_eps(unet, x, 10, labels, w, null_label=2)
            torch.testing.assert_close(got, u + w * (c - u), atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------ the bundled model


def test_manifest_records_the_weights_and_the_measured_best_guidance():
    weights = ASSETS / "ddpm_digits" / "diffusion_pytorch_model.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == MANIFEST["sha256"]
    assert MANIFEST["train_seconds"] <= 30 * 60 and MANIFEST["resolution"] >= 16
    rates = MANIFEST["quality"]["by_guidance"]
    assert rates[f"{MANIFEST['best_guidance']:g}"] == max(rates.values())
    assert logic.default_guidance() == MANIFEST["best_guidance"]
    assert rates["0"] < 0.3 < rates[f"{MANIFEST['best_guidance']:g}"]  # guidance is what makes the label stick


def real_digit_classifier():
    """Our own judge, trained here on the real 8x8 digits (independent of apps.diffusion.digits)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    d = load_digits()
    return LogisticRegression(max_iter=3000, C=0.5).fit(d.data, d.target)


def test_bundled_samples_read_as_the_requested_digit_at_the_manifest_rate():
    loaded = models.load("ddpm_digits", "cpu")
    dm = loaded.module
    per_digit = 10
    labels = torch.arange(10).repeat_interleave(per_digit)  # (100,)
    ev = MANIFEST["quality"]["sampler"]
    x = sampling.sample(dm.unet, sampling.make_scheduler(ev["scheduler"], dm.scheduler_config),
                        (len(labels), 1, 16, 16), ev["steps"], 777, labels=labels,
                        guidance=MANIFEST["best_guidance"], eta=ev["eta"], null_label=dm.null_label)
    unit = ((x[:, 0] + 1) / 2).numpy()  # (100, 16, 16) in [0, 1]
    small = unit.reshape(-1, 8, 2, 8, 2).mean(axis=(2, 4)).reshape(-1, 64) * 16  # back to the 8x8, 0..16 scale
    rate = float((real_digit_classifier().predict(small) == labels.numpy()).mean())
    assert abs(rate - MANIFEST["accuracy_at_best_guidance"]) <= 0.10, rate


def test_same_seed_ddim_eta0_is_identical_and_seeds_differ():
    s, _ = logic.check(scheduler="ddim", steps=20, eta=0, seed=5, label=4)
    a = logic.run(s).final.copy()
    logic._cache.clear()
    b = logic.run(s).final
    np.testing.assert_array_equal(a, b)
    c = logic.run(logic.check(scheduler="ddim", steps=20, eta=0, seed=6, label=4)[0]).final
    assert np.abs(a - c).mean() > 0.05


@pytest.mark.wiring  # plumbing (shapes, hooks, caps, progress, speed), not a number from the model
def test_trajectory_shapes_and_timesteps():
    for kind, n, label in (("ddpm", 1000, None), ("ddim", 50, 1), ("dpm", 20, 1)):
        traj = logic.run(logic.check(scheduler=kind, steps=n, label=label)[0])
        assert traj.x_t.shape == traj.x0.shape == traj.eps.shape == (n, 16, 16, 1)
        assert len(traj.timesteps) == n and traj.timesteps == sorted(traj.timesteps, reverse=True)
        assert traj.timesteps[0] >= 900 and traj.final.shape == (16, 16, 1)
        assert np.abs(traj.final).max() <= 1


def test_x0_prediction_sharpens_towards_the_final_sample():
    traj = logic.run(logic.check(scheduler="ddim", steps=50, label=8)[0])
    err = [np.abs(traj.x0[i].astype(np.float32) - traj.final).mean() for i in (0, 25, 49)]
    assert err[0] > err[1] > err[2]


def test_streaming_yields_growing_frames_then_the_cached_result():
    s, _ = logic.check(scheduler="ddim", steps=30, label=2)
    seen = [(t.n, t.done) for t in logic.stream(s, every=5)]
    assert seen[0] == (5, False) and seen[-1] == (30, True)
    assert [n for n, _ in seen] == sorted(n for n, _ in seen)
    again = list(logic.stream(s, every=5))
    assert len(again) == 1 and again[0] is logic.cached(s)  # asked again: a look-up


def test_scrubbing_never_calls_the_model(monkeypatch):
    s, _ = logic.check(scheduler="ddim", steps=25, label=0)
    traj = logic.run(s)
    unet = models.load("ddpm_digits", "cpu").module.unet
    calls = []
    monkeypatch.setattr(unet, "forward", lambda *a, **k: calls.append(1))
    for i in range(traj.n):
        xt, x0, eps, t = logic.frame(traj, i)
        assert xt.shape == (256, 256) and t == traj.timesteps[i]
    assert logic.run(s) is traj and calls == []


def test_exports():
    traj = logic.run(logic.check(scheduler="ddim", steps=30, label=6)[0])
    gif = Image.open(io.BytesIO(logic.gif_bytes(traj)))
    assert gif.format == "GIF" and gif.n_frames == 31  # every step, then the final sample
    png = Image.open(io.BytesIO(logic.frame_png(traj, 10)))
    assert png.size == (256 * 3 + 16, 256)
    assert Image.open(io.BytesIO(logic.gif_bytes(traj, max_frames=10))).n_frames == 11  # long runs are thinned


def test_api_payload_matches_the_trajectory():
    from core import images

    traj = logic.run(logic.check(scheduler="ddim", steps=10, label=9)[0])
    out = logic.api_payload(traj, api.Clock())
    assert len(out["frames"]) == len(out["x0_preds"]) == len(out["timesteps"]) == 10
    arr = np.asarray(out["final_array"])
    assert arr.shape == (16, 16) and arr.min() >= 0 and arr.max() <= 1
    np.testing.assert_allclose(images.from_data_url(out["final"]) / 255.0, arr, atol=1 / 255 + 1e-4)
    assert out["model"] == "ddpm_digits" and "Glassbox digits DDPM" in out["model_label"] and out["device"] == "cpu"
    assert out["offline"] is True and out["elapsed_ms"] >= 0 and isinstance(out["notices"], list)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kwargs, notice", [
    ({"steps": 0}, "using 1"), ({"steps": 100000}, "using 1,000"), ({"steps": -5}, "using 1"),
    ({"eta": 3}, "using 1"), ({"guidance": 1e9, "label": 1}, "using 20"),
    ({"model": "ddpm_cifar10", "label": 3}, "unconditional"),
])
def test_absurd_counts_are_capped_with_a_message(kwargs, notice):
    s, notices = logic.check(**kwargs)
    assert any(notice in n for n in notices), notices
    assert 1 <= s.steps <= logic.MAX_STEPS and 0 <= s.eta <= 1 and 0 <= s.guidance <= logic.MAX_GUIDANCE


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1}, "seed must be a whole number"), ({"seed": 1.5}, "seed must be"),
    ({"label": 11}, "label must be a digit"), ({"label": -1}, "label must be a digit"),
    ({"guidance": float("nan"), "label": 2}, "NaN"), ({"steps": "many"}, "must be a number"),
    ({"scheduler": "euler"}, "Unknown scheduler"), ({"model": "../../etc/passwd"}, "Unknown model"),
])
def test_bad_settings_are_refused_clearly(kwargs, message):
    with pytest.raises(logic.DiffusionInputError, match=message):
        logic.check(**kwargs)


def test_unconditional_runs_ignore_guidance():
    s, _ = logic.check(label=None, guidance=3)
    assert s.label is None and s.guidance == 0.0


def test_hub_model_offline_falls_back_with_an_honest_notice():
    s, _ = logic.check(model="ddpm_cifar10", steps=5)
    traj = logic.run(s)
    assert "offline stand-in" in traj.model_label and traj.notices and "unavailable" in traj.notices[0]
    assert traj.model == "ddpm_digits" and traj.offline and "running Glassbox digits DDPM" in traj.notices[0]


def test_a_failing_gpu_reruns_on_the_cpu():
    """This machine has no NVIDIA driver: asking for CUDA fails for real, and the run moves to the CPU."""
    from core.device import reset_cuda_state

    if torch.cuda.is_available():
        pytest.skip("a real GPU is present")
    s, _ = logic.check(steps=5, label=3)
    try:
        last = list(logic.stream(s, device="cuda"))[-1]
    finally:
        reset_cuda_state()
    assert last.done and last.device == "cpu" and any("CPU" in n for n in last.notices)


# ------------------------------------------------------------------ 2-D toy


def test_exact_denoiser_reproduces_the_drawn_points():
    pts = toy2d.parse_points("0, 0\n3, 1\n-2, 2\n1, -3")
    run = toy2d.reverse("drawn", "ddim", 50, n=300, seed=0, points=pts)
    assert run.path.shape == (51, 300, 2)
    assert toy2d.distance_to_data(run.path[-1], pts) < 0.02  # it memorises: every sample lands on a point


@pytest.mark.parametrize("name", ["moons", "swiss_roll"])
def test_learned_toy_models_move_noise_onto_the_data(name):
    run = toy2d.reverse(name, "ddim", 50, n=500, seed=1)
    start = toy2d.distance_to_data(run.path[0], run.data)
    end = toy2d.distance_to_data(run.path[-1], run.data)
    assert end < start / 4
    fig = toy2d.figure(run)
    assert len(fig.frames) == 51


@pytest.mark.parametrize("text, message", [("", "at least two"), ("1, 2", "at least two"), ("a, b\n1, 2", "Could not"),
                                           ("nan, 1\n1, 2", "not a finite"), ("0,0\n" * 3000, "more than")])
def test_bad_toy_points(text, message):
    with pytest.raises(toy2d.ToyInputError, match=message):
        toy2d.parse_points(text)


def test_digits_helpers_round_trip():
    imgs, labels = digits.real_digits()
    up = digits.upsample(imgs[:50])  # (50, 1, 16, 16)
    back = digits.to_8x8(((up[:, 0] + 1) / 2).numpy())
    assert np.abs(back - imgs[:50].reshape(50, 64) * 16).mean() < 1.5
    assert (digits.read_as(((up[:, 0] + 1) / 2).numpy()) == labels[:50]).mean() > 0.9


def test_pad_clicks_become_toy_points():
    """A click on the pad (pixels, y down) is a point (y up) in -3..3; the pad draws every listed point."""
    side = toy2d.PAD_SIDE
    assert toy2d.pad_to_point(side / 2, side / 2) == (0.0, 0.0)
    assert toy2d.pad_to_point(0, 0) == (-toy2d.PAD_LIM, toy2d.PAD_LIM)  # top left
    assert toy2d.pad_to_point(side, side) == (toy2d.PAD_LIM, -toy2d.PAD_LIM)
    text = "0, 0\n1.5, -1.5\nnot a point\n-3, 3"
    assert toy2d.raw_points(text) == [(0.0, 0.0), (1.5, -1.5), (-3.0, 3.0)]
    empty, drawn = toy2d.pad_image(""), toy2d.pad_image(text)
    assert drawn.shape == (side, side, 3) and drawn.dtype == np.uint8
    blue = (drawn[..., 2] > 150) & (drawn[..., 0] < 80)  # the point markers
    ys, xs = np.nonzero(blue)
    assert not ((empty[..., 2] > 150) & (empty[..., 0] < 80)).any()
    # the (1.5, -1.5) marker sits right of and below the centre, where the click mapping puts it
    cx, cy = (1.5 / toy2d.PAD_LIM + 1) / 2 * side, (1 + 1.5 / toy2d.PAD_LIM) / 2 * side
    assert blue[int(cy), int(cx)]
    assert toy2d.pad_to_point(cx, cy) == (1.5, -1.5)
    pts = toy2d.parse_points("0, 0\n1, 1\n2, 0\n1, -1")
    run = toy2d.reverse("drawn", "ddim", 30, n=200, points=pts)
    assert run.path.shape == (31, 200, 2)


def test_a_hub_unet_downloads_and_runs_unconditionally(monkeypatch, tmp_path):
    """ddpm_cifar10's hub path, end to end, against a local fake hub serving a tiny random 32x32 RGB
    UNet with google/ddpm-cifar10-32's old-style scheduler_config.json."""
    from diffusers import UNet2DModel

    from core import weights
    from fakehub import FakeHub

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=32, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       norm_num_groups=4)
    unet.save_pretrained(tmp_path / "src", safe_serialization=True)
    repo = models.MODELS["ddpm_cifar10"].hub[0]
    files = {(repo, name): (tmp_path / "src" / name).read_bytes()
             for name in ("diffusion_pytorch_model.safetensors", "config.json")}
    files[(repo, "scheduler_config.json")] = json.dumps(
        {"_class_name": "GaussianDDPMScheduler", "beta_end": 0.02, "beta_schedule": "linear",
         "beta_start": 0.0001, "timesteps": 1000, "variance_type": "fixed_large"}).encode()
    monkeypatch.delenv("GLASSBOX_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    models.clear_cache()
    weights.forget_probe()
    try:
        with FakeHub(files) as hub:
            monkeypatch.setenv("HF_ENDPOINT", hub.url)
            s, notices = logic.check(model="ddpm_cifar10", scheduler="ddim", steps=8, seed=1, label=3)
            traj = logic.run(s)
    finally:
        models.clear_cache()
        weights.forget_probe()
    assert s.label is None and any("unconditional" in n for n in notices)
    assert "google/ddpm-cifar10-32" in traj.model_label and "hub model" in traj.model_label and not traj.notices
    assert traj.x_t.shape == (8, 32, 32, 3) and traj.final.shape == (32, 32, 3)
    out = logic.api_payload(traj, api.Clock())
    assert np.asarray(out["final_array"]).shape == (32, 32, 3)


def test_a_drawn_loop_becomes_evenly_spaced_points_on_its_outline():
    """Streamlit's lasso reports a loop's vertices; the toy takes points evenly spaced along it."""
    pts = toy2d.resample_outline([0, 2, 2, 0], [0, 0, 2, 2], n=16)  # a 2x2 square, perimeter 8
    assert pts.shape == (16, 2)
    on_edge = np.isclose(pts, 0) | np.isclose(pts, 2)
    assert on_edge.any(1).all()  # every point lies on a side of the square
    gaps = np.hypot(*np.diff(np.concatenate([pts, pts[:1]]), axis=0).T)
    assert np.allclose(gaps, 0.5, atol=1e-5)  # 8 / 16, corners included
    assert toy2d.resample_outline([1], [1]).shape == (1, 2)
