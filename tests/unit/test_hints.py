"""Every hint on a page is true for the model that runs there: the explainers' claims about the offline
models are recomputed here from those models, and the numbers they quote come from the manifest."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from apps.registry import DEMOS
from core import explainer, models

# Numbers from models: run again under another CPU kernel set (scripts/dev.sh).
pytestmark = pytest.mark.kernels

BUILT = [d.slug for d in DEMOS if d.built]


def _values(slug: str) -> dict:
    import importlib

    logic = importlib.import_module(f"apps.{slug}.logic")
    return logic.explainer_values() if hasattr(logic, "explainer_values") else {}


@pytest.mark.parametrize("slug", BUILT)
def test_every_explainer_renders_without_placeholders(slug):
    text = explainer.load(f"apps/{slug}", _values(slug))
    assert "{{" not in text and len(text) > 500


def test_a_missing_value_is_an_error(tmp_path):
    (tmp_path / "explainer.md").write_text("We measured {{table}}.")
    with pytest.raises(KeyError, match="table"):
        explainer.load(tmp_path)
    assert explainer.load(tmp_path, {"table": "42"}) == "We measured 42."


# --- attention: what the offline MiniLM does with "it" ------------------------------------------

def _attention_to(result, word: str):
    toks = result.tokens
    i = toks.index("it")
    return lambda layer, head: float(result.matrix(layer, head)[i][toks.index(word)])


def test_attention_explainer_claims_hold_for_minilm():
    from apps.attention import logic

    text = " ".join(explainer.load("apps/attention").split())  # one line: the prose wraps anywhere
    robot, ball = (logic.attend(t, "minilm") for t in list(logic.PRESETS.values())[:2])
    assert robot.model == ball.model == "minilm"
    # "the head mean from `it` goes mostly to [CLS] in layers 1 to 5" (numbered from 0, as the page's slider)
    assert "numbered from 0, as on the page" in text and "layers 1 to 5" in text
    for r in (robot, ball):
        i = r.tokens.index("it")
        for layer in range(1, 6):
            assert int(np.argmax(r.matrix(layer, None)[i])) == r.tokens.index("[CLS]")
    # "it favours `robot` in the last layer in both sentences"
    for r in (robot, ball):
        i = r.tokens.index("it")
        last = r.matrix(r.n_layers - 1, None)[i]
        words = [j for j, t in enumerate(r.tokens) if t.isalpha()]
        assert r.tokens[max(words, key=lambda j: last[j])] == "robot"
    # "layer 3, head 1 puts more weight on the right noun in both sentences (0.58 ... 0.04; 0.24 ... 0.12)":
    # the page's own layer and head numbers, so a student who sets them there sees those weights
    m = re.search(r"layer (\d+), head (\d+)\*\* puts more weight on the right noun in both sentences "
                  r"\(([\d.]+) on robot against ([\d.]+) on ball; ([\d.]+) on ball against ([\d.]+) on robot\)", text)
    assert m, "the explainer's head claim changed: update this test with it"
    layer, head = int(m.group(1)), int(m.group(2))
    quoted = [float(x) for x in m.groups()[2:]]
    measured = [_attention_to(robot, "robot")(layer, head), _attention_to(robot, "ball")(layer, head),
                _attention_to(ball, "ball")(layer, head), _attention_to(ball, "robot")(layer, head)]
    assert measured == pytest.approx(quoted, abs=0.006)
    assert measured[0] > measured[1] and measured[2] > measured[3]


# --- ViT: the tiny model's heads are global ------------------------------------------------------

def test_vit_tiny_model_heads_sit_near_even_attention_as_the_explainer_says():
    from apps.vit_patches import data, logic

    assert "Our tiny digits model does not show this" in " ".join(explainer.load("apps/vit_patches").split())
    for item in data.saved_gallery()[:3]:
        r = logic.inspect(item.image, "vit_digits")
        d = r.mean_distance()  # (layers, heads)
        uniform = r.uniform_distance()
        assert uniform == pytest.approx(33.09, abs=0.01)  # 8x8 grid of 8-pixel patches
        # "every head of every layer sits close to the line": within 20 % of even attention
        assert np.all(d > 0.8 * uniform) and np.all(d < 1.2 * uniform), d


def test_uniform_distance_is_the_mean_distance_of_even_attention():
    from apps.vit_patches import logic

    rows, cols, patch = 5, 7, 16
    n = rows * cols
    att = np.full((1, 1, n + 1, n + 1), 1.0 / (n + 1))  # (layers, heads, T, T), [CLS] first
    assert logic.mean_distance(att, rows, cols, patch, 1)[0, 0] == pytest.approx(
        logic.uniform_distance(rows, cols, patch))


# --- diffusion: the measured table, the slider, the look of x0 at the top -------------------------

def test_diffusion_explainer_quotes_the_manifest_and_the_slider_ends_at_the_last_measurement():
    from apps.diffusion import logic

    manifest = json.loads((models.ASSETS / "models" / "MANIFEST.json").read_text())["ddpm_digits"]
    table = manifest["quality"]["by_guidance"]
    text = explainer.load("apps/diffusion", logic.explainer_values())
    row = next(line for line in text.splitlines() if line.startswith("| read as the asked digit"))
    quoted = [float(x.strip("* %")) / 100 for x in row.split("|")[2:-1]]
    assert quoted == pytest.approx([table[k] for k in sorted(table, key=float)], abs=5e-4)
    assert logic.guidance_slider_max() == max(float(k) for k in table)
    assert logic.default_guidance() == manifest["best_guidance"]


def test_predicted_x0_is_clipped_noise_at_the_top_and_a_digit_soon_after():
    """The explainer: near t = 1000 the guess saturates to black and white; a few dozen steps later
    it is a rough digit with the final sample's layout."""
    from apps.diffusion import logic, sampling

    dm = models.load("ddpm_digits", "cpu").module
    shape = (1, dm.channels, dm.size, dm.size)
    labels = torch.tensor([3])

    def run(kind: str, steps: int):
        sched = sampling.make_scheduler(kind, dm.scheduler_config)
        x, gen = sampling.initial_noise(shape, 7)
        return sampling.denoise(dm.unet, sched, x, steps, labels=labels, guidance=logic.default_guidance(),
                                generator=gen, null_label=dm.null_label)

    top = next(run("ddpm", 1000))  # DDPM with 1000 steps starts at t = 999
    assert top.t == 999
    assert float((top.x0_pred.abs() > 0.99).float().mean()) > 0.8  # saturated: clipped noise
    steps = list(run("ddim", 20))  # t = 950, 900, ...
    final = steps[-1].x_next.clamp(-1, 1).flatten()
    early = next(s for s in steps if s.t <= 900)
    assert float((early.x0_pred.abs() > 0.99).float().mean()) < 0.5
    assert float(torch.corrcoef(torch.stack([early.x0_pred.flatten(), final]))[0, 1]) > 0.6


