"""/attention latency for a 20-token sentence over the plain REST API, beside the bare forward pass.

python benchmarks/bench_attention.py [--n 30]   (target: <= 1.5x the bare forward, <= 150 ms)
Each timed call changes one word so the result cache never answers.
"""

from __future__ import annotations

import argparse
import sys

from common import ROOT, free_port, median_seconds, pct, rest_call, start, stop

sys.path.insert(0, str(ROOT))

WORDS = ["red", "blue", "green", "small", "heavy", "old", "new", "round", "soft", "shiny", "muddy", "striped"]


def sentence(i: int) -> str:
    word = WORDS[i % len(WORDS)]
    return f"The robot kicked the {word} ball because it was programmed to score {i} goals in the game."


def bare_forward(n: int) -> tuple[float, int]:
    import torch

    from core import models

    tm = models.load("minilm", "cpu").module
    enc = tm.tokenizer(sentence(0), return_tensors="pt")
    with torch.no_grad():
        return median_seconds(lambda: tm(**enc), n), enc["input_ids"].shape[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    args = ap.parse_args()
    port = free_port()
    proc, _ = start([sys.executable, "app.py"], port, env={"GLASSBOX_WARMUP": "0"})
    base = f"http://127.0.0.1:{port}"
    try:
        _, first = rest_call(base, "attention", [sentence(0), "minilm", None])
        warm = [rest_call(base, "attention", [sentence(i), "minilm", None])[1] for i in range(1, args.n + 1)]
    finally:
        stop(proc)
    bare, tokens = bare_forward(args.n)
    p50 = pct(warm, 50)
    print(f"{tokens}-token sentence, all-MiniLM-L6-v2 on cpu, n={args.n}")
    print(f"/attention first call (cold model) : {first * 1000:7.1f} ms")
    print(f"/attention warm REST p50 / p95     : {p50 * 1000:7.1f} / {pct(warm, 95) * 1000:.1f} ms")
    print(f"bare forward (with attentions) p50 : {bare * 1000:7.1f} ms")
    print(f"ratio warm p50 / bare forward      : {p50 / bare:7.2f}x  (target <= 1.5x and <= 150 ms)")


if __name__ == "__main__":
    main()
