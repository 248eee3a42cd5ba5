"""Adversarial examples: FGSM, BIM and PGD (L-inf) on a real ImageNet classifier.

Pure: no gradio, no streamlit. The attack works in pixel space [0, 1]: the model
wrapper (core.loaders.ImageClassifier) normalises inside, so epsilon means what a
learner thinks it means (4/255 = four grey levels per channel), and the adversarial
image is clipped to valid pixels and rounded to uint8 before anything is reported.
Image preparation and class look-up come from core.vision; "explain the attack" calls the
Grad-CAM demo's public explain() (the one deliberate link between two demos).
"""

from __future__ import annotations

import functools
import io
import math
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

from apps.gradcam.logic import explain as gradcam_explain
from core import api, images, lane, models, share
from core.cache import ResultCache
from core.device import run_noted, run_with_fallback
from core.errors import UserError
from core.vision import SAMPLES, as_rgb, find_class, image_key, input_size, to_model_input, to_tensor, top5

DEFAULT_MODEL = "efficientnet_lite0"
MODEL_CHOICES = ["efficientnet_lite0", "resnet50", "vit_b16"]
ATTACKS = {"fgsm": "FGSM (one step)", "bim": "BIM (iterative)", "pgd": "PGD (iterative, random start)"}
EPS_MAX = 32.0  # in 1/255 units
STEPS_MAX = 100
# Log-spaced: the flips happen below one grey level, so a linear 0..16 grid showed only a cliff at 1/255.
CURVE_EPS = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0, 2.0, 4.0, 8.0)


class AttackInputError(UserError):
    """Bad epsilon, attack, steps or target: the message says what would work."""


@dataclass
class AttackResult:
    model: str
    model_label: str
    device: str
    offline: bool
    attack: str
    epsilon: float  # 1/255 units, as asked
    steps: int
    target: dict | None  # {index, label} for a targeted attack
    original: np.ndarray  # (h, w, 3) uint8: exactly the model input before normalisation
    adversarial: np.ndarray  # (h, w, 3) uint8, |adversarial - original| <= epsilon everywhere
    orig_top5: list[dict]
    adv_top5: list[dict]
    orig_probs: np.ndarray  # (classes,) on the uint8 original
    adv_probs: np.ndarray  # (classes,) on the uint8 adversarial
    float_flipped: bool  # top-1 changed before rounding to uint8
    notices: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def flipped(self) -> bool:
        return self.orig_top5[0]["index"] != self.adv_top5[0]["index"]

    @property
    def delta(self) -> np.ndarray:
        return self.adversarial.astype(np.int16) - self.original.astype(np.int16)  # (h, w, 3) in 1/255 units

    @property
    def linf(self) -> float:
        return float(np.abs(self.delta).max())

    @property
    def l2(self) -> float:
        return float(np.sqrt((self.delta.astype(np.float64) ** 2).sum()))

    @property
    def n_values(self) -> int:
        return int(self.delta.size)  # H * W * 3: every colour value of every pixel

    def norms_text(self) -> str:
        """The two sizes of the change, in words a learner can check: L-inf is the budget, L2 is the length
        of the whole change vector and grows with the number of values (about eps * sqrt(N) for FGSM)."""
        changed = float((self.delta != 0).mean())
        return (f"Measured on the 8-bit images: L∞ = {self.linf:g}/255 (no value moved more than that: the budget ε, "
                f"after rounding to whole grey levels). L2 = {self.l2:.1f}/255 is the length of the whole change over "
                f"all N = {self.n_values:,} colour values ({changed:.0%} of them moved); it grows like ε·√N with the "
                f"image size, so per value it is only {self.l2 / np.sqrt(self.n_values):.2f}/255 (root mean square).")

    def amplified(self) -> tuple[np.ndarray, float]:
        """The perturbation made visible: 0.5 grey + delta * gain, gain chosen so the largest change spans it."""
        gain = 127.0 / max(self.linf, 1.0)
        return np.clip(127.5 + self.delta * gain, 0, 255).round().astype(np.uint8), gain


