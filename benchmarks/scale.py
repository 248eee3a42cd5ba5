"""Beyond one box, measured on this one: the load benchmark's learners against a single process, then against
nginx + 2 front ends + Ray Serve with 1 and with 2 replicas; Ray's overhead per request; the capacity table.

python benchmarks/scale.py [--seconds 15] [--clients 8] [--think-s 10] [--learners 40 400 4000] [--gpu-ms MS]
                           [--json FILE] [--capacity-from FILE]

Needs the Ray extra (pip install -r requirements-ray.txt) and Debian's nginx. Every server it starts listens on
127.0.0.1 and is stopped at the end. The learners are benchmarks/load.py's: closed-loop, a new input every
request (no result cache answers), over the JSON API and as a browser tab at the protocol level.

Two cores cannot show a large speed-up: the front ends, nginx, Ray's own processes and the replicas all share
them. What carries over to a bigger cluster are the per-replica throughput, the CPU each front end spends per
request, and Ray's overhead per request; the capacity table is computed from those.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import load  # benchmarks/load.py: its learners and request mix
import requests

from clients import cpu_seconds, rest
from common import free_port, pct, start, stop
from deploy import local

RUNS = [("gradcam", "api"), ("attention", "api"), ("gradcam", "browser")]


def ray_overhead(address: str, n: int = 300) -> dict[str, float]:
    """p50/p95 ms of an empty lane job: on this process's lane, and on a Ray Serve replica's (the round trip)."""
    from core import lane, remote

    def timed(k: int) -> list[float]:
        out = []
        for _ in range(k):
            t0 = time.perf_counter()
            lane.run(lambda: None, "noop")
            out.append((time.perf_counter() - t0) * 1000)
        return out

    os.environ.pop("GLASSBOX_BACKEND", None)
    timed(20)
    on_lane = timed(n)
    os.environ.update(GLASSBOX_BACKEND="ray", GLASSBOX_RAY_ADDRESS=address)
    try:
        timed(20)
        via_ray = timed(n)
    finally:
        remote.disconnect()
        os.environ.pop("GLASSBOX_BACKEND", None)
    return {"local_p50": statistics.median(on_lane), "local_p95": pct(on_lane, 95),
            "ray_p50": statistics.median(via_ray), "ray_p95": pct(via_ray, 95)}


def measure(base: str, label: str, args, config: dict, pids: list[int]) -> list[dict]:
    """The RUNS against one set-up; each row with the CPU the front-end processes spent per request."""
    http = requests.Session()
    for name in ("gradcam", "attention"):  # warm: each replica loads its models, lanes do their first-use work
        for k in range(6):
            rest(http, base, *load.api_request(name, -1 - k))
    rows = []
    for name, path in RUNS:
        cpu0 = sum(cpu_seconds(p) for p in pids)
        row = load.play(base, name, path, args.clients, args.seconds, config)
        row["front_cpu_ms"] = (sum(cpu_seconds(p) for p in pids) - cpu0) * 1000 / max(1, row["n"])
        row["setup"] = label
        rows.append(row)
        print(f"{label:<26} {name:<10} {path:<8} {row['clients']:>2} {row['rps']:6.2f} {row['p50'] * 1000:7.0f} "
              f"{row['p95'] * 1000:7.0f} {row['errors']:>6} {row['front_cpu_ms']:9.1f}"
              + (f"  first error: {row.get('first_error')}" if row["errors"] else ""), flush=True)
    return rows


def capacity(rows: list[dict], overhead: dict, args) -> None:
    """Replicas and front-end cores for N learners, from the numbers above."""
    one = next(r for r in rows if r["setup"].endswith("1 replica") and r["endpoint"] == "gradcam"
               and r["path"] == "api")
    per_replica = one["rps"]  # one replica on one core, kept busy by the clients
    # A learner clicks in a browser: the front ends' CPU per browser click (summed over both front ends) sizes them.
    clicks = [r for r in rows if r["setup"].startswith("nginx") and r["path"] == "browser"]
    front_cpu = statistics.mean(r["front_cpu_ms"] for r in clicks)
    per_front = 0.7 * 1000 / front_cpu  # clicks/s one front-end core carries at 70% busy
    print(f"\nper replica (1 core, Grad-CAM API, {args.clients} clients): {per_replica:.2f} req/s; "
          f"front-end CPU per browser click: {front_cpu:.0f} ms -> {per_front:.1f} clicks/s per front-end core at 70%")
    extra = overhead["ray_p50"] - overhead["local_p50"]
    print(f"Ray's overhead per request (an empty job through a handle, minus the same on the local lane): "
          f"p50 {extra:.1f} ms, p95 {overhead['ray_p95'] - overhead['local_p95']:.1f} ms")
    demand = 1 / args.think_s
    print(f"\ncapacity at a lecture's peak: every learner asks the model once per {args.think_s:g} s "
          f"({demand:.2f} req/s each); replicas and front ends kept at 70% busy")
    gpu_rps = 1000 / (args.gpu_ms + extra) if args.gpu_ms else None
    head = f"{'learners':>9} {'req/s':>7} {'CPU replicas (1 core)':>22} {'front-end cores':>16}"
    print(head + (f" {'GPU replicas':>13}" if gpu_rps else ""))
    for n in args.learners:
        rps = n * demand
        line = f"{n:>9} {rps:7.1f} {math.ceil(rps / (0.7 * per_replica)):>22} {math.ceil(rps / per_front):>16}"
        if gpu_rps:
            line += f" {math.ceil(rps / (0.7 * gpu_rps)):>13}"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--think-s", type=float, default=10, help="seconds between one learner's model requests")
    ap.add_argument("--learners", type=int, nargs="+", default=[40, 400, 4000])
    ap.add_argument("--json", type=Path, default=None, help="also write the measured rows and overhead here")
    ap.add_argument("--capacity-from", type=Path, default=None,
                    help="print the capacity table from a --json file of an earlier run, measuring nothing")
    ap.add_argument("--gpu-ms", type=float, default=None,
                    help="a GPU replica's model ms per Grad-CAM request (benchmarks/bench_gradcam.py on the GPU): "
                         "adds a GPU column; not measured here (no GPU on this box)")
    args = ap.parse_args()
    if args.capacity_from:
        saved = json.loads(args.capacity_from.read_text())
        capacity(saved["rows"], saved["overhead"], args)
        return
    env = {"GLASSBOX_WARMUP": "1", "GLASSBOX_OFFLINE": "1"}
    print(f"{'set-up':<26} {'endpoint':<10} {'path':<8} {'N':>2} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'errors':>6} {'front CPU':>9}")
    rows: list[dict] = []

    port = free_port()
    proc, _ = start([sys.executable, "app.py"], port, env)
    try:
        base = f"http://127.0.0.1:{port}"
        rows += measure(base, "single process (local)", args, requests.get(f"{base}/config", timeout=30).json(),
                        [proc.pid])
    finally:
        stop(proc)

    head, address, tmp = local.ray_head(env=env)
    fronts, lb = [], None
    try:
        local.serve_up(address, 1, quiet=True)
        front_env = {**env, "GLASSBOX_BACKEND": "ray", "GLASSBOX_RAY_ADDRESS": address, "GLASSBOX_WARMUP": "0"}
        for _ in range(2):
            p = free_port()
            fronts.append((start([sys.executable, "app.py"], p, front_env)[0], p))
        lb = local.start_nginx([p for _, p in fronts])
        base = lb[1]
        config = requests.get(f"{base}/config", timeout=30).json()
        pids = [f.pid for f, _ in fronts]
        rows += measure(base, "nginx+2 fronts, 1 replica", args, config, pids)
        local.serve_up(address, 2, quiet=True)
        rows += measure(base, "nginx+2 fronts, 2 replicas", args, config, pids)
        overhead = ray_overhead(address)
    finally:
        if lb is not None:
            local.stop_nginx(lb[0], lb[2])
        for f, _ in fronts:
            stop(f)
        local.stop_ray(head, tmp)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "overhead": overhead}, indent=1))
    capacity(rows, overhead, args)


if __name__ == "__main__":
    main()
