"""Every benchmark `make bench` prints: the hub's start-up, then one script per demo of the registry.

A demo's benchmark is benchmarks/bench_<slug>.py (warm latency per endpoint beside the bare model cost); a built
demo without one stops the run with its name, so a new demo cannot be left out of the list by accident.

python benchmarks/run_all.py
"""

from __future__ import annotations

import subprocess
import sys

from common import ROOT

sys.path.insert(0, str(ROOT))
from apps.registry import DEMOS

HERE = ROOT / "benchmarks"


def scripts() -> list:
    """The hub's start-up, then each built demo's benchmark, in the registry's (teaching) order."""
    found = [HERE / "bench_hub_start.py"]
    for d in DEMOS:
        if d.built:
            script = HERE / f"bench_{d.slug}.py"
            if not script.is_file():
                raise SystemExit(f"no benchmark for the {d.title} demo: write {script.relative_to(ROOT)}")
            found.append(script)
    return found


def main() -> None:
    failed = []
    for script in scripts():
        print(f"\n>> {script.relative_to(ROOT)}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=ROOT).returncode != 0:
            failed.append(script.name)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
