"""/vit latency over the plain REST API beside the bare forward pass (offline tiny ViT).

python benchmarks/bench_vit_patches.py [--n 30]   (target: <= 1.5x the bare forward, <= 150 ms)
"""

from __future__ import annotations

import argparse
import sys

from common import ROOT, free_port, median_seconds, pct, rest_call, start, stop

sys.path.insert(0, str(ROOT))
from apps.vit_patches import data
from core import images


def main() -> None:
    import numpy as np
    import torch

    from core import models

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    args = ap.parse_args()
    imgs, _, _ = data.batch(np.random.default_rng(5), args.n + 1, "test")  # a new image per call: no cache hits
    urls = [images.to_data_url(i) for i in imgs]
    port = free_port()
    proc, _ = start([sys.executable, "app.py"], port, env={"GLASSBOX_WARMUP": "0"})
    base = f"http://127.0.0.1:{port}"
    try:
        _, first = rest_call(base, "vit", [urls[0], "vit_digits", None, None])
        warm = [rest_call(base, "vit", [u, "vit_digits", None, None])[1] for u in urls[1:]]
    finally:
        stop(proc)
    m = models.load("vit_digits", "cpu").module
    x = torch.from_numpy(imgs[0]).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        bare = median_seconds(lambda: m(x), args.n)
    p50 = pct(warm, 50)
    print(f"64x64 generated digit, tiny ViT (4 layers x 4 heads, 65 tokens) on cpu, n={args.n}")
    print(f"/vit first call (cold model)  : {first * 1000:7.1f} ms")
    print(f"/vit warm REST p50 / p95      : {p50 * 1000:7.1f} / {pct(warm, 95) * 1000:.1f} ms")
    print(f"bare forward p50              : {bare * 1000:7.1f} ms")
    print(f"ratio warm p50 / bare forward : {p50 / bare:7.2f}x  (target <= 1.5x and <= 150 ms)")


if __name__ == "__main__":
    main()
