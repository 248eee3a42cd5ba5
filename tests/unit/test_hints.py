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


def test_diffusion_lesson_first_step_is_a_speckled_outline_of_the_final_digit():
    """Lesson step 3 (before: "a smooth blur, the average of every digit", while the page showed a speckled 3).
    At DDIM's first step of 50 the guess at x0 is partly saturated (speckle), not clipped noise throughout, and
    already lines up with the final sample, which the digit reader reads as the asked label; over five seeds."""
    from apps.diffusion import digits, logic, sampling

    text = logic.VIEW.lesson[2].text
    assert "speckled outline of the final digit" in text and "smooth blur" not in text
    values = logic.VIEW.beat_values(2)
    dm = models.load("ddpm_digits", "cpu").module
    shape = (1, dm.channels, dm.size, dm.size)
    label = int(values["label"])
    for seed in range(5):
        sched = sampling.make_scheduler(values["scheduler"], dm.scheduler_config)
        x, gen = sampling.initial_noise(shape, seed)
        steps = list(sampling.denoise(dm.unet, sched, x, values["steps"], labels=torch.tensor([label]),
                                      guidance=values["guidance"], generator=gen, null_label=dm.null_label))
        first, final = steps[values["step"]].x0_pred, steps[-1].x_next.clamp(-1, 1)
        saturated = float((first.abs() > 0.99).float().mean())
        assert 0.1 < saturated < 0.6, (seed, saturated)  # speckled, not clipped noise (0.8+ at t = 999)
        assert float(torch.corrcoef(torch.stack([first.flatten(), final.flatten()]))[0, 1]) > 0.5, seed
        assert int(digits.read_as(((final + 1) / 2).reshape(-1, 16, 16).numpy())[0]) == label, seed


def _lesson_run(values: dict, seed: int | None = None) -> list:
    from apps.diffusion import sampling

    dm = models.load("ddpm_digits", "cpu").module
    sched = sampling.make_scheduler(values["scheduler"], dm.scheduler_config)
    x, gen = sampling.initial_noise((1, dm.channels, dm.size, dm.size), values["seed"] if seed is None else seed)
    label = None if values["label"] in (None, "none") else torch.tensor([int(values["label"])])
    return list(sampling.denoise(dm.unet, sched, x, values["steps"], labels=label, guidance=values["guidance"],
                                 generator=gen, null_label=dm.null_label, eta=values["eta"]))


def test_diffusion_lesson_steps_2_4_5_6_hold_for_the_digits_model():
    """Step 2: at step 10 x_t is still mostly noise while the guess at x0 is already the digit; step 4: ten DDIM
    steps still end on the asked digit; step 5: without a label the seed decides the digit; step 6: DDPM's path
    differs from DDIM's from the same seed (fresh noise each step)."""
    from apps.diffusion import digits, logic

    def read(x) -> int:
        return int(digits.read_as(((x.clamp(-1, 1) + 1) / 2).reshape(-1, 16, 16).numpy())[0])

    def corr(a, b) -> float:
        return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])

    v = logic.VIEW.beat_values(1)
    run = _lesson_run(v)
    final = run[-1].x_next
    assert corr(run[v["step"]].x0_pred, final) > 0.8 > corr(run[v["step"]].x_t, final) + 0.3
    v = logic.VIEW.beat_values(3)
    assert v["steps"] == 10 and read(_lesson_run(v)[-1].x_next) == int(v["label"])
    v = logic.VIEW.beat_values(4)
    assert v["label"] in (None, "none") and v["guidance"] == 0
    assert len({read(_lesson_run(v, seed)[-1].x_next) for seed in range(10)}) >= 4
    v = logic.VIEW.beat_values(5)
    ddpm = _lesson_run(v)[-1].x_next
    ddim = _lesson_run({**v, "scheduler": "ddim", "steps": 50})[-1].x_next
    assert float((ddpm - ddim).abs().mean()) > 0.1 and read(ddpm) == int(v["label"])


def test_diffusion_ddim_update_is_the_one_the_explainer_writes():
    """x_s = sqrt(ab_s) x0 + sqrt(1 - ab_s - sigma^2) eps + sigma z, sigma from eta: diffusers' DDIM step, checked
    for eta = 0 and eta = 1 at a middle step; and the CFG note on Ho & Salimans' w."""
    from apps.diffusion import logic, sampling

    dm = models.load("ddpm_digits", "cpu").module
    text = " ".join(explainer.load("apps/diffusion", logic.explainer_values()).split())
    assert "non-Markovian (each $x_t$ depends on $x_0$" in text and "still a Markov chain" in text
    assert "their $w$ is ours minus 1" in text
    g = torch.Generator().manual_seed(0)
    x, eps, z = (torch.randn(1, dm.channels, dm.size, dm.size, generator=g) for _ in range(3))
    for eta in (0.0, 1.0):
        sched = sampling.make_scheduler("ddim", dm.scheduler_config)
        sched.set_timesteps(50)
        t = int(sched.timesteps[20])
        s = t - sched.config.num_train_timesteps // 50
        ab_t, ab_s = (float(sched.alphas_cumprod[k]) for k in (t, s))
        x0 = (x - (1 - ab_t) ** 0.5 * eps) / ab_t ** 0.5
        if sched.config.clip_sample:
            x0 = x0.clamp(-sched.config.clip_sample_range, sched.config.clip_sample_range)
            eps = (x - ab_t ** 0.5 * x0) / (1 - ab_t) ** 0.5  # diffusers re-derives eps from the clipped x0
        sigma = eta * ((1 - ab_s) / (1 - ab_t)) ** 0.5 * (1 - ab_t / ab_s) ** 0.5
        ours = ab_s ** 0.5 * x0 + (1 - ab_s - sigma ** 2) ** 0.5 * eps + sigma * z
        theirs = sched.step(eps, t, x, eta=eta, variance_noise=z).prev_sample
        assert torch.allclose(ours, theirs, atol=1e-5), eta


