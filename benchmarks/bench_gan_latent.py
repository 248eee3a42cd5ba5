"""GAN page: 16 samples in process and over the plain REST API beside the bare generator call, and the 2-D GAN
Lab's training speed for both losses.

python benchmarks/bench_gan_latent.py [--n 30]   (targets: 16 samples p50 <= 300 ms; the lab >= 20 steps per second)
"""

from __future__ import annotations

import argparse
import sys
import time

from common import ROOT, free_port, median_seconds, pct, rest_call, start, stop

sys.path.insert(0, str(ROOT))


def main() -> None:
    import torch

    from apps.gan_latent import lab, logic
    from core import models

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    args = ap.parse_args()
    logic.sample(list(range(16)))  # load once
    warm = []
    for i in range(args.n):  # new seeds every call
        t0 = time.perf_counter()
        logic.sample(list(range(1000 + 16 * i, 1016 + 16 * i)))
        warm.append(time.perf_counter() - t0)
    loaded = models.load("gan_faces", "cpu")
    z = torch.randn(16, loaded.module.z_dim)
    bare = median_seconds(lambda: loaded.module.generate(z), args.n)
    print(f"16 samples of gan_faces on cpu, n={args.n}")
    print(f"in process p50 / p95      : {pct(warm, 50) * 1000:7.1f} / {pct(warm, 95) * 1000:.1f} ms")
    print(f"bare generator call p50   : {bare * 1000:7.1f} ms   ratio {pct(warm, 50) / bare:.2f}x")
    port = free_port()
    proc, _ = start([sys.executable, "app.py"], port, env={"GLASSBOX_WARMUP": "0"})
    base = f"http://127.0.0.1:{port}"
    try:
        _, first = rest_call(base, "gan_sample", [list(range(16)), 1.0, "gan_faces"])
        rest = [rest_call(base, "gan_sample", [list(range(16 * i, 16 * i + 16)), 1.0, "gan_faces"])[1]
                for i in range(1, args.n + 1)]
    finally:
        stop(proc)
    print(f"/gan_sample first REST call: {first * 1000:7.1f} ms")
    print(f"/gan_sample warm REST p50 / p95: {pct(rest, 50) * 1000:7.1f} / {pct(rest, 95) * 1000:.1f} ms"
          "  (target: p50 <= 300 ms)")
    for loss in lab.LOSSES:
        run = lab.new_run(loss, 0)
        t0 = time.perf_counter()
        lab.train(run, 200)
        print(f"GAN Lab lite, {lab.LOSSES[loss]}: {200 / (time.perf_counter() - t0):6.1f} steps/s (target >= 20)")


if __name__ == "__main__":
    main()
