"""Opening a page: seconds from navigation to the computed first view (the link box filled), per page of the
Gradio hub in Chromium, once the warm-up has run; and the same page opened from a lesson-step link.

The first view is served from the caches the warm-up filled, so this is the cost of the page itself (Gradio's
front end, the load event, sending the pictures), not of the models.

python benchmarks/bench_open.py [--rounds 3]   (needs Debian's chromium and playwright, as the browser tests)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import ROOT, free_port, start, stop

sys.path.insert(0, str(ROOT))
from apps.registry import DEMOS

SLUGS = [d.slug for d in DEMOS if d.built]  # every page of the registry
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup-wait", type=float, default=60.0, help="seconds to let the background warm-up run")
    args = ap.parse_args()
    port = free_port()
    proc, boot = start([sys.executable, "app.py"], port, {"GLASSBOX_WARMUP": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        time.sleep(args.warmup_wait)
        print(f"hub up in {boot:.1f} s; warm-up given {args.warmup_wait:.0f} s; {args.rounds} rounds per page")
        print(f"{'page':16s} {'open (s)':>9s} {'lesson step 2 link (s)':>23s}")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            home = []
            for _ in range(args.rounds):  # the front end alone: the landing page has no model work
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                t0 = time.perf_counter()
                page.goto(base)
                page.wait_for_selector("#card-gradcam")
                home.append(time.perf_counter() - t0)
                page.close()
            print(f"{'(landing page)':16s} {statistics.median(home):9.2f}")
            for slug in SLUGS:
                times = {"open": [], "lesson": []}
                for _ in range(args.rounds):
                    for kind, url in (("open", f"{base}/{slug}"), ("lesson", f"{base}/{slug}?lesson=2")):
                        page = browser.new_page(viewport={"width": 1280, "height": 900})
                        t0 = time.perf_counter()
                        page.goto(url)
                        page.wait_for_function(
                            f"(document.querySelector('#{slug}-link textarea, #{slug}-link input')?.value || '')"
                            ".includes('?')", timeout=120_000)
                        times[kind].append(time.perf_counter() - t0)
                        page.close()
                print(f"{slug:16s} {statistics.median(times['open']):9.2f} {statistics.median(times['lesson']):23.2f}")
            browser.close()
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
