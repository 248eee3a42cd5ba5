"""Train the 2-D toy diffusion's noise predictors (one small MLP per dataset: two moons, swiss roll).

python training/train_toy2d.py  (CPU, seeded, about a minute on 2 cores)

Writes assets/models/toy2d.safetensors (keys '<dataset>.<param>') and its MANIFEST.json entry,
with the quality metric: mean distance from 1,000 DDIM samples to the nearest training point,
next to the same distance for pure noise (lower is better).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apps.diffusion import toy2d  # noqa: E402
from core import models  # noqa: E402

MANIFEST = ROOT / "assets" / "models" / "MANIFEST.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from diffusers import DDPMScheduler
    from safetensors.torch import save_file

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    ab = DDPMScheduler(**toy2d.SCHEDULER_CONFIG).alphas_cumprod  # (1000,)
    state, quality = {}, {}
    t0 = time.time()
    for name in ("moons", "swiss_roll"):
        data = torch.from_numpy(toy2d.dataset(name, n=1000, seed=args.seed))  # (1000, 2)
        model = toy2d.make_mlp()
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
        for _ in range(args.steps):
            x0 = data[torch.randint(0, len(data), (args.batch,))]  # (B, 2)
            t = torch.randint(0, 1000, (args.batch,))
            noise = torch.randn_like(x0)
            a = ab[t][:, None]
            loss = F.mse_loss(model(a.sqrt() * x0 + (1 - a).sqrt() * noise, t).sample, noise)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        state.update({f"{name}.{k}": v.contiguous() for k, v in model.state_dict().items()})
        save_file(state, str(toy2d.WEIGHTS))
        models.clear_cache()  # the next reverse() reads the file just written
        run = toy2d.reverse(name, "ddim", 50, n=1000, seed=123)
        noise_d = toy2d.distance_to_data(run.path[0], data.numpy())
        quality[name] = {"final_loss": round(loss.item(), 4),
                         "ddim50_mean_distance_to_data": round(toy2d.distance_to_data(run.path[-1], data.numpy()), 4),
                         "noise_mean_distance_to_data": round(noise_d, 4)}
        print(name, quality[name], flush=True)
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    manifest["toy2d"] = {
        "script": "training/train_toy2d.py",
        "data": "scikit-learn make_moons(1000, noise 0.05) and make_swiss_roll(1000, noise 0.3) (x, z), "
                "centred, unit std",
        "architecture": f"MLP 34-{toy2d.HIDDEN}-{toy2d.HIDDEN}-{toy2d.HIDDEN}-2, SiLU, sinusoidal t embedding",
        "noise_schedule": toy2d.SCHEDULER_CONFIG,
        "steps": args.steps, "batch": args.batch, "seed": args.seed, "optimizer": "AdamW lr 2e-3, cosine",
        "train_seconds": round(time.time() - t0),
        "torch": torch.__version__,
        "quality": quality,
        "sha256": hashlib.sha256(toy2d.WEIGHTS.read_bytes()).hexdigest(),
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
