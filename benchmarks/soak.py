"""Soak: thousands of calls with distinct inputs on every endpoint; memory and disk must stay flat.

python benchmarks/soak.py [--calls 12000] [--round 2000] [--concurrency 4] [--tabs 40] [--trace]

The hub runs as a subprocess with its own temp folder (uploads and exports land there, so
they can be measured). The mix per round:
- every JSON endpoint over REST (images as data URLs and as uploaded files, the way gradio_client
  sends them; CLIP and SAM get a new image each call, GAN new seeds);
- learners' browser tabs (a pool of --tabs sessions, as in a lecture) replaying the Grad-CAM upload
  and the attention page's submit, each followed by the update of the page's link, JSON export and
  cross-links.
After each round it prints the server's RSS once the hub has run its next housekeeping pass (which hands freed
heap pages back: what the hub keeps), RSS the moment the round ended (busy: what it also held under load),
glibc's heap (in use, and freed but still held), the upload and export folders and the calls per second, and
asks the hub for a snapshot of every long-lived structure
(core/memwatch.py: caches, sessions, Gradio's queue, open files; with --trace, the source lines whose
allocations grew most), written to --log as JSON lines.

Pass: at least 6 rounds, and each of the last three grows the kept RSS by less than 1% over the round before
(the exit status is 1 otherwise).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from common import ROOT, free_port, start, stop

sys.path.insert(0, str(ROOT))
from clients import BrowserTab, data_url, rest, server_rss_mb, upload, variant_png


def folder(path: Path) -> tuple[int, float]:
    files = [p for p in path.rglob("*") if p.is_file()] if path.exists() else []
    return len(files), sum(p.stat().st_size for p in files) / 2**20


KINDS = ["gradcam", "gradcam_file", "attention", "vit", "fgsm", "diffusion", "clip", "sam", "gan", "tab_gradcam",
         "tab_attention"]


def one_call(kind: str, i: int, base: str, http: requests.Session, tabs: list[BrowserTab]) -> None:
    if kind == "gradcam":
        rest(http, base, "gradcam", [data_url(variant_png(i)), "efficientnet_lite0", "gradcam", None])
    elif kind == "gradcam_file":
        fd = upload(http, base, f"soak{i}.png", variant_png(i, "coffee.png"))
        rest(http, base, "gradcam", [fd, "efficientnet_lite0", "gradcam", None])
    elif kind == "attention":
        rest(http, base, "attention", [f"Soak sentence number {i} checks that memory stays flat.", "minilm", None])
    elif kind == "vit":
        rest(http, base, "vit", [data_url(variant_png(i, "rocket.jpg")), "vit_digits", None, None])
    elif kind == "fgsm":
        rest(http, base, "fgsm", [data_url(variant_png(i, "coffee.png")), "efficientnet_lite0", 2, "fgsm", 1, None])
    elif kind == "diffusion":
        rest(http, base, "diffusion", [i, "ddim", 10, 0.0, i % 10, None, "ddpm_digits"])
    elif kind == "clip":  # a new image each call: the image-embedding cache must stay bounded
        rest(http, base, "clip", [data_url(variant_png(i, "coffee.png")), ["a cup of coffee", "a cat", f"thing {i}"],
                                  "conse", True, "softmax"])
    elif kind == "sam":  # a new image each call: one encoder run and one cached embedding per call
        rest(http, base, "sam", [data_url(variant_png(i, "coffee.png")), [[60 + i % 50, 80, 1]], None,
                                 "sam_classic", True])
    elif kind == "gan":  # new seeds each call, alternately sampled and edited
        if i % 2:
            rest(http, base, "gan_sample", [[i, i + 1], 1.0, "gan_faces"])
        else:
            rest(http, base, "gan_edit", [[i], "smiling", 1.5, "gan_faces"])
    elif kind == "tab_gradcam":
        tabs[i % len(tabs)].gradcam_upload(variant_png(i, "cat.png"), f"tab{i}.png")
    elif kind == "tab_attention":
        tabs[i % len(tabs)].attention_submit(f"Tab {i} asks where the word it looks.")


def snapshot(pid: int, memlog: Path, timeout: float = 60) -> dict:
    """Ask the hub for a memwatch snapshot (SIGUSR1) and return it."""
    before = memlog.read_text().count("\n") if memlog.exists() else 0
    os.kill(pid, signal.SIGUSR1)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        lines = memlog.read_text().splitlines() if memlog.exists() else []
        if len(lines) > before:
            return json.loads(lines[-1])
        time.sleep(0.2)
    return {}


def settled(pid: int, memlog: Path, snap: dict, timeout: float = 90) -> dict:
    """The hub's snapshot once it has run a housekeeping pass (malloc_trim) after the round's last call.

    Under load RSS also holds what was freed since the last trim (every 30 s): read at an arbitrary moment it
    swung by ~170 MB between rounds and hid the trend either way. Read after a trim, it is what the hub
    keeps: the number that must not grow over a week. (Where there is no glibc there is no trim to wait for.)"""
    trims = snap.get("malloc_trim", {}).get("count")
    t0 = time.monotonic()
    while snap.get("heap_mb") and trims is not None and time.monotonic() - t0 < timeout:
        time.sleep(3)
        later = snapshot(pid, memlog)
        if later.get("malloc_trim", {}).get("count", 0) > trims:
            return later
    return snap


def flat(rss: list[float], rounds: int = 3, limit_pct: float = 1.0) -> tuple[bool, list[float]]:
    """(pass, growth % of each of the last `rounds` rounds over the round before it)."""
    growth = [100 * (b / a - 1) for a, b in zip(rss, rss[1:])][-rounds:]
    return len(rss) >= 6 and all(g < limit_pct for g in growth), growth


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=12000)
    ap.add_argument("--round", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--tabs", type=int, default=40)
    ap.add_argument("--trace", action="store_true", help="tracemalloc in the hub (slower): growth by source line")
    ap.add_argument("--log", default=str(Path(tempfile.gettempdir()) / "glassbox-soak-memlog.jsonl"),
                    help="where the hub's snapshots go (JSON lines; kept after the run)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment for the hub, e.g. MALLOC_ARENA_MAX=2")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="glassbox-soak-"))
    memlog = Path(args.log).resolve()
    memlog.unlink(missing_ok=True)
    env = {"GLASSBOX_WARMUP": "1", "GLASSBOX_OFFLINE": "1", "TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(tmp / "gradio"),
           "GLASSBOX_MEMLOG": str(memlog), **({"GLASSBOX_TRACEMALLOC": "1"} if args.trace else {}),
           **dict(e.split("=", 1) for e in args.env)}
    port = free_port()
    proc, boot = start([sys.executable, "app.py"], port, env)
    base = f"http://127.0.0.1:{port}"
    uid = os.getuid() if hasattr(os, "getuid") else __import__("getpass").getuser()
    uploads, exports = tmp / "gradio", tmp / f"glassbox-{uid}" / "exports"
    try:
        config = requests.get(f"{base}/config", timeout=30).json()
        tabs = [BrowserTab(base, config) for _ in range(args.tabs)]
        for t in tabs:
            t.open_page()
        warm = requests.Session()
        for k, kind in enumerate(KINDS):  # load every model before the first reading
            one_call(kind, 10**8 + k, base, warm, tabs)
        snapshot(proc.pid, memlog)
        print(f"hub up in {boot:.1f} s, warm RSS {server_rss_mb(proc.pid):.0f} MB; "
              f"{args.calls} calls in rounds of {args.round}, {args.concurrency} at a time, {args.tabs} tabs"
              f"{'; ' + ' '.join(args.env) if args.env else ''}")
        print(f"{'calls':>6} {'RSS MB':>7} {'growth':>7} {'busy MB':>7} {'heap use':>8} {'held':>6} {'uploads':>13} "
              f"{'exports':>13} {'calls/s':>8} {'errors':>6}")
        counter = itertools.count()
        lock = threading.Lock()
        errors: list[str] = []
        rss, busy = [], []  # RSS once the hub has trimmed after a round; RSS the moment the round ended
        done = 0
        while done < args.calls:
            todo = min(args.round, args.calls - done)
            t0 = time.perf_counter()

            def worker(todo=todo, start_at=done, counter=counter) -> None:
                http = requests.Session()
                while True:
                    with lock:
                        j = next(counter)
                    if j >= start_at + todo:
                        return
                    try:
                        one_call(KINDS[j % len(KINDS)], j, base, http, tabs)
                    except Exception as exc:  # noqa: BLE001 - counted; the soak goes on
                        with lock:
                            errors.append(f"{KINDS[j % len(KINDS)]}: {str(exc)[:160]}")

            threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            counter = itertools.count(done + todo)
            done += todo
            rate = todo / (time.perf_counter() - t0)
            busy.append(server_rss_mb(proc.pid))
            snap = settled(proc.pid, memlog, snapshot(proc.pid, memlog))
            rss.append(server_rss_mb(proc.pid))
            growth = f"{100 * (rss[-1] / rss[-2] - 1):+6.1f}%" if len(rss) > 1 else f"{'':>7}"
            heap = snap.get("heap_mb", {})
            n_up, mb_up = folder(uploads)
            n_ex, mb_ex = folder(exports)
            print(f"{done:6d} {rss[-1]:7.0f} {growth} {busy[-1]:7.0f} {heap.get('in_use', 0):8.0f} "
                  f"{heap.get('free_held', 0):6.0f} {n_up:5d} {mb_up:5.1f} MB {n_ex:5d} {mb_ex:5.1f} MB {rate:8.1f} "
                  f"{len(errors):6d}", flush=True)
            print(f"       structures: {json.dumps(snap.get('structures', {}))}", flush=True)
            if snap.get("traced_growth_kb"):
                top = list(snap["traced_growth_kb"].items())[:5]
                print("       traced growth (KB): " + "; ".join(f"{k} {v:+.0f}" for k, v in top), flush=True)
        ok, growth = flat(rss)
        last = ", ".join(f"{g:+.2f}%" for g in growth)
        print(f"\nlast {len(growth)} rounds: {last} ({'flat: PASS' if ok else 'FAIL'}; "
              f"target: 6+ rounds, each of the last three < 1%); RSS under load at most {max(busy):.0f} MB")
        if errors:
            print(f"{len(errors)} errors, first: {errors[0]}")
        print(f"snapshots: {memlog}")
        return 0 if ok and not errors else 1
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
