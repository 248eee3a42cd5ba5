"""Soak: thousands of calls with distinct inputs on every endpoint; memory and disk must stay flat.

python benchmarks/soak.py [--calls 4000] [--round 1000] [--concurrency 4] [--tabs 40]

The hub runs as a subprocess with its own temp folder (uploads and exports land there, so
they can be measured). The mix per round:
- every JSON endpoint over REST (images as data URLs and as uploaded files, the way gradio_client
  sends them; CLIP and SAM get a new image each call, GAN new seeds);
- learners' browser tabs (a pool of --tabs sessions, as in a lecture) replaying the Grad-CAM upload
  and the attention page's submit, each followed by the update of the page's link, JSON export and
  cross-links.
After each round it prints the server's RSS, the upload and export folders, and the calls per
second. Target: the third round grows RSS by less than 5% over the second.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from common import ROOT, free_port, start, stop

sys.path.insert(0, str(ROOT))
from clients import BrowserTab, data_url, rest, server_rss_mb, upload, variant_png  # noqa: E402


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=4000)
    ap.add_argument("--round", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--tabs", type=int, default=40)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="glassbox-soak-"))
    env = {"GLASSBOX_WARMUP": "1", "GLASSBOX_OFFLINE": "1", "TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(tmp / "gradio")}
    port = free_port()
    proc, boot = start([sys.executable, "app.py"], port, env)
    base = f"http://127.0.0.1:{port}"
    uploads, exports = tmp / "gradio", tmp / "glassbox-exports"
    try:
        config = requests.get(f"{base}/config", timeout=30).json()
        tabs = [BrowserTab(base, config) for _ in range(args.tabs)]
        for t in tabs:
            t.open_page()
        warm = requests.Session()
        for k, kind in enumerate(KINDS):  # load every model before the first reading
            one_call(kind, 10**8 + k, base, warm, tabs)
        print(f"hub up in {boot:.1f} s, warm RSS {server_rss_mb(proc.pid):.0f} MB; "
              f"{args.calls} calls in rounds of {args.round}, {args.concurrency} at a time, {args.tabs} tabs")
        print(f"{'calls':>6} {'RSS MB':>7} {'growth':>7} {'uploads':>13} {'exports':>13} {'calls/s':>8} {'errors':>6}")
        counter = itertools.count()
        lock = threading.Lock()
        errors: list[str] = []
        rss = []
        done = 0
        while done < args.calls:
            todo = min(args.round, args.calls - done)
            t0 = time.perf_counter()

            def worker(todo=todo, start_at=done) -> None:
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
            rss.append(server_rss_mb(proc.pid))
            growth = f"{100 * (rss[-1] / rss[-2] - 1):+6.1f}%" if len(rss) > 1 else f"{'':>7}"
            n_up, mb_up = folder(uploads)
            n_ex, mb_ex = folder(exports)
            print(f"{done:6d} {rss[-1]:7.0f} {growth} {n_up:5d} {mb_up:5.1f} MB {n_ex:5d} {mb_ex:5.1f} MB "
                  f"{todo / (time.perf_counter() - t0):8.1f} {len(errors):6d}", flush=True)
        if len(rss) >= 3:
            g = 100 * (rss[2] / rss[1] - 1)
            print(f"\nround 3 over round 2: {g:+.1f}% ({'flat: PASS' if g < 5 else 'growing: FAIL'}, target < 5%)")
        if errors:
            print(f"{len(errors)} errors, first: {errors[0]}")
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