def test_diffusion_guidance_note_counts_the_lead_in_samples():
    from apps.diffusion import logic

    table = logic.measured_guidance()
    note = logic.explainer_values()["guidance_note"]
    (g1, a1), (g2, a2) = sorted(table.items(), key=lambda kv: -kv[1])[:2]
    n = logic.manifest()["quality"]["sampler"]["per_digit"] * 10
    assert f"ahead of {g2:g} by {round((a1 - a2) * n)} samples in {n}" in note or f"by {round((a1 - a2) * n)}" in note
    assert g1 == logic.default_guidance()
    assert logic.guidance_note({1.0: 0.5, 2.0: 0.9}, 10) == "The default, 2, is ahead of the next best, 1, by 40 " \
                                                           "samples in 100."


# --- Grad-CAM: grids, methods that coincide ---------------------------------------------------------------

def test_gradcam_grid_sizes_and_the_methods_that_coincide_at_the_last_layer():
    """The explainer's "6×9 for the gallery photos" and lesson 4's "12×18 instead of 6×9" (before: "7×7" and
    "14×14"), read off the layers' activations; and Grad-CAM, HiResCAM and XGrad-CAM give one map at the last
    layer (global pooling then one linear layer) and differ at blocks.4, as the explainer now says."""
    from apps.gradcam import logic
    from core import vision

    text = " ".join(explainer.load("apps/gradcam").split())
    assert "6×9 for the gallery photos" in text and "192×288" in text
    assert "12×18 instead of the last layer's 6×9" in logic.VIEW.lesson[3].text
    cat = vision.SAMPLES["cat"]
    r = logic.explain(cat)
    assert r.model_input.shape[:2] == (192, 288)
    net = models.load("efficientnet_lite0", "cpu").module
    shapes = {}
    hooks = [dict(net.named_modules())[f"backbone.{name}"].register_forward_hook(
        lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[-2:]))) for name in ("bn2", "blocks.4")]
    try:
        x = torch.from_numpy(r.model_input.copy()).permute(2, 0, 1)[None].float() / 255  # (1, 3, 192, 288)
        with torch.no_grad():
            net(x)
    finally:
        for h in hooks:
            h.remove()
    assert shapes == {"bn2": (6, 9), "blocks.4": (12, 18)}
    last = [logic.explain(cat, method=m).cam for m in ("gradcam", "hirescam", "xgradcam")]
    assert max(float(np.abs(a - last[0]).max()) for a in last[1:]) < 1e-3
    early = [logic.explain(cat, method=m, layer="blocks.4").cam for m in ("gradcam", "hirescam", "xgradcam")]
    assert min(float(np.abs(a - early[0]).max()) for a in early[1:]) > 0.05


# --- the smaller claims: ViT patch sizes, layer 0's input, ConSE's classes, SAM's embedding order -------------

def test_vit_patch_is_a_fifth_to_two_fifths_of_a_digit():
    from apps.vit_patches import data

    text = " ".join(explainer.load("apps/vit_patches").split())
    assert "pasted at 20 to 40 pixels" in text and "three to six patches across" in text
    _, _, boxes = data.batch(np.random.default_rng(0), 400)
    sizes = boxes[:, 2] - boxes[:, 0]  # (n,) the pasted digit's side, pixels
    assert sizes.min() == 20 and sizes.max() == 40
    spans = (boxes[:, 2] - 1) // 8 - boxes[:, 0] // 8 + 1  # patch columns a digit touches
    assert spans.min() == 3 and spans.max() == 6
    assert 8 / sizes.max() == 0.2 and 8 / sizes.min() == 0.4


def test_attention_layer_0_sees_positions_already():
    from apps.attention import logic

    assert "position vectors added" in logic.VIEW.lesson[[b.title for b in logic.VIEW.lesson].index(
        "The first layer")].text
    module = models.load("minilm", "cpu").module
    found = [n for n, _ in module.named_modules() if n.endswith("embeddings.position_embeddings")]
    assert found  # BERT-style: token + position (+ type) embeddings are summed before layer 0


def test_clip_lesson_says_the_stand_in_knows_these_cat_words_by_name():
    from apps.clip_zero_shot import logic

    beat = next(b for b in logic.VIEW.lesson if b.title == "Finer labels")
    assert "tabby, tiger and lion are on it" in beat.text and "never trained to tell apart" not in beat.text
    names = {x.lower() for x in models.labels("imagenet")}  # the classes ConSE's classifier was trained on
    assert {"tabby", "tiger", "lion"} <= names


def test_sam_embeddings_are_written_channels_first_everywhere():
    from apps.sam import logic

    values = logic.explainer_values()
    text = " ".join(explainer.load("apps/sam", values).split())
    assert "256 × 64 × 64** (channels × height × width" in text
    r = logic.segment(logic.scene(3), [(100, 100, 1)], None, "sam_tiny", scene=True)
    c, h, w = r.embedding_shape
    assert values["tiny_embedding"].startswith(f"{c} × {h} × {w} ") and "channels × height × width" in text


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
