"""/sam: a warm click on a cached image, in process and over the plain REST API, beside the bare decoder,
and the one-off encode that the cache saves (offline classical engine, and the tiny SAM).

Each click is a new point on the same picture: what a learner's second, third... click costs.

python benchmarks/bench_sam.py [--n 30]   (targets: warm click p50 <= 150 ms in process, <= 300 ms over REST)
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

from common import ROOT, free_port, median_seconds, pct, rest_call, start, stop

sys.path.insert(0, str(ROOT))
from core import images


def main() -> None:
    import numpy as np

    from apps.sam import logic
    from core import models

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    args = ap.parse_args()
    rgb = images.load_image(logic.SAMPLES[logic.START_SAMPLE])
    h, w = rgb.shape[:2]
    rng = np.random.default_rng(0)
    clicks = [[[float(rng.uniform(0.2, 0.8) * w), float(rng.uniform(0.2, 0.8) * h), 1]] for _ in range(args.n + 1)]
    print(f"{w}x{h} photo, one new click per call, cpu, n={args.n}")
    for model in ("sam_classic", "sam_tiny"):
        t0 = time.perf_counter()
        first = logic.segment(rgb, clicks[0], model=model)
        cold = time.perf_counter() - t0
        warm = []
        for c in clicks[1:]:
            t0 = time.perf_counter()
            r = logic.segment(rgb, c, model=model)
            warm.append(time.perf_counter() - t0)
            assert r.embedding_cached
        loaded = models.load(model, "cpu")
        state = loaded.module.encode(rgb)
        pts = np.array(clicks[1], dtype=np.float32)
        decode = functools.partial(loaded.module.decode, state, pts, None, True)
        bare = median_seconds(decode, args.n)
        encode = median_seconds(lambda loaded=loaded: loaded.module.encode(rgb), 5, warmup=1)
        p50 = pct(warm, 50)
        print(f"[{model}] first click (encode {first.encode_ms:.0f} ms + decode): {cold * 1000:7.1f} ms")
        print(f"[{model}] warm click in process p50 / p95  : {p50 * 1000:7.1f} / {pct(warm, 95) * 1000:.1f} ms")
        print(f"[{model}] bare decode p50 / bare encode    : {bare * 1000:7.1f} / {encode * 1000:.1f} ms")
        print(f"[{model}] ratio warm click / bare decode   : {p50 / bare:7.2f}x  (target: p50 <= 150 ms)")

    url = images.to_data_url(rgb)
    port = free_port()
    proc, _ = start([sys.executable, "app.py"], port, env={"GLASSBOX_WARMUP": "0"})
    base = f"http://127.0.0.1:{port}"
    try:
        out, first = rest_call(base, "sam", [url, clicks[0], None, "sam_classic", True])
        rest = []
        for c in clicks[1:]:
            out, t = rest_call(base, "sam", [url, c, None, "sam_classic", True])
            assert out["timing"]["embedding_cached"]
            rest.append(t)
    finally:
        stop(proc)
    print(f"/sam first REST call (cold engine)       : {first * 1000:7.1f} ms")
    print(f"/sam warm REST click p50 / p95            : {pct(rest, 50) * 1000:7.1f} / {pct(rest, 95) * 1000:.1f} ms"
          "  (target: p50 <= 300 ms; includes sending the image and three mask PNGs back)")


if __name__ == "__main__":
    main()
