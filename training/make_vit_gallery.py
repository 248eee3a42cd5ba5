"""Write the ViT patch viewer's sample gallery: fixed generated test images, as small PNGs.

python training/make_vit_gallery.py
The pages read these files instead of generating images at start-up (generation needs
torch and scikit-learn, which the hub must not import before it is serving).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apps.vit_patches import data  # noqa: E402

OUT = ROOT / "assets" / "images" / "vit_digits"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    index = []
    for i, s in enumerate(data.gallery(8)):
        name = f"digit_{i}.png"
        Image.fromarray(s.image).save(OUT / name)
        index.append({"file": name, "label": s.label, "box": list(s.box)})
    (OUT / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"wrote {len(index)} images to {OUT}")


if __name__ == "__main__":
    main()
