"""/clip latency over the plain REST API beside the bare image pass (offline ConSE stand-in).

Every call sends a new image (no image-cache hit) with the same six labels (cached after the first call),
which is what a class clicking through its own photos costs.

python benchmarks/bench_clip_zero_shot.py [--n 30]   (target: warm p50 <= 300 ms)
"""

from __future__ import annotations

import argparse
import sys

from common import ROOT, free_port, median_seconds, pct, rest_call, start, stop

sys.path.insert(0, str(ROOT))
from core import images, vision


def main() -> None:
    import numpy as np

    from apps.clip_zero_shot import logic
    from core import models

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    args = ap.parse_args()
    base_img = images.load_image(logic.SAMPLES["cat"])
    rng = np.random.default_rng(3)
    # New pixels each call (a little noise on the cat), the size of a phone photo scaled for the web.
    imgs = [np.clip(base_img.astype(np.int16) + rng.integers(-3, 4, base_img.shape), 0, 255).astype(np.uint8)
            for _ in range(args.n + 1)]
    urls = [images.to_data_url(i) for i in imgs]
    labels = "\n".join(logic.DEFAULT_LABELS)
    port = free_port()
    proc, _ = start([sys.executable, "app.py"], port, env={"GLASSBOX_WARMUP": "0"})
    base = f"http://127.0.0.1:{port}"
    try:
        _, first = rest_call(base, "clip", [urls[0], labels, "conse", True, "softmax"])
        warm = [rest_call(base, "clip", [u, labels, "conse", True, "softmax"])[1] for u in urls[1:]]
    finally:
        stop(proc)
    loaded = models.load("conse", "cpu")
    x = vision.to_tensor(vision.to_model_input(imgs[0], vision.input_size(loaded.spec, imgs[0].shape[:2])))
    loaded.module.encode_image(x)  # class-name embeddings built once
    bare = median_seconds(lambda: loaded.module.encode_image(x), args.n)
    p50 = pct(warm, 50)
    print(f"{base_img.shape[1]}x{base_img.shape[0]} photo, a new one per call, 6 labels, ConSE on cpu, n={args.n}")
    print(f"/clip first call (cold models) : {first * 1000:7.1f} ms")
    print(f"/clip warm REST p50 / p95      : {p50 * 1000:7.1f} / {pct(warm, 95) * 1000:.1f} ms")
    print(f"bare image pass p50            : {bare * 1000:7.1f} ms")
    print(f"ratio warm p50 / bare pass     : {p50 / bare:7.2f}x  (target: p50 <= 300 ms)")


if __name__ == "__main__":
    main()
