"""DEMOS: the eight topics of the hub. Data, and view(): both hubs (Gradio and Streamlit) read it.

`built` marks the demos that have a page. `warmup` names a function the hub runs in the
background once it is serving, so that the first click in a lecture is fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Demo:
    slug: str
    title: str
    pitch: str
    icon: str
    built: bool = False
    warmup: str | None = None  # "module:function"
    nav: str = ""  # the short name in the Gradio hub's top bar (nine full titles wrap onto two lines)
    try_first: str = ""  # the landing page's "try first" line: one action that shows the idea

    @property
    def nav_label(self) -> str:
        return f"{self.icon} {self.nav or self.title}"


# In teaching order (the landing page is a syllabus): what a CNN looks at, how to fool it, attention over
# words, then over patches, images and text in one space, prompting a segmenter, and two generative models.
DEMOS: list[Demo] = [
    Demo("gradcam", "Grad-CAM", "See where a CNN looks when it decides on a class, and compare CAM methods.",
         "🔥", built=True, warmup="apps.gradcam.logic:warmup", nav="Grad-CAM",
         try_first="Open the cat, then type 'tiger cat' as the target class: same photo, another heatmap."),
    Demo("fgsm", "Adversarial FGSM", "Nudge pixels invisibly until a classifier changes its mind, then see why.",
         "🎯", built=True, warmup="apps.fgsm.logic:warmup", nav="FGSM",
         try_first="Set ε to 1: one grey level per pixel, and the espresso is no longer an espresso."),
    Demo("attention", "Attention heatmaps", "See which words each head of a transformer looks at.", "🔦",
         built=True, warmup="apps.attention.logic:warmup", nav="Attention",
         try_first="Open the Head view and follow 'it': does it look at the robot or the ball?"),
    Demo("vit_patches", "ViT patch viewer",
         "Cut an image into patches and follow them into a Vision Transformer.", "🧩",
         built=True, warmup="apps.vit_patches.logic:warmup", nav="ViT patches",
         try_first="Click a patch, then open the Attention tab: where does [CLS] look in the last layer?"),
    Demo("clip_zero_shot", "CLIP zero-shot", "Classify an image with labels you type, and see the similarity matrix.",
         "🏷️", built=True, warmup="apps.clip_zero_shot.logic:warmup", nav="CLIP",
         try_first="Type three labels that are not in the photo, then switch to 'each label on its own'."),
    Demo("sam", "SAM prompting", "Click points or draw boxes and get segmentation masks.", "✂️",
         built=True, warmup="apps.sam.logic:warmup", nav="SAM",
         try_first="Click the cup's white rim, then compare the candidates: the whole opening, or the rim."),
    Demo("gan_latent", "GAN latent arithmetic", "Walk, blend and add vectors in a GAN's latent space.", "🧮",
         built=True, warmup="apps.gan_latent.logic:warmup", nav="GAN latents",
         try_first="On the Attributes tab, add glasses and look at 'What changed': more than the glasses."),
    Demo("diffusion", "Diffusion step-through", "Watch noise turn into an image, one denoising step at a time.", "🌫️",
         built=True, warmup="apps.diffusion.logic:warmup", nav="Diffusion",
         try_first="Drag the step slider back to step 10: x_t is still noise, yet the model already guesses at x₀."),
]

BY_SLUG = {d.slug: d for d in DEMOS}


def view(slug: str):
    """The share.View of a demo's page: what a link to that page is built from (View.href, View.link_params).

    Pages link to each other through this, never with a hand-written address, so a renamed setting fails where
    the link is made. It imports the target's logic module, which is light (no model library at import).
    """
    if slug not in BY_SLUG:
        raise KeyError(f"no demo {slug!r}; the demos are {list(BY_SLUG)}")
    return importlib.import_module(f"apps.{slug}.logic").VIEW


def class_question(slug: str):
    """The function that makes a page's own live-class question from a view's settings (see core.classroom), or
    None when the page has none: the lecturer types the options there."""
    if slug not in BY_SLUG:
        return None
    return getattr(importlib.import_module(f"apps.{slug}.logic"), "class_question", None)