# --- FGSM: the two norms, explained ---------------------------------------------------------------

def test_fgsm_norms_text_matches_its_numbers():
    from apps.fgsm import logic

    r = logic.attack(logic.SAMPLES["coffee"], "efficientnet_lite0", 4, "fgsm")
    text = r.norms_text()
    n = r.original.size
    assert f"N = {n:,}" in text and f"L∞ = {r.linf:g}/255" in text and f"L2 = {r.l2:.1f}/255" in text
    rms = float(re.search(r"only ([\d.]+)/255", text).group(1))
    assert rms == pytest.approx(np.sqrt((r.delta.astype(float) ** 2).mean()), abs=0.006)
    assert rms <= r.linf  # the root mean square never exceeds the largest change


# --- GAN: the lerp middle, truncation, the edit texts --------------------------------------------------

def test_gan_explainer_and_lesson_numbers_hold_for_the_faces_gan():
    from apps.gan_latent import faces
    from apps.gan_latent import logic as gan

    text = " ".join(explainer.load("apps/gan_latent", gan.explainer_values()).split())
    assert gan.z_dim("gan_faces") == 64 and "(here 64 numbers" in text
    # "halfway ... about 8/sqrt 2 ≈ 5.7, a length that about 1 in N of the training latents had": closed form vs
    # counting, and the middle of lerp between two of the page's seeds
    share = gan.short_latent_share(64)
    z = np.random.default_rng(0).standard_normal((400_000, 64))
    assert abs((np.linalg.norm(z, axis=1) <= 32 ** 0.5).mean() - share) < 0.3 * share
    assert f"a length that {gan.explainer_values()['short_share']} of the latents" in text
    assert abs(gan.interpolate(3, 7, 9, "lerp").latent_norms[4] - 5.7) < 0.6
    # lesson step 2: at ψ = 0.5 the faces vary less (pixel spread between samples) and glasses and hats fade
    seeds = list(range(200))
    full, half = (gan.sample(seeds, psi).images for psi in (1.0, 0.5))
    spread = [np.stack(imgs[:40]).astype(float).std(0).mean() for imgs in (full, half)]
    assert spread[1] < 0.98 * spread[0], spread
    assert "fewer glasses and hats" in gan.VIEW.lesson[1].text
    rates = gan.judge(full).mean(0), gan.judge(half).mean(0)
    for name in ("glasses", "hat"):
        k = faces.ATTRIBUTES.index(name)
        assert rates[1][k] < 0.75 * rates[0][k], (name, rates)
    # the edit text: + switches on, − switches off, at the measured rates (recomputed on fresh samples)
    k = faces.ATTRIBUTES.index("glasses")
    best = gan.manifest()["edits"]["glasses"]["best"]
    said = gan.success_text("glasses")
    assert f"adding {best['strength']:g} × the direction switches it on for {best['on']:.0%}" in said
    assert f"subtracting it (−{best['strength']:g}) switches it off for {best['off']:.0%}" in said
    base = gan.judge(gan.sample(list(range(2000, 2150))).images)
    having = [s for s, row in zip(range(2000, 2150), base) if row[k] == 1]
    _, after = gan.edit(having, "glasses", -best["strength"])
    assert abs((1 - gan.judge(after.images)[:, k].mean()) - best["off"]) < 0.2