def check_epsilon(epsilon) -> float:
    try:
        eps = float(epsilon)
    except (TypeError, ValueError) as exc:
        raise AttackInputError(f"Epsilon must be a number between 0 and {EPS_MAX:g} (in 1/255 units).") from exc
    if not math.isfinite(eps) or not 0 <= eps <= EPS_MAX:
        raise AttackInputError(f"Epsilon {epsilon!r} is out of range: use 0 to {EPS_MAX:g} (in 1/255 units).")
    return eps


def check_steps(attack: str, steps) -> tuple[int, str]:
    """Steps clamped to 1..STEPS_MAX, with a message when clamped (FGSM always takes one)."""
    if attack == "fgsm":
        return 1, ""
    try:
        n = int(steps)
    except (TypeError, ValueError, OverflowError) as exc:
        raise AttackInputError(f"Steps must be a whole number from 1 to {STEPS_MAX}.") from exc
    if n < 1:
        return 1, f"{steps} steps is too few; ran 1 step."
    if n > STEPS_MAX:
        return STEPS_MAX, f"{steps} steps capped to {STEPS_MAX} (more rarely helps at this epsilon)."
    return n, ""


def perturb(module, x, eps: float, attack: str, steps: int, label: int | None, target: int | None, seed: int = 0):
    """The attack itself, on a (1, 3, h, w) tensor in [0, 1]. eps in [0, 1] units.

    Untargeted steps ascend the loss of `label` (None: the clean top-1, read from the first
    forward pass); targeted steps descend the loss of `target`. BIM/PGD project back into
    the eps-ball and [0, 1] after every step; PGD starts from a random point in the ball.
    Returns (x_adv (1, 3, h, w), clean logits (1, classes) or None when no pass saw the clean x).
    """
    import torch
    import torch.nn.functional as F

    sign = -1.0 if target is not None else 1.0
    alpha = eps if attack == "fgsm" else max(eps / 4, 2.5 * eps / steps)  # Madry et al.'s step rule
    x_adv = x.clone()
    if attack == "pgd" and eps > 0:
        g = torch.Generator(device="cpu").manual_seed(seed)
        noise = (torch.rand(x.shape, generator=g) * 2 - 1).to(x.device) * eps  # (1, 3, h, w) in [-eps, eps]
        x_adv = (x + noise).clamp(0, 1)
    clean_logits = None
    if label is None and target is None and attack == "pgd":
        with torch.no_grad():
            clean_logits = module(x)  # (1, classes): PGD's first pass is not at the clean image
        label = int(clean_logits.argmax(-1))
    for step in range(steps):
        x_adv.requires_grad_(True)
        logits = module(x_adv)  # (1, classes)
        if step == 0 and attack != "pgd":
            clean_logits = logits.detach()  # the first FGSM/BIM pass is at the clean image: reuse it
            if label is None:
                label = int(clean_logits.argmax(-1))
        y = torch.tensor([target if target is not None else label], device=x.device)
        loss = F.cross_entropy(logits, y)
        (grad,) = torch.autograd.grad(loss, x_adv)  # (1, 3, h, w)
        with torch.no_grad():
            x_adv = x_adv + sign * alpha * grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)  # project: eps-ball, valid pixels
    return x_adv.detach(), clean_logits


def quantize(x_adv, original: np.ndarray, eps: float) -> np.ndarray:
    """Round to uint8 without leaving the eps-ball: a non-integer epsilon (say 2.5) allows 2 levels, not 3."""
    adv = np.rint(x_adv[0].permute(1, 2, 0).cpu().numpy() * 255)  # (h, w, 3)
    budget = math.floor(eps + 1e-6)
    lo, hi = original.astype(np.float64) - budget, original.astype(np.float64) + budget
    return np.clip(adv, np.maximum(lo, 0), np.minimum(hi, 255)).astype(np.uint8)


def probs_of(module, batch_u8: list[np.ndarray], device: str) -> np.ndarray:
    """Softmax of uint8 images (same size) as one batch: (N, classes)."""
    import torch

    x = torch.from_numpy(np.stack(batch_u8)).permute(0, 3, 1, 2).float().div(255).to(device)  # (N, 3, h, w)
    with torch.no_grad():
        return module(x).softmax(-1).cpu().numpy()


