"""Hub start-up: process spawn to first HTTP 200, the Glassbox hub beside a bare Gradio Blocks app.

python benchmarks/bench_hub_start.py [--runs 3]   (target: ratio <= 1.3)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import free_port, start, stop

HELLO = """
import gradio as gr
with gr.Blocks() as demo:
    gr.Markdown("hello world")
demo.launch()
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    hello = Path(tempfile.mkdtemp()) / "hello.py"
    hello.write_text(HELLO)
    times: dict[str, list[float]] = {"hello": [], "hub": []}
    for _ in range(args.runs):  # alternate so both see the same machine state
        for name, cmd in (("hello", [sys.executable, str(hello)]), ("hub", [sys.executable, "app.py"])):
            proc, dt = start(cmd, free_port())
            stop(proc)
            times[name].append(dt)
    hub, hello_t = statistics.median(times["hub"]), statistics.median(times["hello"])
    print(f"bare Gradio hello world : {hello_t:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times['hello'])})")
    print(f"Glassbox hub            : {hub:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times['hub'])})")
    print(f"ratio hub / hello       : {hub / hello_t:6.2f}x  (target <= 1.3x)")


if __name__ == "__main__":
    main()
