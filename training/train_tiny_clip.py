"""Train the CLIP page's tiny CLIP on generated shapes and their captions (symmetric InfoNCE, learned
temperature), record what it looked like while learning, and measure zero-shot on held-out compositions.

Seeded, CPU only, about a minute on 2 cores. Writes assets/models/tiny_clip.safetensors (the weights and,
under "record.*", the probe batch's similarity matrix at each recorded step, the loss and the temperature)
and its numbers under "tiny_clip" in assets/models/MANIFEST.json.

    .venv/bin/python training/train_tiny_clip.py [--steps 1500] [--out assets/models]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apps.clip_zero_shot import tiny  # noqa: E402

RECORD_AT = (0, 10, 30, 100, 300, 1000)  # steps whose probe-batch similarity matrix is kept (and the last)


def zero_shot_accuracy(model, vocab, held_out: bool, n: int, seed: int) -> float:
    """Each image against the captions of every colour-shape pair on its side: is its own the best?"""
    import torch

    rng = np.random.default_rng(seed)
    images, _, parts = tiny.sample(n, rng, held_out)
    pairs = [(c, s) for c in tiny.COLOURS for s in tiny.SHAPES]
    with torch.no_grad():
        img = model.encode_image(tiny.to_tensor(images))  # (n, D)
        right = 0
        for i, (c, s, side) in enumerate(parts):
            txt = model.encode_text(torch.from_numpy(tiny.tokenize([tiny.caption(pc, ps, side) for pc, ps in pairs],
                                                                   vocab)))  # (12, D)
            right += int(pairs[int((txt @ img[i]).argmax())] == (c, s))
    return right / n


def train(steps: int, seed: int = 0, batch: int = 128, log=print):
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    vocab = tiny.vocabulary()
    model = tiny.build(len(vocab))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    probe_images, probe_captions, _ = tiny.sample(tiny.PROBE, np.random.default_rng(seed + 1000))
    probe_x, probe_ids = tiny.to_tensor(probe_images), torch.from_numpy(tiny.tokenize(probe_captions, vocab))
    recorded, record_steps, losses, scales = [], [], [], []
    for step in range(steps + 1):
        if step in RECORD_AT or step == steps:
            with torch.no_grad():
                sims, _ = model(probe_x, probe_ids)
            recorded.append(sims.numpy())
            record_steps.append(step)
        if step == steps:
            break
        images, captions, _ = tiny.sample(batch, rng, partial=True)
        _, loss = model(tiny.to_tensor(images), torch.from_numpy(tiny.tokenize(captions, vocab)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        scales.append(model.log_scale.detach().exp().item())
        if step % 250 == 0:
            log(f"step {step:5d}  loss {loss.item():.3f}  1/temperature {scales[-1]:.1f}")
    model.eval()
    record = {"steps": np.array(record_steps, np.int64), "sims": np.stack(recorded).astype(np.float32),
              "loss": np.array(losses, np.float32), "scale": np.array(scales, np.float32),
              "probe_images": probe_images, "probe_captions": probe_captions}
    return model, vocab, record


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--out", type=Path, default=ROOT / "assets" / "models")
    args = ap.parse_args()
    import torch
    from safetensors.torch import save_file

    t0 = time.perf_counter()
    model, vocab, record = train(args.steps)
    seconds = time.perf_counter() - t0
    train_acc = zero_shot_accuracy(model, vocab, held_out=False, n=300, seed=7)
    held_acc = zero_shot_accuracy(model, vocab, held_out=True, n=300, seed=8)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    tensors.update({"record.steps": torch.from_numpy(record["steps"]), "record.sims": torch.from_numpy(record["sims"]),
                    "record.loss": torch.from_numpy(record["loss"]), "record.scale": torch.from_numpy(record["scale"]),
                    "record.probe_images": torch.from_numpy(record["probe_images"])})
    path = args.out / "tiny_clip.safetensors"
    save_file(tensors, str(path), metadata={"vocab": json.dumps(vocab),
                                             "probe_captions": json.dumps(record["probe_captions"])})
    manifest_path = args.out / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest["tiny_clip"] = {
        "script": "training/train_tiny_clip.py", "data": "generated 32x32 coloured shapes with their captions "
        "('a {colour} {shape} on the {side}'), 4 colours x 3 shapes x 2 sides",
        "held_out_compositions": [" ".join(p) for p in tiny.HELD_OUT],
        "architecture": "image: 3-layer CNN; text: word embeddings mean-pooled, then linear; 32-d joint space",
        "captions": "a third full ('a blue circle on the left'), a third colour only ('a blue shape on the left'), "
                    "a third shape only ('a circle on the left')",
        "loss": "symmetric InfoNCE, learned temperature (starts at 1/0.07)", "steps": args.steps, "batch": 128,
        "seed": 0, "train_seconds": round(seconds, 1), "torch": torch.__version__,
        "final_loss": round(float(record["loss"][-50:].mean()), 4),
        "final_inverse_temperature": round(float(record["scale"][-1]), 2),
        "zero_shot": {"seen_compositions": round(train_acc, 4), "held_out_compositions": round(held_acc, 4),
                      "chance": round(1 / 12, 4), "n": 300},
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest["tiny_clip"], indent=2))


if __name__ == "__main__":
    main()
