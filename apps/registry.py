"""DEMOS: the eight topics of the hub. Pure data; both hubs (Gradio and Streamlit) read it.

`built` marks the demos that have a page. `warmup` names a function the hub runs in the
background once it is serving, so that the first click in a lecture is fast.
"""

from __future__ import annotations

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

    @property
    def nav_label(self) -> str:
        return f"{self.icon} {self.nav or self.title}"


DEMOS: list[Demo] = [
    Demo("diffusion", "Diffusion step-through", "Watch noise turn into an image, one denoising step at a time.", "🌫️",
         built=True, warmup="apps.diffusion.logic:warmup", nav="Diffusion"),
    Demo("attention", "Attention heatmaps", "See which words each head of a transformer looks at.", "🔦",
         built=True, warmup="apps.attention.logic:warmup", nav="Attention"),
    Demo("vit_patches", "ViT patch viewer", "Cut an image into patches and follow them into a Vision Transformer.", "🧩",
         built=True, warmup="apps.vit_patches.logic:warmup", nav="ViT patches"),
    Demo("gan_latent", "GAN latent arithmetic", "Walk, blend and add vectors in a GAN's latent space.", "🧮",
         built=True, warmup="apps.gan_latent.logic:warmup", nav="GAN latents"),
    Demo("gradcam", "Grad-CAM", "See where a CNN looks when it decides on a class, and compare CAM methods.",
         "🔥", built=True, warmup="apps.gradcam.logic:warmup", nav="Grad-CAM"),
    Demo("sam", "SAM prompting", "Click points or draw boxes and get segmentation masks.", "✂️",
         built=True, warmup="apps.sam.logic:warmup", nav="SAM"),
    Demo("clip_zero_shot", "CLIP zero-shot", "Classify an image with labels you type, and see the similarity matrix.",
         "🏷️", built=True, warmup="apps.clip_zero_shot.logic:warmup", nav="CLIP"),
    Demo("fgsm", "Adversarial FGSM", "Nudge pixels invisibly until a classifier changes its mind, then see why.",
         "🎯", built=True, warmup="apps.fgsm.logic:warmup", nav="FGSM"),
]

BY_SLUG = {d.slug: d for d in DEMOS}
