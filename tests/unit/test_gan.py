"""GAN latent arithmetic: determinism, slerp and lerp against their closed forms, attribute directions judged
by a classifier trained on real faces, input checks, and the 2-D lab's mode collapse and its remedy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from apps.gan_latent import faces, lab, logic
from core import loaders, models


def test_faces_are_deterministic_and_show_their_attributes():
    a, la = faces.sample(8, 5)
    b, lb = faces.sample(8, 5)
    assert np.array_equal(a, b) and np.array_equal(la, lb) and a.shape == (8, 32, 32, 3)
    plain = dict.fromkeys(faces.ATTRIBUTES, 0)

    def changed(x, y) -> float:  # share of pixels that moved by more than 30 grey levels in some channel
        return float((np.abs(x.astype(int) - y.astype(int)).max(axis=2) > 30).mean())

    off = faces.face(plain, np.random.default_rng(1))
    assert np.array_equal(off, faces.face(plain, np.random.default_rng(1)))  # the nuisances come from the rng only
    other_face = changed(off, faces.face(plain, np.random.default_rng(2)))  # new nuisances: another head and colour
    for name in faces.ATTRIBUTES:  # one attribute switched on, the same nuisances: only its own part of the picture
        on = faces.face({**plain, name: 1}, np.random.default_rng(1))
        share = changed(on, off)
        assert share > 0.01, name
        assert share < (0.9 if name == "bright_background" else 0.25) and (name == "bright_background"
                                                                           or share < other_face), (name, share)


@pytest.mark.kernels
def test_the_same_seed_gives_the_same_image_always():
    r1 = logic.sample([3, 4, 5])
    r2 = logic.sample([5, 3])
    assert np.array_equal(r1.images[0], r2.images[1]) and np.array_equal(r1.images[2], r2.images[0])
    assert r1.images[0].shape == (32, 32, 3) and r1.model == "gan_faces" and r1.offline
    z = logic.latent(3, 64)
    assert np.array_equal(z, logic.latent(3, 64)) and r1.latent_norms[0] == pytest.approx(np.linalg.norm(z), abs=1e-3)


def test_slerp_keeps_the_length_and_lerp_shortens_the_middle():
    a, b = logic.latent(1, 64), logic.latent(2, 64)
    t = np.linspace(0, 1, 9)
    s, li = logic.slerp(a, b, t), logic.lerp(a, b, t)
    assert np.allclose(s[0], a, atol=1e-5) and np.allclose(s[-1], b, atol=1e-5)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    assert np.allclose(np.linalg.norm(s, axis=1), (1 - t) * na + t * nb, atol=1e-4)  # the length moves linearly
    # the closed form of the arc: the angle to a grows linearly with t
    omega = np.arccos(a @ b / na / nb)
    angles = np.arccos(np.clip(s @ a / np.linalg.norm(s, axis=1) / na, -1, 1))
    assert np.allclose(angles, t * omega, atol=1e-4)
    assert np.linalg.norm(li[4]) < 0.85 * min(na, nb)  # independent latents: the chord's middle is ~1/sqrt(2)


@pytest.mark.kernels
def test_interpolation_ends_are_the_seeds_samples_and_slerp_keeps_typical_norms():
    s = logic.interpolate(11, 12, 9, "slerp")
    li = logic.interpolate(11, 12, 9, "lerp")
    ends = logic.sample([11, 12])
    assert np.array_equal(s.images[0], ends.images[0]) and np.array_equal(s.images[-1], ends.images[1])
    assert np.array_equal(li.images[0], ends.images[0]) and np.array_equal(li.images[-1], ends.images[1])
    mid, end = s.latent_norms[4], np.mean([s.latent_norms[0], s.latent_norms[-1]])
    assert abs(mid - end) / end < 0.1 and li.latent_norms[4] < 0.9 * end


@pytest.mark.kernels
def test_attribute_directions_switch_attributes_on_as_the_judge_sees_it():
    """The shipped directions, judged by the attribute classifier trained on real faces (not on the GAN)."""
    m = logic.manifest()
    assert m, "run training/train_gan_faces.py"
    seeds = list(range(1000, 1200))
    base = logic.judge(logic.sample(seeds).images)  # (n, 4)
    working = 0
    for k, name in enumerate(faces.ATTRIBUTES):
        lacking = [s for s, row in zip(seeds, base) if row[k] == 0]
        if len(lacking) < 20:
            continue
        _, after = logic.edit(lacking, name)
        rate = logic.judge(after.images)[:, k].mean()
        working += rate >= 0.6
        assert abs(rate - m["edits"][name]["best"]["on"]) < 0.2, (name, rate)  # the page's claim holds
    assert working >= 3


@pytest.mark.kernels
def test_the_judge_reads_real_faces():
    imgs, attrs = logic.real(200, 4242)
    pred = logic.judge(imgs)
    truth = np.array([[a[n] for n in faces.ATTRIBUTES] for a in attrs])
    assert (pred == truth).mean(0).min() > 0.9


@pytest.mark.kernels
def test_removing_an_attribute_with_a_negative_strength():
    seeds = list(range(300, 400))
    base = logic.judge(logic.sample(seeds).images)
    k = faces.ATTRIBUTES.index("glasses")
    having = [s for s, row in zip(seeds, base) if row[k] == 1]
    _, after = logic.edit(having, "glasses", -logic.best_strength("glasses"))
    assert logic.judge(after.images)[:, k].mean() < 0.5


@pytest.mark.kernels
def test_analogy_is_a_minus_b_plus_c_at_a_typical_length():
    r = logic.analogy(1, 2, 3)
    za, zb, zc = (logic.latent(s, 64) for s in (1, 2, 3))
    raw = za - zb + zc
    z = r.latents[3]
    assert np.allclose(z / np.linalg.norm(z), raw / np.linalg.norm(raw), atol=1e-5)
    assert np.linalg.norm(z) == pytest.approx(np.mean([np.linalg.norm(v) for v in (za, zb, zc)]), rel=1e-4)
    assert np.array_equal(r.images[0], logic.sample([1]).images[0])


@pytest.mark.parametrize("call, message", [
    (lambda: logic.sample(list(range(10_000))), "10,000 seeds"),
    (lambda: logic.sample([]), "non-empty"),
    (lambda: logic.sample([1.5]), "whole number"),
    (lambda: logic.sample([-1]), "whole number"),
    (lambda: logic.sample([1], truncation=float("nan")), "truncation"),
    (lambda: logic.interpolate(1, 2, 0), "steps"),
    (lambda: logic.interpolate(1, 2, 5, "cubic"), "slerp"),
    (lambda: logic.edit([1], "moustache"), "Unknown attribute"),
    (lambda: logic.edit([1], "glasses", float("nan")), "strength"),
    (lambda: logic.edit([1], "glasses", 1e9), "strength"),
    (lambda: logic.real(513), "n must be"),
    (lambda: logic.sample([1], model="resnet50"), "not a GAN"),
])
def test_bad_input_says_what_would_work(call, message):
    with pytest.raises(logic.GanInputError, match=message):
        call()


def test_the_hub_gan_loads_from_a_local_checkpoint_and_falls_back_offline(tmp_path, monkeypatch):
    """A random generator in the punks' layout (a plain state dict, read with weights_only=True)."""
    torch.manual_seed(0)
    gen = loaders.DCGANGenerator(100, 8, 4, "punks24")
    torch.save(gen.state_dict(), tmp_path / "gan_punks.pth")
    monkeypatch.setenv("GLASSBOX_OFFLINE", "1")
    models.clear_cache()
    try:
        r = logic.sample([1, 2], model="gan_punks")
        assert r.model == "gan_faces" and any("unavailable" in n for n in r.notices)
        monkeypatch.setenv("GLASSBOX_WEIGHTS_DIR", str(tmp_path))
        models.clear_cache()
        r = logic.sample([1, 2], model="gan_punks")
        assert r.model == "gan_punks" and r.images[0].shape == (24, 24, 3) and len(r.latents[0]) == 100
        with pytest.raises(logic.GanInputError, match="no measured attribute directions"):
            logic.edit([1], "glasses", model="gan_punks")
    finally:
        models.clear_cache()


