"""FGSM/BIM/PGD: the budget holds after rounding, the attack equals plain autograd, targeted
attacks raise the target, PGD is at least as strong as FGSM, and bad parameters are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from apps.fgsm import logic
from core import api, images, models, vision
from core.errors import UserError

# Numbers from models: run again under another CPU kernel set (scripts/dev.sh).
pytestmark = pytest.mark.kernels

COFFEE = logic.SAMPLES["coffee"]


@pytest.fixture(scope="module")
def lite():
    return models.load("efficientnet_lite0", "cpu")


@pytest.mark.parametrize("attack", ["fgsm", "bim", "pgd"])
@pytest.mark.parametrize("eps", [1, 2.5, 8])
def test_budget_holds_on_the_8_bit_images(lite, attack, eps):
    r = logic.attack(COFFEE, epsilon=eps, attack=attack, steps=5)
    assert r.original.dtype == r.adversarial.dtype == np.uint8
    assert r.original.shape == r.adversarial.shape
    assert r.linf <= eps  # in 1/255 units, after rounding: 2.5 allows 2 levels
    assert r.linf == np.floor(eps)  # and the attack uses the whole budget somewhere
    payload = logic.api_payload(r, api.Clock())
    a, b = images.from_data_url(payload["original"]), images.from_data_url(payload["adversarial"])
    assert np.array_equal(a, r.original) and np.array_equal(b, r.adversarial)
    assert payload["perturbation_linf"] == np.abs(a.astype(int) - b.astype(int)).max()
    assert payload["perturbation_l2"] == pytest.approx(np.sqrt(((a.astype(float) - b) ** 2).sum()), rel=1e-4)


def test_epsilon_zero_changes_nothing(lite):
    for attack in ("fgsm", "pgd"):
        r = logic.attack(COFFEE, epsilon=0, attack=attack)
        assert np.array_equal(r.original, r.adversarial) and not r.flipped and r.linf == 0


def test_fgsm_equals_plain_autograd(lite):
    """x_adv = clip(x + eps * sign(grad_x CE(f(x), y))) computed here independently."""
    eps = 4 / 255
    rgb = images.load_image(COFFEE)
    original = vision.to_model_input(rgb, vision.input_size(lite.spec, rgb.shape[:2]))
    x = vision.to_tensor(original)  # (1, 3, h, w) in [0, 1]
    xg = x.clone().requires_grad_(True)
    logits = lite.module(xg)  # (1, 1000)
    y = logits.argmax(-1)
    (grad,) = torch.autograd.grad(F.cross_entropy(logits, y), xg)
    expected = (x + eps * grad.sign()).clamp(0, 1)  # (1, 3, h, w)
    ours, _ = logic.perturb(lite.module, x, eps, "fgsm", 1, int(y), None)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)
    r = logic.attack(COFFEE, epsilon=4, attack="fgsm")
    want = np.clip(np.rint(expected[0].permute(1, 2, 0).numpy() * 255), 0, 255).astype(np.uint8)
    assert np.array_equal(r.adversarial, want)


def test_attacking_normalised_tensors_is_the_trap_we_avoid(lite):
    """The same eps applied to (x - mean) / std moves pixels by only eps * std: a much weaker attack."""
    eps = 4 / 255
    rgb = images.load_image(COFFEE)
    x = vision.to_tensor(vision.to_model_input(rgb, (224, 224)))
    mean, std = lite.module.mean, lite.module.std  # (1, 3, 1, 1)
    z = ((x - mean) / std).requires_grad_(True)
    logits = lite.module.backbone(z)
    (g,) = torch.autograd.grad(F.cross_entropy(logits, logits.argmax(-1)), z)
    naive_pixels = ((z + eps * g.sign()) * std + mean).detach()  # what the naive attack does to the image
    naive_linf = float((naive_pixels - x).abs().max() * 255)
    ours, _ = logic.perturb(lite.module, x, eps, "fgsm", 1, int(logits.argmax()), None)
    ours_linf = float((ours - x).abs().max() * 255)
    assert ours_linf == pytest.approx(4.0, abs=1e-3)
    assert naive_linf < 1.1  # 4 * 0.229 grey levels: the "4/255" attack was really ~1/255


def test_targeted_attack_raises_the_target(lite):
    r = logic.attack(COFFEE, epsilon=4, attack="fgsm", target="goldfish")
    t = r.target["index"]
    assert r.target["label"] == "goldfish" and r.adv_probs[t] > r.orig_probs[t]
    r = logic.attack(COFFEE, epsilon=4, attack="pgd", steps=10, target="goldfish")
    assert r.adv_top5[0]["label"] == "goldfish"


def test_pgd_flips_at_least_as_often_as_fgsm_on_the_gallery(lite):
    eps = 1
    fgsm = sum(logic.attack(p, epsilon=eps, attack="fgsm").flipped for p in logic.SAMPLES.values())
    pgd = sum(logic.attack(p, epsilon=eps, attack="pgd", steps=10).flipped for p in logic.SAMPLES.values())
    assert pgd >= fgsm and pgd >= len(logic.SAMPLES) - 1


@pytest.mark.parametrize("kwargs, message", [
    ({"epsilon": -1}, "out of range"),
    ({"epsilon": 33}, "out of range"),
    ({"epsilon": float("nan")}, "out of range"),
    ({"epsilon": "lots"}, "must be a number"),
    ({"attack": "deepfool"}, "Unknown attack"),
    ({"target": "cat"}, "matches several classes"),
    ({"target": "unicorn"}, "Unknown ImageNet class"),
    ({"model": "inception"}, "Unknown model"),
])
def test_bad_parameters_are_refused_clearly(lite, kwargs, message):
    with pytest.raises(UserError, match=message):
        logic.attack(COFFEE, **kwargs)


@pytest.mark.wiring  # plumbing (shapes, hooks, caps, progress, speed), not a number from the model
@pytest.mark.parametrize("steps, ran, note", [(0, 1, "too few"), (10**6, logic.STEPS_MAX, "capped")])
def test_absurd_step_counts_are_capped_with_a_message(lite, steps, ran, note):
    r = logic.attack(COFFEE, epsilon=1, attack="bim", steps=steps)
    assert r.steps == ran and any(note in n for n in r.notices)


def test_defences_classify_each_transformed_image(lite):
    r = logic.attack(COFFEE, epsilon=2, attack="fgsm")
    rows = logic.defend(r, 50, 1.5, 3)
    assert [x["defence"] for x in rows] == ["none", "JPEG quality 50", "Gaussian blur sigma 1.5", "3-bit colour"]
    assert rows[0]["top1"] == r.adv_top5[0]["label"] and rows[0]["restored"] is False
    assert all(0 <= x["prob"] <= 1 for x in rows)
    assert np.unique(logic.bit_depth(r.adversarial, 3)).size <= 8


def test_explain_pair_reuses_gradcam(lite):
    r = logic.attack(COFFEE, epsilon=4)
    before, after = logic.explain_pair(r)
    assert before.target["index"] == r.orig_top5[0]["index"]
    assert after.target["index"] == r.adv_top5[0]["index"]


def test_robustness_curve_shape_and_cache(lite, monkeypatch):
    monkeypatch.setattr(logic, "SAMPLES", dict(list(logic.SAMPLES.items())[:2]))
    seen = []
    curve = logic.robustness_curve("efficientnet_lite0", (0, 4), steps=3, progress=lambda f, t: seen.append(f))
    assert curve["epsilon"] == [0, 4] and curve["fgsm"][0] == curve["pgd"][0] == 1.0
    assert curve["pgd"][1] <= curve["fgsm"][1] and seen and seen == sorted(seen)
    assert curve["fgsm_clean_prob"][1] < curve["fgsm_clean_prob"][0] <= 1  # the attack drains the clean label
    assert logic.robustness_curve("efficientnet_lite0", (0, 4), steps=3) is curve
