"""Adversarial FGSM page for Gradio. Runnable alone: python -m apps.fgsm.ui_gradio"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from gradio import FileData

from apps import registry
from apps.fgsm import logic
from apps.gradio_common import Outputs, ShareBar, explainer, export_file, image_picker, on_user_set, warning
from core import api, models, share, vision
from core.errors import UserError

HERE = Path(__file__).parent
MODEL_LABELS = [(models.MODELS[m].title, m) for m in logic.MODEL_CHOICES]
ATTACK_LABELS = [(title, key) for key, title in logic.ATTACKS.items()]


def fgsm_api(image: FileData, model: str = logic.DEFAULT_MODEL, epsilon: float = 4.0, attack: str = "fgsm",
             steps: int = 10, target: str | int | None = None) -> dict:
    """Attack one image. epsilon is in 1/255 units (0-32). See the README for the returned fields."""
    clock = api.Clock()
    try:
        rgb = vision.as_rgb(image)
        clock.lap("decode")
        result = logic.attack(rgb, model or logic.DEFAULT_MODEL, epsilon, attack or "fgsm", steps, target)
        clock.lap("model")
    except UserError as exc:
        raise gr.Error(str(exc)) from exc
    values = logic.share_values(result, share.sample_name(rgb), model or logic.DEFAULT_MODEL, target)
    return {**logic.api_payload(result, clock), "share_url": logic.VIEW.url(values)}


def _labels(top5: list[dict]) -> dict:
    return {f"{t['label']} ({t['index']})": t["prob"] for t in top5}


def _summary(r: logic.AttackResult) -> str:
    o, a = r.orig_top5[0], r.adv_top5[0]
    verdict = "**fooled**" if r.flipped else "**not fooled**"
    lines = [f"**Model:** {r.model_label}",
             f"{logic.ATTACKS[r.attack]} at ε = {r.epsilon:g}/255 ({r.steps} step{'s' if r.steps > 1 else ''}): "
             f"the model is {verdict}: *{o['label']}* ({o['prob']:.1%}) → *{a['label']}* ({a['prob']:.1%}).",
             r.norms_text()]
    if r.target:
        t = r.target["index"]
        lines.append(f"Target *{r.target['label']}*: {r.orig_probs[t]:.2%} → **{r.adv_probs[t]:.2%}**.")
    lines += [f"⚠️ {n}" for n in r.notices]
    return "\n\n".join(lines)


def run(src, model, attack, epsilon, steps, target, progress=gr.Progress()) -> dict:
    if not src:
        return {"status": "Pick a sample image or upload one to start.",
                **dict.fromkeys(["orig", "adv", "amp", "top_before", "top_after", "cam_before", "cam_after", "export"])}
    try:
        progress(0, desc="Attacking")
        r = logic.attack(src, model, epsilon, attack, steps, target or None)
        progress(0.6, desc="Grad-CAM before and after")
        before, after = logic.explain_pair(r)
    except UserError as exc:
        return warning(str(exc))
    amp, gain = r.amplified()
    key = vision.image_key(r.original)[:12]
    target = r.target["index"] if r.target else "u"
    export = export_file(f"fgsm-{key}-{r.model}-{r.attack}-{r.epsilon:g}-{r.steps}-{target}.png",
                         lambda: logic.compare_png(r))
    return {
        "status": _summary(r),
        "orig": r.original,
        "adv": r.adversarial,
        "amp": gr.update(value=amp, label=f"Perturbation, amplified ×{gain:.0f} (grey = unchanged)"),
        "top_before": _labels(r.orig_top5),
        "top_after": _labels(r.adv_top5),
        "cam_before": gr.update(value=before.overlay(0.5), label=f"Grad-CAM before: {before.target['label']}"),
        "cam_after": gr.update(value=after.overlay(0.5), label=f"Grad-CAM after: {after.target['label']}"),
        "export": export,
    }


def run_defences(src, model, attack, epsilon, steps, target, quality, sigma, bits):
    if not src:
        return "Run an attack first."
    try:
        r = logic.attack(src, model, epsilon, attack, steps, target or None)  # cached: no recompute
        rows = logic.defend(r, quality, sigma, bits)
    except UserError as exc:
        return f"⚠️ {exc}"
    clean = r.orig_top5[0]["label"]
    table = ["| defence | top-1 | P(top-1) | P(clean label) | label back? |", "|---|---|---|---|---|"]
    table += [f"| {x['defence']} | {x['top1']} | {x['prob']:.1%} | {x['clean_label_prob']:.1%} | "
              f"{'✅ yes' if x['restored'] else '❌ no'} |" for x in rows]
    return f"Clean label: *{clean}*\n\n" + "\n".join(table)


def run_curve(model, progress=gr.Progress()):
    try:
        curve = logic.robustness_curve(model, progress=lambda f, text: progress(f, desc=text))
    except UserError as exc:
        raise gr.Error(str(exc)) from exc
    return logic.curve_figure(curve), logic.curve_text(curve)


def build() -> None:
    """Add the FGSM page (and its /fgsm API endpoint) to the current Blocks context."""
    gr.Markdown("# 🎯 Adversarial FGSM: fool a classifier with invisible changes\n"
                "Pick an image and an ε. Every pixel moves by at most ε/255 in the direction that hurts the model "
                "most.")
    bar = ShareBar(logic.VIEW)
    with gr.Row(elem_classes="gb-main"):
        with gr.Column(scale=1, min_width=320):
            source, image_changed = image_picker(logic.SAMPLES, "fgsm")
            model = gr.Dropdown(MODEL_LABELS, value=logic.DEFAULT_MODEL, label="Model", elem_classes="gb-advanced")
            attack = gr.Radio(ATTACK_LABELS, value="fgsm", label="Attack")
            steps = gr.Slider(1, logic.STEPS_MAX, value=10, step=1, label="Steps (BIM / PGD)",
                              elem_classes="gb-advanced")
            target = gr.Dropdown([], value=None, allow_custom_value=True, label="Target class (optional)",
                                 info="Empty: untargeted (any wrong class). Or type an ImageNet class, e.g. "
                                      "'goldfish'.")
        with gr.Column(scale=2):
            status = gr.Markdown("Computing the first example…", elem_id="fgsm-status")
            # ε sits right above the pictures it changes (in lecture mode too, where the other controls go below).
            epsilon = gr.Slider(0, logic.EPS_MAX, value=4, step=0.5, label="ε (in 1/255 units)", elem_id="fgsm-eps")
            with gr.Row(equal_height=True):
                orig = gr.Image(label="Original (model input)", interactive=False, height=260, buttons=["fullscreen"],
                                elem_id="fgsm-original")
                adv = gr.Image(label="Adversarial", interactive=False, height=260, buttons=["download", "fullscreen"],
                               elem_id="fgsm-adversarial")
                amp = gr.Image(label="Perturbation, amplified", interactive=False, height=260, buttons=["fullscreen"],
                               elem_id="fgsm-perturbation")
            with gr.Row():
                top_before = gr.Label(num_top_classes=5, label="Top-5 before", elem_id="fgsm-top5-before")
                top_after = gr.Label(num_top_classes=5, label="Top-5 after", elem_id="fgsm-top5-after")
            with gr.Row(equal_height=True):
                cam_before = gr.Image(label="Grad-CAM before", interactive=False, height=220, buttons=["fullscreen"],
                                      elem_id="fgsm-cam-before")
                cam_after = gr.Image(label="Grad-CAM after", interactive=False, height=220, buttons=["fullscreen"],
                                     elem_id="fgsm-cam-after")
            export = gr.DownloadButton("⬇️ Download comparison PNG", value=None)
    with gr.Accordion("Try a defence on the adversarial image", open=False):
        with gr.Row():
            quality = gr.Slider(10, 95, value=75, step=5, label="JPEG quality")
            sigma = gr.Slider(0.3, 3, value=1.0, step=0.1, label="Blur σ (pixels)")
            bits = gr.Slider(1, 7, value=4, step=1, label="Colour bits per channel")
        defend_btn = gr.Button("Apply the defences")
        defences = gr.Markdown(elem_id="fgsm-defences")
    with gr.Accordion("Robustness curve over the sample gallery", open=False):
        curve_btn = gr.Button(f"Compute (FGSM and PGD-10 at {len(logic.CURVE_EPS)} values of ε from "
                              f"{logic.CURVE_EPS[0]:g} to {logic.CURVE_EPS[-1]:g}; about a minute, cached per model)")
        curve_note = gr.Markdown()
        curve_plot = gr.Plot(label="Robustness vs ε", elem_id="fgsm-curve")

    inputs = [source, model, attack, epsilon, steps, target]
    outs = Outputs(status=status, orig=orig, adv=adv, amp=amp, top_before=top_before, top_after=top_after,
                   cam_before=cam_before, cam_after=cam_after, export=export)
    run_all, outputs = outs.fn(run), outs.list()
    hidden = {"api_visibility": "private"}
    for changed in image_changed:
        changed.then(run_all, inputs, outputs, **hidden)
    on_user_set([model, attack, target, epsilon, steps], run_all, inputs, outputs)
    defend_btn.click(run_defences, inputs + [quality, sigma, bits], defences, **hidden)
    curve_btn.click(run_curve, model, [curve_plot, curve_note], **hidden)


    def show(c: dict) -> dict:
        return run(c["image"], c["model"], c["attack"], c["epsilon"], c["steps"], c["target"])

    def links(c: dict) -> str:
        """The adversarial image travels to Grad-CAM under a key this server keeps (its newest 64)."""
        r = logic.attack(c["image"], c["model"], c["epsilon"], c["attack"], c["steps"], c["target"] or None)
        href = registry.view("gradcam").href(image=logic.hand_over(r), model=r.model)
        return f"🔥 [Open the adversarial image in Grad-CAM: where does the model look now?]({href})"

    def record(c: dict) -> dict:
        r = logic.attack(c["image"], c["model"], c["epsilon"], c["attack"], c["steps"], c["target"] or None)
        return logic.api_payload(r, api.Clock())

    bar.wire({"image": source, "model": model, "attack": attack, "epsilon": epsilon, "steps": steps,
              "target": target}, outs, show,
             to_param={"image": lambda p: share.name_of(p, logic.SAMPLES)},
             to_control={"image": lambda n: str(logic.SAMPLES[n])}, record=record, links=links)
    explainer("How adversarial examples work", HERE)
    gr.api(fgsm_api, api_name="fgsm")


if __name__ == "__main__":
    from apps.gradio_common import launch_page

    launch_page(build, "Glassbox · Adversarial FGSM")
