"""/fgsm latency over the plain REST API beside its floor: one forward+backward plus one
forward of the bare model on the same input (target <= 1.3x, <= 300 ms). Also PGD-10.

python benchmarks/bench_fgsm.py [--n 20]
"""

from __future__ import annotations

import argparse
import sys

from common import ROOT, free_port, median_seconds, pct, rest_call, start, stop

sys.path.insert(0, str(ROOT))
from core import images, vision

SAMPLE = ROOT / "assets" / "images" / "coffee.png"


def variants(n: int) -> list[str]:
    base = images.load_image(SAMPLE)
    out = []
    for i in range(n):
        img = base.copy()
        img[i % img.shape[0], 0] ^= 1  # defeats the result cache, not the model
        out.append(images.to_data_url(img))
    return out


def floor_cost(n: int) -> tuple[float, tuple[int, int]]:
    import torch
    import torch.nn.functional as F

    from core import models

    loaded = models.load("efficientnet_lite0", "cpu")
    rgb = images.load_image(SAMPLE)
    size = vision.input_size(loaded.spec, rgb.shape[:2])
    x = vision.to_tensor(vision.to_model_input(rgb, size))  # (1, 3, h, w)
    def floor() -> None:  # one forward+backward (the gradient's sign), then one forward of the attacked image
        xg = x.clone().requires_grad_(True)
        logits = loaded.module(xg)  # (1, 1000)
        (g,) = torch.autograd.grad(F.cross_entropy(logits, logits.argmax(-1)), xg)
        with torch.no_grad():
            loaded.module((x + 4 / 255 * g.sign()).clamp(0, 1))

    return median_seconds(floor, n), size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
    port = free_port()
    proc, _ = start([sys.executable, "app.py"], port, env={"GLASSBOX_WARMUP": "0"})
    base = f"http://127.0.0.1:{port}"
    try:
        urls = variants(2 * args.n + 1)
        _, first = rest_call(base, "fgsm", [urls[0], "efficientnet_lite0", 4, "fgsm", 10, None])
        fgsm = [rest_call(base, "fgsm", [u, "efficientnet_lite0", 4, "fgsm", 10, None])[1] for u in urls[1:args.n + 1]]
        pgd = [rest_call(base, "fgsm", [u, "efficientnet_lite0", 4, "pgd", 10, None])[1]
               for u in urls[args.n + 1:args.n + 1 + max(5, args.n // 4)]]
    finally:
        stop(proc)
    floor, size = floor_cost(args.n)
    p50 = pct(fgsm, 50)
    print(f"input {size[0]}x{size[1]} (coffee.png, whole image), EfficientNet-Lite0 on cpu, eps 4/255")
    print(f"/fgsm first call (cold model)     : {first * 1000:7.1f} ms")
    print(f"/fgsm FGSM warm REST p50 / p95    : {p50 * 1000:7.1f} / {pct(fgsm, 95) * 1000:.1f} ms")
    print(f"/fgsm PGD-10 warm REST p50        : {pct(pgd, 50) * 1000:7.1f} ms")
    print(f"floor: bare fwd+bwd + fwd p50     : {floor * 1000:7.1f} ms")
    print(f"ratio FGSM p50 / floor            : {p50 / floor:7.2f}x  (target <= 1.3x and <= 300 ms)")


if __name__ == "__main__":
    main()
