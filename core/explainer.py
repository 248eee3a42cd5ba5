"""Read a demo's explainer.md, filling in numbers that come from its model rather than from prose.

A sentence such as "we measured ours" must show the measurement of the model that ships; writing
the numbers by hand would let them drift from the manifest. Placeholders are `{{name}}`; a page
passes the values, and a placeholder left without one is an error (a test renders every explainer).
"""

from __future__ import annotations

import re
from pathlib import Path

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def load(demo_dir: Path | str, values: dict[str, str] | None = None) -> str:
    text = (Path(demo_dir) / "explainer.md").read_text(encoding="utf-8")
    values = values or {}
    missing = sorted({m for m in _PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise KeyError(f"{demo_dir}/explainer.md needs values for: {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)
