"""Measure GAN Lab lite (apps/gan_latent/lab.py) over seeds and CPU kernel sets; record it in MANIFEST.json.

A 2-D GAN's training is chaotic: a difference in the last bit of one sum (another CPU's kernels) grows into
another run, so what the lab can promise is what holds over many runs, not what one run did. This trains each
loss from several seeds, each under several of torch's CPU kernel sets (ATEN_CPU_CAPABILITY; with matching
MKL and oneDNN instruction caps, to stand in for other CPUs), records the blobs covered every 50 steps, and
writes the summary the page quotes (`gan_lab` in assets/models/MANIFEST.json).

Run: .venv/bin/python training/measure_gan_lab.py [--seeds 8] (about half an hour on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# torch's kernel set, and MKL's and oneDNN's instruction caps that go with it (a CPU without AVX-512 runs all three)
KERNEL_SETS = {
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                "ONEDNN_MAX_CPU_ISA": "SSE41"},
}
STEPS = {"standard": 5000, "wgan-gp": 3000}


def runs(seeds: int) -> dict[str, list[list[int]]]:
    """In this process (one kernel set): loss -> per seed, the blobs covered at every recorded step."""
    from apps.gan_latent import lab

    out = {}
    for loss, steps in STEPS.items():
        out[loss] = [[h["modes"] for h in lab.train(lab.new_run(loss, seed), steps).history] for seed in range(seeds)]
    return out


def summary(by_set: dict[str, dict[str, list[list[int]]]], every: int) -> dict:
    """What every run showed: the numbers the page and the tests quote."""
    from apps.gan_latent.lab import COVERS

    std = [r for s in by_set.values() for r in s["standard"]]
    wgan = [r for s in by_set.values() for r in s["wgan-gp"]]
    at = lambda runs_, step: [r[step // every - 1] for r in runs_]  # noqa: E731 - coverage at `step`
    first_cover = [next(((i + 1) * every for i, m in enumerate(r) if m >= COVERS), None) for r in wgan]
    recovered = [next(((i + 1) * every for i, m in enumerate(r) if m >= COVERS), None) for r in std]
    return {
        "runs": len(wgan), "seeds": len(next(iter(by_set.values()))["standard"]), "kernel_sets": list(by_set),
        "standard_max_blobs_through_1500": max(max(r[: 1500 // every]) for r in std),
        "standard_blobs_at_1500": at(std, 1500),
        "standard_runs_covering_by_5000": sum(s is not None for s in recovered),
        "standard_first_covering_step": min((s for s in recovered if s), default=None),
        "wgan_min_blobs_at_3000": min(at(wgan, 3000)),
        "wgan_blobs_at_1500": at(wgan, 1500),
        "wgan_first_cover_step": {"min": min(s or 10**9 for s in first_cover),
                                  "max": max(s or 10**9 for s in first_cover)},
        "wgan_runs_covering_by_3000": sum(s is not None for s in first_cover),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--one", action="store_true", help="(internal) measure in this process, print JSON")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(runs(args.seeds)))
        return
    from apps.gan_latent import lab

    t0 = time.perf_counter()
    procs = {name: subprocess.Popen([sys.executable, __file__, "--one", "--seeds", str(args.seeds)], cwd=ROOT,
                                    env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
             for name, env in KERNEL_SETS.items()}
    by_set = {}
    for name, p in procs.items():
        out, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"{name}: the measurement failed")
        by_set[name] = json.loads(out)
    result = {"script": "training/measure_gan_lab.py", "steps": STEPS, "record_every": lab.RECORD_EVERY,
              **summary(by_set, lab.RECORD_EVERY),
              # every run, one digit per recorded step (blobs covered, 0-8): compact enough to keep
              "coverage": {k: {loss: ["".join(map(str, r)) for r in rs] for loss, rs in v.items()}
                           for k, v in by_set.items()},
              "measured_in_s": round(time.perf_counter() - t0)}
    path = ROOT / "assets" / "models" / "MANIFEST.json"
    manifest = json.loads(path.read_text())
    manifest["gan_lab"] = result
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "coverage"}, indent=2))


if __name__ == "__main__":
    main()
