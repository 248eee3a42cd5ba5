"""Train the SAM page's tiny SAM: segment_anything's own image encoder, prompt encoder and mask decoder at toy
size, on generated scenes (apps/sam/scenes.py) with simulated clicks and boxes, the way SAM was trained:

- three mask outputs for one ambiguous prompt, and only the candidate with the lowest loss is trained
  (a click on a window may mean the window or the house; either answer is right in one of the slots);
- a fourth, single output for prompts that are no longer ambiguous (several points, or a box);
- an IoU head that learns to predict each candidate's IoU with the truth (MSE);
- a second, corrective round: a click sampled from the first answer's error region (positive where it
  missed, negative where it spilled), as in SAM's interactive training.

Seeded, CPU only, a few minutes on 2 cores. Writes assets/models/sam_tiny.safetensors (sizes in its metadata)
and its held-out numbers under "sam_tiny" in assets/models/MANIFEST.json.

    .venv/bin/python training/train_tiny_sam.py [--steps 2500] [--out assets/models]
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

from apps.sam import scenes  # noqa: E402
from core import loaders  # noqa: E402

SIZE = 64
CONFIG = loaders.sam_config(img_size=SIZE, patch_size=8, embed_dim=96, depth=4, num_heads=4, global_attn_indexes=[],
                            window_size=0, use_rel_pos=False, out_chans=64, mask_in_chans=8, decoder_mlp_dim=256,
                            decoder_heads=4, iou_hidden=64)
HELD_OUT_SEED = 1_000_000  # evaluation scenes use seeds from here on; training never sees them


def decode_batch(sam, emb, sparse, dense):
    """MaskDecoder.predict_masks for B images with one prompt set each (the library's version repeats one
    image for B prompt sets). -> masks (B, 4, 64, 64) logits, iou (B, 4): token 0 single, 1-3 multimask."""
    import torch

    dec = sam.mask_decoder
    out_tokens = torch.cat([dec.iou_token.weight, dec.mask_tokens.weight], 0)  # (5, C)
    tokens = torch.cat([out_tokens[None].expand(sparse.shape[0], -1, -1), sparse], 1)  # (B, 5 + n, C)
    src = emb + dense  # (B, C, s, s)
    pos = sam.prompt_encoder.get_dense_pe().expand(src.shape[0], -1, -1, -1)  # (B, C, s, s)
    b, c, h, w = src.shape
    hs, src = dec.transformer(src, pos, tokens)  # (B, 5 + n, C), (B, s*s, C)
    up = dec.output_upscaling(src.transpose(1, 2).reshape(b, c, h, w))  # (B, C/8, 4s, 4s)
    hyper = torch.stack([mlp(hs[:, 1 + i]) for i, mlp in enumerate(dec.output_hypernetworks_mlps)], 1)  # (B, 4, C/8)
    bb, cc, hh, ww = up.shape
    masks = (hyper @ up.reshape(bb, cc, hh * ww)).reshape(bb, -1, hh, ww)  # (B, 4, 4s, 4s)
    # Sam.postprocess_masks' first step: the low-resolution logits, bilinearly up to the input size.
    masks = torch.nn.functional.interpolate(masks, (SIZE, SIZE), mode="bilinear", align_corners=False)  # (B, 4, 64, 64)
    return masks, dec.iou_prediction_head(hs[:, 0])  # (B, 4)


def make_data(n: int, seed0: int):
    data = [scenes.make_scene(seed0 + i, SIZE) for i in range(n)]
    return [d for d in data if d.targets]


def prompt_for(scene, rng, kind: str):
    """(target mask, points [[x, y, label]], box or None) for one simulated first prompt."""
    t = scene.targets[int(rng.integers(len(scene.targets)))]
    if kind == "box":
        x0, y0, x1, y1 = scenes.box_of(t.mask)
        j = rng.integers(-2, 3, 4)
        box = [max(0, x0 + j[0]), max(0, y0 + j[1]), min(SIZE - 1, x1 + j[2]), min(SIZE - 1, y1 + j[3])]
        return t.mask, [], box
    x, y = scenes.inside_point(t.mask, rng, margin=1)
    return t.mask, [[x, y, 1]], None


def correction(pred: np.ndarray, truth: np.ndarray, rng) -> list[float]:
    """A click where the answer is most wrong: inside the larger error region, far from its edge."""
    import cv2

    fn, fp = truth & ~pred, pred & ~truth
    err, label = (fn, 1) if fn.sum() >= fp.sum() else (fp, 0)
    if err.sum() == 0:
        err, label = truth, 1
    dist = cv2.distanceTransform(err.astype(np.uint8), cv2.DIST_L2, 3)
    ys, xs = np.nonzero(dist >= dist.max() * 0.7)
    i = int(rng.integers(len(xs)))
    return [int(xs[i]), int(ys[i]), label]


def embed_prompts(sam, points, boxes):
    """The library's PromptEncoder on a batch of prompts that share one structure."""
    import torch

    pts = None
    if points is not None and len(points[0]):
        arr = torch.tensor(points, dtype=torch.float32)  # (B, n, 3)
        pts = (arr[..., :2], arr[..., 2])  # the prompt encoder adds the half pixel itself
    bx = torch.tensor(boxes, dtype=torch.float32) if boxes is not None else None  # (B, 4)
    return sam.prompt_encoder(points=pts, boxes=bx, masks=None)