# --- GAN Lab lite -------------------------------------------------------------------------------------

@pytest.mark.kernels
def test_the_2d_lab_collapses_without_the_remedy_and_covers_the_ring_with_it():
    """What the page claims, from training/measure_gan_lab.py's 24 runs (8 seeds x 3 CPU kernel sets), holds on
    this CPU for three seeds. Each run is chaotic (another CPU's last bit grows into another run), so the bounds
    are the measured ones with a margin: standard at most 3 blobs through step 1,500 over 24 runs (asserted: 4),
    WGAN-GP at least 7 blobs by step 3,000 in all 24 (asserted as measured: that is the page's promise)."""
    m = models.manifest("gan_lab")
    assert m and m["runs"] >= 24 and m["wgan_runs_covering_by_3000"] == m["runs"]
    assert m["standard_max_blobs_through_1500"] <= 3 < lab.COVERS
    claim = lab.measured_claim()
    assert f"at most {m['standard_max_blobs_through_1500']} of 8 blobs through step 1,500 in every run" in claim
    assert "covered at least 7 of 8 blobs by step 3,000 in every run" in claim
    for seed in range(3):
        std = lab.train(lab.new_run("standard", seed), lab.CLAIM_STEPS["standard"])
        assert max(h["modes"] for h in std.history) <= 4, (seed, [h["modes"] for h in std.history])
        wgan = lab.new_run("wgan-gp", seed)
        assert lab.train_until_covered(wgan) is not None, (seed, [h["modes"] for h in wgan.history])


