"""N learners at once: throughput, p50/p95 and where each request's time goes, beside the bare model.

python benchmarks/load.py [--seconds 15] [--clients 1 8] [--endpoints gradcam attention ...]

Each client is closed-loop (sends its next request when the last one answered) and sends a
different input every time (a flipped pixel, a numbered sentence, a new seed), so result caches
never answer. Two paths per endpoint where the page has one: the JSON API over plain REST, and a
browser tab emulated at the protocol level (upload, then the page's own queue events, in order).
For API calls the server's header splits its time into decode / model / encode; "framework" is
the rest of what the client waited (Gradio's queue, routing, JSON, HTTP).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

import requests

from common import ROOT, free_port, median_seconds, pct, start, stop

sys.path.insert(0, str(ROOT))
from clients import BrowserTab, data_url, rest, variant_png


def bare_costs() -> dict[str, float]:
    """Seconds per request of the bare model work each endpoint must do (measured in this process)."""
    import bench_attention
    import bench_diffusion
    import bench_fgsm
    import bench_gradcam

    from apps.diffusion import logic as diffusion

    fb, _, _ = bench_gradcam.bare_cost(20)
    floor, _ = bench_fgsm.floor_cost(20)
    attn, _ = bench_attention.bare_forward(30)
    _, traj = bench_diffusion.bare_unet_trajectory(50, diffusion.default_guidance(), 3)
    return {"gradcam": fb, "fgsm": floor, "attention": attn, "diffusion": traj, "vit": _bare_vit()}


def _bare_vit() -> float:
    import torch

    from core import models

    m = models.load("vit_digits", "cpu").module
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        return median_seconds(lambda: m(x), 35, warmup=5)


SENTENCE = "Learner {i} read that the robot kicked the ball because it was round."


def api_request(name: str, i: int) -> tuple[str, list]:
    """(endpoint, data) for the i-th distinct API request of an endpoint."""
    if name == "gradcam":
        return "gradcam", [data_url(variant_png(i)), "efficientnet_lite0", "gradcam", None]
    if name == "fgsm":
        return "fgsm", [data_url(variant_png(i, "coffee.png")), "efficientnet_lite0", 4, "fgsm", 10, None]
    if name == "attention":
        return "attention", [SENTENCE.format(i=i), "minilm", None]
    if name == "vit":
        return "vit", [data_url(variant_png(i)), "vit_digits", None, None]
    if name == "diffusion":
        return "diffusion", [1000 + i, "ddim", 50, 0.0, i % 10, None, "ddpm_digits"]
    raise KeyError(name)


BROWSER = {"gradcam", "attention"}  # the pages whose main click this script can replay


def play(base: str, name: str, path: str, clients: int, seconds: float, config: dict) -> dict:
    lat: list[float] = []
    phases: list[dict] = []
    errors: list[str] = []
    counter = iter(range(10**9))
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        tab = BrowserTab(base, config) if path == "browser" else None
        http = requests.Session()
        if tab:
            tab.open_page()
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter) + 10_000 * clients  # new inputs for every run of this script's matrix
            t0 = time.perf_counter()
            try:
                if tab and name == "gradcam":
                    tab.gradcam_upload(variant_png(i))
                elif tab:
                    tab.attention_submit(SENTENCE.format(i=i))
                else:
                    api, data = api_request(name, i)
                    out, _ = rest(http, base, api, data)
                    with lock:
                        phases.append({**out.get("timing_ms", {}), "elapsed": out.get("elapsed_ms", 0.0)})
            except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                with lock:
                    errors.append(str(exc)[:200])
                continue
            with lock:
                lat.append(time.perf_counter() - t0)

    t_start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t_start
    row = {"endpoint": name, "path": path, "clients": clients, "n": len(lat), "errors": len(errors),
           "rps": len(lat) / wall, "p50": pct(lat, 50) if lat else float("nan"),
           "p95": pct(lat, 95) if lat else float("nan")}
    if phases:
        mean = {k: statistics.mean(p.get(k, 0.0) for p in phases) for k in ("decode", "model", "encode", "elapsed")}
        row["phases_ms"] = mean
        row["framework_ms"] = statistics.mean(lat) * 1000 - mean["elapsed"]
    if errors:
        row["first_error"] = errors[0]
    return row


def long_jobs_vs_clicks(base: str, seconds: float) -> None:
    """Does a long job starve a click? /gradcam clicks alone, then while one client runs DDPM with 1,000
    steps and another Score-CAM (each tens of seconds of compute) on the same lane."""
    def clicks(tag: str) -> None:
        http, lat, i = requests.Session(), [], 0
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            _, dt = rest(http, base, *api_request("gradcam", 50_000 + 1000 * len(tag) + i))
            lat.append(dt)
            i += 1
        print(f"  /gradcam clicks {tag:<34} n={len(lat):3d}  p50 {pct(lat, 50) * 1000:6.0f} ms  "
              f"p95 {pct(lat, 95) * 1000:6.0f} ms  max {max(lat) * 1000:6.0f} ms", flush=True)

    print("\nlong jobs vs clicks (one compute lane):")
    clicks("alone")
    done: dict[str, float] = {}

    def long(name: str, api: str, data: list) -> None:
        _, dt = rest(requests.Session(), base, api, data)
        done[name] = dt

    ddpm = [77, "ddpm", 1000, 0.0, 3, None, "ddpm_digits"]
    scorecam = [data_url(variant_png(77_777)), "efficientnet_lite0", "scorecam", None]
    jobs = [threading.Thread(target=long, args=("DDPM 1000 steps", "diffusion", ddpm)),
            threading.Thread(target=long, args=("Score-CAM", "gradcam", scorecam))]
    for j in jobs:
        j.start()
    time.sleep(0.5)
    clicks("during DDPM-1000 and Score-CAM")
    for j in jobs:
        j.join()
    for name, dt in done.items():
        print(f"  {name} finished in {dt:.1f} s (it shared the lane with the clicks)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--endpoints", nargs="+", default=["gradcam", "attention", "fgsm", "vit", "diffusion"])
    ap.add_argument("--paths", nargs="+", default=["api", "browser"])
    ap.add_argument("--no-long", action="store_true", help="skip the long-jobs-vs-clicks scenario")
    args = ap.parse_args()

    print("measuring the bare model costs (no server running)…", flush=True)
    bare = bare_costs()
    port = free_port()
    proc, boot = start([sys.executable, "app.py"], port, {"GLASSBOX_WARMUP": "1", "GLASSBOX_OFFLINE": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        config = requests.get(f"{base}/config", timeout=30).json()
        http = requests.Session()
        for name in args.endpoints:  # warm: load every model, fill the lane's first-use costs
            for k in range(3):
                rest(http, base, *api_request(name, -1 - k))
        print(f"hub up in {boot:.1f} s; {args.seconds:g} s per run, distinct inputs, closed-loop clients\n")
        print(f"{'endpoint':<10} {'path':<8} {'N':>2} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} "
              f"{'decode':>6} {'model':>6} {'encode':>6} {'frame':>6}  {'bare ms':>7} {'bare req/s':>10} "
              f"{'% of bare':>9}")
        for name in args.endpoints:
            for path in args.paths:
                if path == "browser" and name not in BROWSER:
                    continue
                for n in args.clients:
                    row = play(base, name, path, n, args.seconds, config)
                    ph = row.get("phases_ms", {})
                    cols = [f"{ph[k]:6.1f}" if k in ph else f"{'-':>6}" for k in ("decode", "model", "encode")]
                    fw = f"{row['framework_ms']:6.1f}" if "framework_ms" in row else f"{'-':>6}"
                    bare_rps = 1 / bare[name]
                    print(f"{name:<10} {path:<8} {n:>2} {row['rps']:6.2f} {row['p50'] * 1000:7.0f} "
                          f"{row['p95'] * 1000:7.0f} {' '.join(cols)} {fw}  {bare[name] * 1000:7.1f} "
                          f"{bare_rps:10.2f} {100 * row['rps'] / bare_rps:8.0f}%"
                          + (f"  errors {row['errors']}: {row.get('first_error')}" if row["errors"] else ""),
                          flush=True)
        if not args.no_long:
            long_jobs_vs_clicks(base, args.seconds)
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