def losses(logits, truth):
    """Per candidate: BCE + dice (B, K) and the IoU of its thresholded mask (B, K)."""
    import torch.nn.functional as F

    t = truth[:, None].expand_as(logits)  # (B, K, H, W)
    bce = F.binary_cross_entropy_with_logits(logits, t, reduction="none").mean((2, 3))
    p = logits.sigmoid()
    dice = 1 - (2 * (p * t).sum((2, 3)) + 1) / (p.sum((2, 3)) + t.sum((2, 3)) + 1)
    hard = logits > 0
    inter = (hard & (t > 0.5)).sum((2, 3)).float()
    union = (hard | (t > 0.5)).sum((2, 3)).float()
    return bce + dice, inter / union.clamp(min=1)


def run_batch(sam, images, scene_batch, rng, kind):
    import torch

    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()  # (B, 3, 64, 64)
    emb = sam.image_encoder(sam.preprocess(x))  # (B, C, 16, 16)
    prompts = [prompt_for(s, rng, kind) for s in scene_batch]
    truth = torch.from_numpy(np.stack([p[0] for p in prompts])).float()  # (B, 64, 64)
    pts = [p[1] for p in prompts] if kind == "point" else None
    boxes = [p[2] for p in prompts] if kind == "box" else None
    sparse, dense = embed_prompts(sam, pts, boxes)
    logits, iou_pred = decode_batch(sam, emb, sparse, dense)  # (B, 4, 64, 64), (B, 4)
    loss_k, iou_k = losses(logits, truth)
    # Round one: the best of the three candidates is trained (ambiguity), and the single output too.
    first = loss_k[:, 1:].min(1).values.mean() + loss_k[:, 0].mean()
    iou_loss = ((iou_pred - iou_k.detach()) ** 2).mean()
    # Round two: add a corrective click from the single output's mistakes; train the single output again.
    pred = (logits[:, 0] > 0).detach().numpy()
    pts2 = [list(p[1]) + [correction(pred[i], p[0], rng)] for i, p in enumerate(prompts)]
    sparse2, dense2 = embed_prompts(sam, pts2, boxes)
    logits2, iou2 = decode_batch(sam, emb, sparse2, dense2)
    loss2, iou_k2 = losses(logits2, truth)
    second = loss2[:, 0].mean() + loss2[:, 1:].min(1).values.mean()
    iou_loss = iou_loss + ((iou2 - iou_k2.detach()) ** 2).mean()
    return first + second + iou_loss, iou_k[:, 0].mean().item()


def train(steps: int, seed: int = 0, batch: int = 24, n_scenes: int = 6000, log=print):
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = make_data(n_scenes, seed * 100_000)
    sam = loaders.sam_from_config(CONFIG).train()
    opt = torch.optim.AdamW(sam.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps, pct_start=max(0.05, 2 / steps))
    t0 = time.perf_counter()
    for step in range(steps):
        idx = rng.integers(len(data), size=batch)
        group = [data[i] for i in idx]
        kind = "box" if step % 3 == 2 else "point"
        loss, iou = run_batch(sam, [s.image for s in group], group, rng, kind)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(sam.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step:5d}  loss {loss.item():.3f}  single-output IoU ({kind}) {iou:.2f}  "
                f"{time.perf_counter() - t0:.0f} s")
    return sam.eval(), time.perf_counter() - t0