_cache = ResultCache(32, "fgsm")  # results by input and settings: re-asking costs nothing


def attack(image, model: str = DEFAULT_MODEL, epsilon=4.0, attack: str = "fgsm", steps=10,
           target: str | int | None = None, device: str | None = None, seed: int = 0) -> AttackResult:
    """Attack one image. epsilon in 1/255 units (0..32). Results are cached per input and settings."""
    attack_name = (attack or "fgsm").strip().lower()
    if attack_name not in ATTACKS:
        raise AttackInputError(f"Unknown attack {attack!r}. Choose one of: {', '.join(ATTACKS)}.")
    eps = check_epsilon(epsilon)
    n_steps, steps_note = check_steps(attack_name, steps)
    spec = models.page_model(model, DEFAULT_MODEL, MODEL_CHOICES, "an image classifier", AttackInputError)
    rgb = as_rgb(image)
    if isinstance(target, str) and not target.strip():
        target = None
    key = (image_key(rgb), spec.name, eps, attack_name, n_steps, str(target), device or "", seed)

    def compute() -> AttackResult:
        return run_noted(lambda dev: _attack(rgb, spec.name, eps, attack_name, n_steps, target, dev, seed), device,
                         (steps_note,))

    return _cache.get_or_compute(key, compute)


def _attack(rgb, model, eps, attack_name, steps, target, device, seed) -> AttackResult:
    t0 = time.perf_counter()
    loaded = models.load(model, device)
    names = loaded.labels
    original = to_model_input(rgb, input_size(loaded.spec, rgb.shape[:2]))  # (h, w, 3) uint8
    x = to_tensor(original, loaded.device)  # (1, 3, h, w) in [0, 1], exactly original / 255
    target_idx = None
    if target is not None:
        found = find_class(target, names)
        if isinstance(found, list):
            raise AttackInputError(f"{target!r} matches several classes ("
                                   + ", ".join(names[i] for i in found[:6]) + "); be more specific.")
        target_idx = found
    with loaded.lock:
        import torch

        # One forward+backward for FGSM; its forward pass is also the clean prediction.
        x_adv, clean_logits = perturb(loaded.module, x, eps / 255, attack_name, steps, None, target_idx, seed)
        adversarial = quantize(x_adv, original, eps)
        with torch.no_grad():
            if clean_logits is None:  # targeted PGD never looked at the clean image
                clean_logits = loaded.module(x)
            p_orig = clean_logits.softmax(-1)[0].cpu().numpy()  # x is exactly original / 255
            p_adv = probs_of(loaded.module, [adversarial], loaded.device)[0]
            label = int(p_orig.argmax())
            x_q = to_tensor(adversarial, loaded.device)  # (1, 3, h, w)
            # Did rounding to 8 bits change the image? Only then is the float result worth a forward pass.
            float_top1 = int(p_adv.argmax()) if torch.allclose(x_q, x_adv, atol=1e-6) \
                else int(loaded.module(x_adv).argmax(-1))
    result = AttackResult(
        model=loaded.spec.name, model_label=loaded.describe(), device=loaded.device, offline=loaded.offline,
        attack=attack_name, epsilon=eps, steps=steps,
        target=None if target_idx is None else {"index": target_idx, "label": names[target_idx]},
        original=original, adversarial=adversarial,
        orig_top5=top5(p_orig, names), adv_top5=top5(p_adv, names),
        orig_probs=p_orig, adv_probs=p_adv, float_flipped=float_top1 != label,
    )
    if result.float_flipped and not result.flipped:
        result.notices.append("The attack flipped the label in floating point, but rounding to 8-bit pixels undid it.")
    result.notices.append(loaded.fallback_notice)
    result.elapsed_ms = (time.perf_counter() - t0) * 1000
    return result


# --- defences: transform the adversarial image, classify again ---------------------------------

def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(float(sigma))))


