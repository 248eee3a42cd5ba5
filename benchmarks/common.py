"""Helpers for the benchmark scripts: start a server process, time it, summarise numbers."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy import local  # noqa: E402

free_port = local.free_port  # a free port on 127.0.0.1


def start(cmd: list[str], port: int, env: dict | None = None, timeout: float = 120) -> tuple[subprocess.Popen, float]:
    """Start a server; return (process, seconds from spawn to the first HTTP 200 on /)."""
    full_env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return proc, time.perf_counter() - t0
        except requests.RequestException:
            pass
        time.sleep(0.05)
    stop(proc)
    raise TimeoutError(url)


stop = local.stop_process  # SIGTERM, then SIGKILL after 15 s; only processes this script started


def median_seconds(fn, n: int, warmup: int = 3) -> float:
    """The median wall time of fn() over n runs, after `warmup` runs left out (caches, lazy set-up)."""
    times = []
    for _ in range(n + warmup):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[warmup:])


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def rest_call(base: str, api: str, data: list, session: requests.Session | None = None) -> tuple[dict, float]:
    """One call over gradio's plain REST API (POST, then read the event stream). Returns (payload, seconds)."""
    import json

    http = session or requests
    t0 = time.perf_counter()
    r = http.post(f"{base}/gradio_api/call/{api}", json={"data": data}, timeout=120)
    r.raise_for_status()
    stream = http.get(f"{base}/gradio_api/call/{api}/{r.json()['event_id']}", timeout=600).text
    dt = time.perf_counter() - t0
    if "event: complete" not in stream:
        raise RuntimeError(f"/{api} failed: {stream[-300:]}")
    line = next(ln for ln in stream.split("event: complete", 1)[1].splitlines() if ln.startswith("data: "))
    return json.loads(line.removeprefix("data: "))[0], dt
