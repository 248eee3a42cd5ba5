"""The reverse process: diffusers' own schedulers driven by our step loop, which also records
what the model believed at every step (predicted noise and predicted clean image).

Framework-free (no UI imports). torch and diffusers are imported inside functions so the hub can
start without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

SCHEDULERS = {
    "ddpm": "DDPM (ancestral, stochastic)",
    "ddim": "DDIM (eta 0 = deterministic)",
    "dpm": "DPM-Solver++ (2nd-order ODE solver)",
}


def make_scheduler(kind: str, train_config: dict[str, Any]):
    """A fresh diffusers scheduler of `kind` sharing the model's training noise schedule.

    Fresh per run: schedulers keep per-run state (timesteps, DPM-Solver's history of outputs).
    """
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

    base = DDPMScheduler.from_config(train_config)
    if kind == "ddpm":
        return base
    if kind == "ddim":
        return DDIMScheduler.from_config(base.config)
    if kind == "dpm":
        return DPMSolverMultistepScheduler.from_config(base.config, algorithm_type="dpmsolver++", solver_order=2)
    raise ValueError(f"Unknown scheduler {kind!r}. Choose one of: {', '.join(SCHEDULERS)}.")


@dataclass
class Step:
    index: int  # 0 .. steps-1
    t: int  # the training timestep this step starts from
    x_t: Any  # torch (B, C, H, W): the noisy sample going into the step
    x0_pred: Any  # torch (B, C, H, W): the clean image the model predicts from x_t (clipped, see denoise)
    eps_pred: Any  # torch (B, C, H, W): the (guided) noise the model predicts in x_t
    x_next: Any  # torch (B, C, H, W): the scheduler's output, x at the next (smaller) timestep


def predict_eps(unet, x, t, labels, guidance: float, null_label: int | None):
    """Noise prediction with classifier-free guidance: eps_u + guidance * (eps_c - eps_u).

    labels None (or a model without classes) -> the unconditional prediction. guidance 1 is the
    plain conditional model and 0 the unconditional one; only the passes needed are run.
    """
    import torch

    if labels is None or null_label is None:
        kwargs = {}
        if null_label is not None:  # a class-conditional model asked for no class: the "no label" embedding
            kwargs["class_labels"] = torch.full((x.shape[0],), null_label, device=x.device)
        return unet(x, t, **kwargs).sample  # (B, C, H, W)
    null = torch.full_like(labels, null_label)
    if guidance == 1.0:
        return unet(x, t, class_labels=labels).sample
    if guidance == 0.0:
        return unet(x, t, class_labels=null).sample
    both = unet(torch.cat([x, x]), t, class_labels=torch.cat([labels, null])).sample  # (2B, C, H, W)
    eps_c, eps_u = both.chunk(2)
    return eps_u + guidance * (eps_c - eps_u)


def initial_noise(shape: tuple[int, ...], seed: int):
    """x_T for a seed, drawn the way diffusers' pipelines draw it (so the two agree)."""
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    generator = torch.Generator("cpu").manual_seed(int(seed))
    return randn_tensor(shape, generator=generator, device=torch.device("cpu")), generator


def denoise(unet, scheduler, x, steps: int, *, labels=None, guidance: float = 1.0, eta: float = 0.0,
            generator=None, null_label: int | None = None, x0_clip: float | None = 1.0) -> Iterator[Step]:
    """Run the reverse process from x = x_T (B, C, H, W), yielding one Step per scheduler step.

    The last Step's x_next is the final sample. The model output goes to scheduler.step
    untouched, as the diffusers pipelines pass it, so the trajectory is the pipeline's own.
    x0_clip: the displayed x0 estimate is clipped to [-x0_clip, x0_clip] (images live in [-1, 1]);
    None for data without a fixed range (the 2-D toy).
    """
    import inspect

    import torch

    scheduler.set_timesteps(steps)
    alphas_cumprod = scheduler.alphas_cumprod
    takes_eta = "eta" in inspect.signature(scheduler.step).parameters  # DDIM only
    extra = {"eta": eta} if takes_eta else {}
    for i, t in enumerate(scheduler.timesteps):
        with torch.no_grad():
            model_in = scheduler.scale_model_input(x, t)
            eps = predict_eps(unet, model_in, t, labels, guidance, null_label)  # (B, C, H, W)
        ab = alphas_cumprod[int(t)].to(x.dtype)
        # The clean image the model implies: invert x_t = sqrt(ab) x0 + sqrt(1 - ab) eps.
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()  # (B, C, H, W)
        if x0_clip is not None:
            x0 = x0.clamp(-x0_clip, x0_clip)
        x_next = scheduler.step(eps, t, x, generator=generator, **extra).prev_sample  # (B, C, H, W)
        yield Step(i, int(t), x, x0, eps, x_next)
        x = x_next


def sample(unet, scheduler, shape, steps: int, seed: int, **kwargs):
    """Only the final samples (B, C, H, W) in [-1, 1], for evaluation: no frames kept."""
    x, generator = initial_noise(shape, seed)
    last = None
    for last in denoise(unet, scheduler, x, steps, generator=generator, **kwargs):  # noqa: B007 - the last step
        pass
    return last.x_next.clamp(-1, 1)
