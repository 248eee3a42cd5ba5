"""/gradcam latency over the plain REST API and gradio_client, beside the bare model cost.

python benchmarks/bench_gradcam.py [--n 30]
Each timed call sends a different image (one pixel changed), so the result cache never
answers; the cache-hit latency is printed separately.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import ROOT, free_port, pct, rest_call, start, stop

sys.path.insert(0, str(ROOT))
from core import images, vision


def variants(n: int) -> list[str]:
    base = images.load_image(ROOT / "assets" / "images" / "cat.png")
    out = []
    for i in range(n):
        img = base.copy()
        img[i % img.shape[0], 0] ^= 1  # a different image to the cache, the same picture to the model
        out.append(images.to_data_url(img))
    return out


def bare_cost(n: int) -> tuple[float, float, tuple[int, int]]:
    """p50 of one forward+backward (and one forward) of the bare model on the same input the endpoint uses."""
    import torch

    from core import models

    loaded = models.load("efficientnet_lite0", "cpu")
    rgb = images.load_image(ROOT / "assets" / "images" / "cat.png")
    size = vision.input_size(loaded.spec, rgb.shape[:2])
    x = vision.to_tensor(vision.to_model_input(rgb, size))  # (1, 3, h, w)
    fb, fwd = [], []
    for _ in range(n + 3):
        t0 = time.perf_counter()
        logits = loaded.module(x.clone().requires_grad_(False))  # (1, 1000)
        logits[0, logits.argmax()].backward()
        fb.append(time.perf_counter() - t0)
        with torch.no_grad():
            t0 = time.perf_counter()
            loaded.module(x)
            fwd.append(time.perf_counter() - t0)
    return statistics.median(fb[3:]), statistics.median(fwd[3:]), size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    args = ap.parse_args()
    port = free_port()
    proc, started = start([sys.executable, "app.py"], port, env={"GLASSBOX_WARMUP": "0"})
    base = f"http://127.0.0.1:{port}"
    try:
        urls = variants(args.n + 1)
        _, first = rest_call(base, "gradcam", [urls[0], "efficientnet_lite0", "gradcam", None])
        rest = [rest_call(base, "gradcam", [u, "efficientnet_lite0", "gradcam", None])[1] for u in urls[1:]]
        hits = [rest_call(base, "gradcam", [urls[1], "efficientnet_lite0", "gradcam", None])[1] for _ in range(10)]
        from gradio_client import Client, handle_file

        client = Client(base + "/", verbose=False)
        path = ROOT / "assets" / "images" / "cat.png"
        client.predict(handle_file(str(path)), api_name="/gradcam")
        via_client = []
        for _ in range(10):
            t0 = time.perf_counter()
            client.predict(handle_file(str(path)), api_name="/gradcam")  # cached result: client overhead
            via_client.append(time.perf_counter() - t0)
    finally:
        stop(proc)
    fb, fwd, size = bare_cost(args.n)
    p50, p95 = pct(rest, 50), pct(rest, 95)
    print(f"input {size[0]}x{size[1]} (cat.png, whole image), EfficientNet-Lite0 on cpu, n={args.n}")
    print(f"hub start (spawn -> HTTP 200)        : {started:7.2f} s")
    print(f"/gradcam first call (cold model)     : {first * 1000:7.1f} ms")
    print(f"/gradcam warm REST p50 / p95         : {p50 * 1000:7.1f} / {p95 * 1000:.1f} ms")
    print(f"/gradcam cache hit REST p50          : {statistics.median(hits) * 1000:7.1f} ms")
    print(f"/gradcam via gradio_client p50 (hit) : {statistics.median(via_client) * 1000:7.1f} ms")
    print(f"bare forward+backward p50            : {fb * 1000:7.1f} ms   (forward only {fwd * 1000:.1f} ms)")
    print(f"ratio warm p50 / bare fwd+bwd        : {p50 / fb:7.2f}x  (target <= 1.5x and <= 300 ms)")


if __name__ == "__main__":
    main()