def evaluate(model: loaders.SamModel, n: int = 300) -> dict:
    """Held-out scenes, through the same encode/decode the page uses. Point prompts: the candidate the IoU
    head ranks first (and the oracle best of three, which says how often the right answer is among them)."""
    rng = np.random.default_rng(7)
    ious: dict[str, list[float]] = {"point_best_by_score": [], "point_oracle": [], "box": [], "point_plus_one": [],
                                    "twins_pos_neg": []}
    twins_cover = []
    for i in range(n):
        s = scenes.make_scene(HELD_OUT_SEED + i, SIZE)
        if not s.targets:
            continue
        state = model.encode(s.image)
        t = s.targets[int(rng.integers(len(s.targets)))]
        x, y = scenes.inside_point(t.mask, rng)
        masks, scores = model.decode(state, [[x, y, 1]], None, True)
        each = [scenes.iou(m, t.mask) for m in masks]
        ious["point_best_by_score"].append(each[int(np.argmax(scores))])
        ious["point_oracle"].append(max(each))
        m1, _ = model.decode(state, [[x, y, 1]], None, False)
        extra = correction(m1[0], t.mask, rng)
        m2, _ = model.decode(state, [[x, y, 1], extra], None, False)
        ious["point_plus_one"].append(scenes.iou(m2[0], t.mask))
        mb, _ = model.decode(state, [], list(scenes.box_of(t.mask)), False)
        ious["box"].append(scenes.iou(mb[0], t.mask))
        twins = [k for k, tt in enumerate(s.targets) if tt.kind == "twin"]
        if len(twins) == 2:
            a, b = (s.targets[k].mask for k in twins)
            pa, pb = scenes.inside_point(a, rng, 3), scenes.inside_point(b, rng, 3)
            mt, st = model.decode(state, [[*pa, 1], [*pb, 0]], None, False)
            ious["twins_pos_neg"].append(scenes.iou(mt[0], a))
            twins_cover.append((float((mt[0] & a).sum() / a.sum()), float((mt[0] & b).sum() / b.sum())))
    out = {k: round(float(np.mean(v)), 3) for k, v in ious.items() if v}
    out["scenes"] = n
    if twins_cover:
        cover = np.array(twins_cover)
        out["twins_cover_positive"] = round(float(cover[:, 0].mean()), 3)
        out["twins_cover_negative"] = round(float(cover[:, 1].mean()), 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--out", default=str(ROOT / "assets" / "models"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    sam, seconds = train(args.steps)
    out = Path(args.out)
    path = out / "sam_tiny.safetensors"
    loaders.save_sam(sam, CONFIG, path)
    model = loaders.build_sam(None, path)  # read back the way the page reads it
    scores = evaluate(model)
    print(json.dumps(scores, indent=1))
    manifest_path = out / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest["sam_tiny"] = {
        "script": "training/train_tiny_sam.py",
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "data": f"generated {SIZE}x{SIZE} scenes (apps/sam/scenes.py): shapes with occlusion, parts inside wholes, "
                "touching near-twins; held-out scenes use seeds from 1,000,000",
        "architecture": "segment_anything ImageEncoderViT / PromptEncoder / MaskDecoder at toy size: "
                        f"{CONFIG['depth']} blocks x {CONFIG['embed_dim']} wide, {SIZE // CONFIG['patch_size']}x"
                        f"{SIZE // CONFIG['patch_size']}x{CONFIG['out_chans']} image embedding",
        "parameters": int(sum(p.numel() for p in sam.parameters())),
        "training": "one prompt (a click or a box, jittered) then one corrective click from the error region; "
                    "best-of-three loss for the multimask outputs, the single output trained too; IoU head by MSE",
        "steps": args.steps,
        "train_seconds": round(seconds, 1),
        "held_out_iou": scores,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {path} and its manifest entry")


if __name__ == "__main__":
    main()
