"""Train the tiny ViT of the ViT patch viewer on generated digits-on-texture images.

python training/train_vit_digits.py  (CPU, seeded, about 13 minutes on 2 cores)
Writes assets/models/vit_digits.safetensors and its entry in assets/models/MANIFEST.json:
data, steps, seed, time, test accuracy, position-embedding structure, rollout-in-box rate, sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apps.vit_patches import data, logic  # noqa: E402
from core import models  # noqa: E402
from core.loaders import ImageClassifier, build_arch, disable_fused_attention  # noqa: E402

OUT = ROOT / "assets" / "models" / "vit_digits.safetensors"
MANIFEST = ROOT / "assets" / "models" / "MANIFEST.json"


def to_x(imgs: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div(255)  # (B, 3, 64, 64) in [0, 1]


def evaluate(model: ImageClassifier, n_test: int = 1000, n_box: int = 200) -> dict:
    """Accuracy on fresh test digits, position-embedding structure, rollout peak inside the digit's box."""
    model.eval()
    rng = np.random.default_rng(12345)
    imgs, labels, boxes = data.batch(rng, n_test, "test")
    with torch.no_grad():
        pred = torch.cat([model(to_x(imgs[i:i + 250])).argmax(-1) for i in range(0, n_test, 250)]).numpy()
    acc = float((pred == labels).mean())
    bb = model.backbone
    sim = logic.pos_similarity(bb)
    rows, cols = bb.patch_embed.grid_size
    yy, xx = np.divmod(np.arange(rows * cols), cols)
    dist = np.hypot(yy[:, None] - yy[None, :], xx[:, None] - xx[None, :])
    neighbour = float(sim[dist == 1].mean())
    distant = float(sim[dist >= 4].mean())
    loaded = models.Loaded("vit_digits", models.get_spec("vit_digits"), model, "cpu", "training", "training")
    hits = 0
    patch = bb.patch_embed.patch_size[0]
    for k in range(n_box):
        att, _ = logic.attentions(loaded, to_x(imgs[k:k + 1]))
        r = logic.rollout(att)[-1][0, 1:].reshape(rows, cols)
        pr, pc = np.unravel_index(r.argmax(), r.shape)
        cx, cy = (pc + 0.5) * patch, (pr + 0.5) * patch
        x0, y0, x1, y1 = boxes[k]
        hits += int(x0 <= cx < x1 and y0 <= cy < y1)
    return {"test_accuracy": round(acc, 4), "pos_embed_cos_neighbours": round(neighbour, 4),
            "pos_embed_cos_distant": round(distant, 4), "rollout_peak_in_box": round(hits / n_box, 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    spec = models.get_spec("vit_digits")
    backbone = disable_fused_attention(build_arch(spec.arch, **spec.arch_kwargs))
    model = ImageClassifier(backbone, spec.config.mean, spec.config.std)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    warm = 100
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))
    t0 = time.time()
    model.train()
    for step in range(args.steps):
        imgs, labels, _ = data.batch(rng, args.batch, "train")
        loss = F.cross_entropy(model(to_x(imgs)), torch.from_numpy(labels))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  {time.time() - t0:6.0f} s", flush=True)
    train_s = time.time() - t0
    metrics = evaluate(model)
    print(metrics)
    from safetensors.torch import save_file

    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.backbone.state_dict().items()}, str(OUT))
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    manifest["vit_digits.safetensors"] = {
        "script": "training/train_vit_digits.py",
        "data": "scikit-learn digits 0-1199 pasted at random places and sizes (20-40 px) on random textures, "
                "64x64; tested on digits 1200-1796",
        "architecture": {"timm": spec.arch.split(":")[1], **spec.arch_kwargs},
        "steps": args.steps, "batch": args.batch, "seed": args.seed, "optimizer": "AdamW lr 1e-3 wd 0.05, cosine",
        "train_seconds": round(train_s), "torch": torch.__version__, **metrics,
        "sha256": hashlib.sha256(OUT.read_bytes()).hexdigest(),
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB) in {train_s:.0f} s")


if __name__ == "__main__":
    main()
