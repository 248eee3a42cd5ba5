"""Measure the CLIP page's offline stand-in (ConSE) and record the numbers in assets/models/MANIFEST.json.

ConSE trains nothing; what needs measuring is how often it picks the right label. The set is the gallery's
six photos with one plain label each (the kind a learner types), with prompt templates on and off.
Deterministic (no sampling); a few seconds on 2 cores. Run: .venv/bin/python training/measure_conse.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Each gallery photo and the plain label a learner would type for it (the first word is the file name).
GALLERY_LABELS = {"astronaut": "an astronaut", "cat": "a cat", "coffee": "a cup of coffee", "flower": "a flower",
                  "rocket": "a rocket", "temple": "a temple"}


def measure() -> dict:
    from apps.clip_zero_shot import logic

    labels = list(GALLERY_LABELS.values())
    out = {}
    for templates in (True, False):
        picks = {name: logic.classify(logic.SAMPLES[name], labels, "conse", templates).top["label"]
                 for name in GALLERY_LABELS}
        right = sum(picks[name] == GALLERY_LABELS[name] for name in GALLERY_LABELS)
        out["templates" if templates else "bare_labels"] = {"correct": right, "of": len(GALLERY_LABELS),
                                                           "picks": picks}
    return out


def main() -> None:
    t0 = time.perf_counter()
    gallery = measure()
    manifest_path = ROOT / "assets" / "models" / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["conse"] = {
        "script": "training/measure_conse.py",
        "what": "zero-shot stand-in: EfficientNet-Lite0's top-10 ImageNet classes, their names embedded by "
                "all-MiniLM-L6-v2 ('a photo of a {}.') and mixed by probability (ConSE, Norouzi et al. 2014)",
        "trained": False,
        "gallery_labels": GALLERY_LABELS,
        "gallery": gallery,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest["conse"]["gallery"], indent=2))


if __name__ == "__main__":
    main()