def bit_depth(rgb: np.ndarray, bits: int) -> np.ndarray:
    """Keep `bits` bits per channel (values snapped to the middle of their bin's range)."""
    step = 2 ** (8 - int(bits))
    return (rgb // step * step + step // 2).clip(0, 255).astype(np.uint8) if bits < 8 else rgb


def defend(result: AttackResult, jpeg_quality: int = 75, blur_sigma: float = 1.0, bits: int = 4) -> list[dict]:
    """Classify the adversarial image after each input transformation: does the clean label come back?"""
    return lane.run(lambda: _defend(result, jpeg_quality, blur_sigma, bits), "defend")


def _defend(result: AttackResult, jpeg_quality: int, blur_sigma: float, bits: int) -> list[dict]:
    loaded = models.load(result.model, result.device)
    transforms = [("none", result.adversarial),
                  (f"JPEG quality {int(jpeg_quality)}", jpeg(result.adversarial, jpeg_quality)),
                  (f"Gaussian blur sigma {float(blur_sigma):g}", blur(result.adversarial, blur_sigma)),
                  (f"{int(bits)}-bit colour", bit_depth(result.adversarial, bits))]
    with loaded.lock:
        probs = probs_of(loaded.module, [t[1] for t in transforms], loaded.device)  # (4, classes)
    clean = result.orig_top5[0]
    rows = []
    for (name, _), p in zip(transforms, probs):
        top = int(p.argmax())
        rows.append({"defence": name, "top1": loaded.labels[top], "prob": float(p[top]),
                     "clean_label_prob": float(p[clean["index"]]), "restored": top == clean["index"]})
    return rows


# --- attack then explain ----------------------------------------------------------------------

def explain_pair(result: AttackResult) -> tuple:
    """Grad-CAM results (CamResult) of each image's own top class, before and after the attack,
    from the Grad-CAM demo's public explain()."""
    before = gradcam_explain(result.original, result.model, "gradcam", device=result.device)
    after = gradcam_explain(result.adversarial, result.model, "gradcam", device=result.device)
    return before, after


# --- robustness curve over the gallery --------------------------------------------------------

_curves: dict[tuple, dict] = {}


def robustness_curve(model: str = DEFAULT_MODEL, eps_values=CURVE_EPS, steps: int = 10, progress=None,
                     device: str | None = None) -> dict:
    """Share of gallery images whose top-1 survives FGSM and PGD at each epsilon, and the mean
    probability left on the clean label (smoother: it shows the slide before the flip). Cached per model.

    Measured on the floating-point attack, not the 8-bit image: a budget below one grey level
    (eps < 1/255) cannot be stored in a PNG, yet it is where most of the curve happens.
    progress: optional callable(fraction, text) for a UI progress bar.
    """
    spec = models.page_model(model, DEFAULT_MODEL, MODEL_CHOICES, "an image classifier", AttackInputError)
    key = (spec.name, tuple(eps_values), steps, device or "")
    if key in _curves:
        return _curves[key]
    samples = list(SAMPLES.values())
    total = len(samples) * len(eps_values) * 2
    kept = {a: [0] * len(eps_values) for a in ("fgsm", "pgd")}
    clean_prob = {a: [0.0] * len(eps_values) for a in ("fgsm", "pgd")}
    clean_conf, ran_label, notices = 0.0, spec.name, []
    done = 0
    for path in samples:
        rgb = images.load_image(path)
        for i, eps in enumerate(eps_values):
            for name in ("fgsm", "pgd"):
                if progress:
                    progress(done / total, f"{name.upper()} at {eps:g}/255 on {path.stem}")
                # One lane job per point: a click from another learner waits for one attack, not the curve.
                point = functools.partial(_curve_point, rgb, spec.name, eps, name, steps)
                ran = run_with_fallback(lambda dev, point=point: point(dev), device)
                survived, p_clean, p_before, ran_label, notice = ran.value
                notices = api.unique([*notices, ran.notice, notice])
                kept[name][i] += int(survived)
                clean_prob[name][i] += p_clean
                if i == 0 and name == "fgsm":
                    clean_conf += p_before
                done += 1
    n = len(samples)
    curve = {"epsilon": list(eps_values), "n_images": n, "steps": steps, "clean_prob": clean_conf / n,
             "model_label": ran_label, "notices": notices,
             "fgsm": [k / n for k in kept["fgsm"]], "pgd": [k / n for k in kept["pgd"]],
             "fgsm_clean_prob": [p / n for p in clean_prob["fgsm"]],
             "pgd_clean_prob": [p / n for p in clean_prob["pgd"]]}
    _curves[key] = curve
    return curve


def _curve_point(rgb: np.ndarray, model: str, eps: float, attack_name: str, steps: int, device: str):
    """(top-1 survived, P(clean label) after, P(clean label) before, model label, stand-in notice) for one
    image, in floating point."""
    import torch

    loaded = models.load(model, device)
    x = to_tensor(to_model_input(rgb, input_size(loaded.spec, rgb.shape[:2])), loaded.device)  # (1, 3, h, w)
    with loaded.lock:
        with torch.no_grad():
            p_before = loaded.module(x).softmax(-1)[0]  # (classes,)
        label = int(p_before.argmax())
        x_adv, _ = perturb(loaded.module, x, eps / 255, attack_name, steps if attack_name != "fgsm" else 1, label, None)
        with torch.no_grad():
            p_after = loaded.module(x_adv).softmax(-1)[0]  # (classes,)
    return (int(p_after.argmax()) == label, float(p_after[label]), float(p_before[label]), loaded.describe(),
            loaded.fallback_notice)


def curve_figure(curve: dict):
    """The robustness curve on a log ε axis (both hubs draw this figure)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    styles = {"fgsm": ("FGSM", "#0072B2"), "pgd": (f"PGD-{curve['steps']}", "#D55E00")}  # colour-blind safe
    for name, (label, colour) in styles.items():
        fig.add_trace(go.Scatter(x=curve["epsilon"], y=curve[name], mode="lines+markers", name=f"{label}: top-1 kept",
                                 line={"color": colour, "width": 3}))
        fig.add_trace(go.Scatter(x=curve["epsilon"], y=curve[f"{name}_clean_prob"], mode="lines+markers",
                                 name=f"{label}: P(clean label)", line={"color": colour, "dash": "dot", "width": 3}))
    ticks = list(curve["epsilon"])
    fig.update_layout(title=f"Robustness vs ε over {curve['n_images']} gallery images",
                      xaxis={"title": "ε (in 1/255 units, log scale)", "type": "log", "tickvals": ticks,
                             "ticktext": [f"{e:g}" for e in ticks]},
                      yaxis={"title": "share / probability", "range": [0, 1.02]}, height=380,
                      legend={"orientation": "h", "y": -0.25}, margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return fig


def curve_text(curve: dict) -> str:
    half = next((e for e, k in zip(curve["epsilon"], curve["fgsm"]) if k <= 0.5), None)
    where = (f"FGSM already flips half of them at ε = {half:g}/255" if half is not None
             else "FGSM flips fewer than half of them even at the largest ε")
    return (f"**Model:** {curve['model_label']}. "
            + "".join(f"⚠️ {n} " for n in curve["notices"])
            + f"Over the {curve['n_images']} gallery images (clean: the model gives its top-1 label "
            f"{curve['clean_prob']:.0%} on average). Solid: the share whose top-1 survives; dotted: the probability "
            f"left on the clean label. {where}. Measured on the floating-point images: ε below 1/255 is smaller "
            "than one grey level and would round away in a PNG.")


# --- export and API ---------------------------------------------------------------------------

def compare_png(result: AttackResult) -> bytes:
    """Original | adversarial | amplified perturbation, captioned, as one slide-sized PNG."""
    amp, gain = result.amplified()
    panels = [(f"original: {result.orig_top5[0]['label']} {result.orig_top5[0]['prob']:.0%}", result.original),
              (f"adversarial: {result.adv_top5[0]['label']} {result.adv_top5[0]['prob']:.0%}", result.adversarial),
              (f"perturbation x{gain:.0f} (eps {result.epsilon:g}/255)", amp)]
    return images.to_png_bytes(images.captioned_row(panels))


def api_payload(result: AttackResult, clock: api.Clock) -> dict:
    """The JSON the /fgsm endpoint returns (documented in the README): the common header, then these."""
    return api.respond(result, {
        "attack": result.attack,
        "epsilon": result.epsilon,
        "steps": result.steps,
        "target": result.target,
        "original": images.to_data_url(result.original),
        "adversarial": images.to_data_url(result.adversarial),
        "perturbation_linf": result.linf,
        "perturbation_l2": round(result.l2, 4),
        "orig_top5": result.orig_top5,
        "adv_top5": result.adv_top5,
        "flipped": result.flipped,
    }, clock, result.notices)


def warmup() -> None:
    """The page's opening view (the attack and Grad-CAM before and after), computed once at start."""
    d = VIEW.defaults()
    explain_pair(attack(SAMPLES[d["image"]], d["model"], d["epsilon"], d["attack"], d["steps"]))


def exercise(image) -> None:
    """Every kind of model work this page does, once (tests/unit/test_lane.py runs it for every demo)."""
    a = attack(image, epsilon=2)
    defend(a)
    explain_pair(a)


# --- the page's settings as a link, and its lesson ---------------------------------------------------

VIEW = share.View("fgsm", (
    share.choice("image", "coffee", SAMPLES),
    share.choice("model", DEFAULT_MODEL, MODEL_CHOICES),
    share.choice("attack", "fgsm", ATTACKS),
    share.number("epsilon", 4.0, 0.0, EPS_MAX),
    share.number("steps", 10, 1, STEPS_MAX, integer=True),
    share.text("target", "", 80),
), lesson=(
    share.Beat("Half a grey level does nothing",
               "ε = 0.5/255 rounds away when the image is saved as 8-bit: the picture and the answer stay the "
               "same.", {"epsilon": 0.5}),
    share.Beat("ε = 1/255 flips it",
               "Every pixel moves by at most one grey level, in the direction that lowers the espresso score. "
               "The label flips, and the Grad-CAM maps below show the evidence moving.", {"epsilon": 1.0}),
    share.Beat("More steps, more confidence",
               "PGD repeats small FGSM steps and stays inside the same ε box. Same budget, but the wrong answer "
               "now comes with near-certainty.", {"epsilon": 1.0, "attack": "pgd"}),
    share.Beat("Choose the wrong answer",
               "A targeted attack descends towards a class of our choosing instead of just away from the right "
               "one. It needs a slightly bigger ε.", {"epsilon": 2.0, "attack": "pgd", "target": "goldfish"}),
    share.Beat("Not just this photo",
               "The cat falls for the same one-grey-level step. Try the defences below: blur or JPEG often give "
               "the label back, at a price in accuracy.", {"image": "cat", "epsilon": 1.0}),
), note_when_missing={"image": share.UPLOAD_NOTE})


def share_values(result: AttackResult, image_name: str | None, asked_model: str, target=None) -> dict:
    """The link settings of a computed attack (the API's share_url)."""
    return {"image": image_name, "model": asked_model, "attack": result.attack, "epsilon": float(result.epsilon),
            "steps": int(result.steps), "target": "" if target in (None, "") else str(target)}


def hand_over(result: AttackResult) -> str:
    """Keep the adversarial image where another page can open it by link (Grad-CAM), and return its key."""
    return share.SHELF.put(result.adversarial, "adv")


def class_question(values: dict) -> dict:
    """The live-class question of an FGSM view: which class the model sees after this view's attack. The options
    are the clean image's top classes and "something else"; the answer is the attacked image's top-1."""
    name = values.get("image")
    if not name:
        raise AttackInputError("This view's image is an upload, which a class cannot share: pick a gallery image.")
    r = attack(SAMPLES[name], values["model"], values["epsilon"], values["attack"], values["steps"],
               values.get("target") or None)
    options = list(dict.fromkeys(c["label"] for c in r.orig_top5))[:4]  # ImageNet names two classes "crane"
    after = r.adv_top5[0]["label"]
    answer = options.index(after) if after in options else len(options)
    return {"question": f"Which class will the model see after {ATTACKS[r.attack].split(' (')[0]} with "
                        f"ε = {r.epsilon:g}/255?",
            "options": options + ["Something else"], "answer": answer,
            "explain": f"After the attack the model says '{after}' ({r.adv_top5[0]['prob']:.0%}); before it said "
                       f"'{r.orig_top5[0]['label']}' ({r.orig_top5[0]['prob']:.0%}). {r.model}."}