@pytest.mark.kernels
def test_the_lab_opens_on_a_run_that_stays_collapsed_for_as_long_as_play_trains():
    """The lab's promise holds for as long as a lecturer plays (before, seed 0 opened the lab and spread round the
    ring by step 2,250, against the text). Its opening seed is one whose standard run stayed below 7 blobs through
    step 5,000 under every measured kernel set; retrained here (this CPU, or the kernel pass's default kernels)
    it stays collapsed up to MAX_STEPS, and the claim counts the runs that did spread."""
    m = models.manifest("gan_lab")
    assert lab.MAX_STEPS <= m["steps"]["standard"]  # the measurement reaches as far as Play can
    seed = lab.default_seed()
    assert seed in lab.steady_seeds() and lab.spread_seeds(m)
    run = lab.train(lab.new_run("standard", seed), lab.MAX_STEPS)
    assert max(h["modes"] for h in run.history) < lab.COVERS, [h["modes"] for h in run.history]
    claim = lab.measured_claim()
    never = m["runs"] - m["standard_runs_covering_by_5000"]
    assert f"{never} of the {m['runs']} runs never covered 7 blobs up to step 5,000" in claim
    assert f"Seed {seed}, where the lab opens" in claim and "Not like for like" in claim
    fig = lab.coverage_figure(run)
    assert list(fig.data[0].y) == [h["modes"] for h in run.history]


def test_the_lab_is_seeded_and_fast_enough_to_watch():
    import time

    a = lab.train(lab.new_run("standard", 5), 60)
    b = lab.train(lab.new_run("standard", 5), 60)
    assert np.array_equal(lab.samples(a), lab.samples(b)) and a.history == b.history
    run = lab.new_run("wgan-gp", 0)
    rates = []
    for _ in range(3):  # the best of three: a busy machine should not fail the test, a slow trainer will
        t0 = time.perf_counter()
        lab.train(run, 30)
        rates.append(30 / (time.perf_counter() - t0))
    assert max(rates) >= 20  # training steps per second, for the slower of the two losses
    fig = lab.figure(run)
    assert "blobs covered" in fig.layout.title.text
