"""/diffusion latency over the plain REST API beside the bare UNet cost, plus scrubbing latency.

python benchmarks/bench_diffusion.py [--n 10]
(targets: warm 50-step DDIM trajectory <= 2 s; scrubbing a finished run <= 50 ms)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import ROOT, free_port, pct, rest_call, start, stop

sys.path.insert(0, str(ROOT))


def bare_unet_trajectory(steps: int, guidance: float, label: int) -> tuple[float, float]:
    """The floor: 50 guided UNet calls and diffusers DDIM steps, nothing recorded or encoded."""
    import torch

    from apps.diffusion import sampling
    from core import models

    dm = models.load("ddpm_digits", "cpu").module
    x = torch.randn(1, 1, 16, 16)
    labels = torch.tensor([label])
    one = []
    for _ in range(30):
        t0 = time.perf_counter()
        with torch.no_grad():
            sampling.predict_eps(dm.unet, x, 500, labels, guidance, dm.null_label)
        one.append(time.perf_counter() - t0)
    runs = []
    for seed in range(5):
        t0 = time.perf_counter()
        sampling.sample(dm.unet, sampling.make_scheduler("ddim", dm.scheduler_config), (1, 1, 16, 16), steps, seed,
                        labels=labels, guidance=guidance, null_label=dm.null_label)
        runs.append(time.perf_counter() - t0)
    return statistics.median(one[5:]), statistics.median(runs[1:])


def main() -> None:
    from apps.diffusion import logic

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    g = logic.default_guidance()
    port = free_port()
    proc, _ = start([sys.executable, "app.py"], port, env={"GLASSBOX_WARMUP": "0"})
    base = f"http://127.0.0.1:{port}"
    try:
        # [seed, scheduler, steps, eta, label, guidance, model]; a new seed per call: no cache hits.
        _, first = rest_call(base, "diffusion", [0, "ddim", 50, 0.0, 3, g, "ddpm_digits"])
        warm = [rest_call(base, "diffusion", [s, "ddim", 50, 0.0, 3, g, "ddpm_digits"])[1]
                for s in range(1, args.n + 1)]
        _, hit = rest_call(base, "diffusion", [1, "ddim", 50, 0.0, 3, g, "ddpm_digits"])
    finally:
        stop(proc)
    step_cost, bare = bare_unet_trajectory(50, g, 3)
    traj = logic.run(logic.check(steps=50, label=3, guidance=g)[0])
    compute = traj.seconds
    scrub = []
    for i in list(range(traj.n)) * 4:
        t0 = time.perf_counter()
        logic.frame(traj, i, 256)
        scrub.append(time.perf_counter() - t0)
    p50 = pct(warm, 50)
    print(f"digits DDPM (1.1M-param UNet, 16x16), DDIM 50 steps, guidance {g:g}, cpu, n={args.n}")
    print(f"/diffusion first call (cold)     : {first * 1000:7.0f} ms")
    print(f"/diffusion warm REST p50 / p95   : {p50 * 1000:7.0f} / {pct(warm, 95) * 1000:.0f} ms  (target <= 2000)")
    print(f"/diffusion cached (same seed)    : {hit * 1000:7.0f} ms")
    print(f"our trajectory, in process       : {compute * 1000:7.0f} ms (records x_t, x0, eps every step)")
    print(f"bare: one guided UNet call       : {step_cost * 1000:7.1f} ms; 50 steps + scheduler {bare * 1000:.0f} ms")
    print(f"ratio warm p50 / bare trajectory : {p50 / bare:7.2f}x")
    print(f"scrub one step (look-up + 256 px): {pct(scrub, 50) * 1000:7.2f} ms p50, {pct(scrub, 95) * 1000:.2f} ms p95"
          "  (target <= 50 ms)")


if __name__ == "__main__":
    main()
