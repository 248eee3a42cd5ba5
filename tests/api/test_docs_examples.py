"""The docs' code, run as a reader would: every Python block of a docs page, in order and in one namespace per
page, from the repo root, against a started hub; and every endpoint the hub serves has an example on the API
page. The shell commands the docs give name make targets, scripts and modules that exist."""

from __future__ import annotations

import contextlib
import io
import re
import shlex

import pytest

from apps import registry
from conftest import ROOT

pytestmark = pytest.mark.api
DOCS = ROOT / "docs"
DOCUMENTED = "http://127.0.0.1:7860/"


def blocks(page, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", page.read_text(encoding="utf-8"), flags=re.S | re.M)


PAGES_WITH_CODE = [p for p in sorted(DOCS.glob("*.md")) if blocks(p, "python")]


def test_the_api_page_has_an_example_for_every_endpoint_the_hub_serves(client):
    served = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    called = set(re.findall(r'api_name="(/[a-z_]+)"', "\n".join(blocks(DOCS / "api.md", "python"))))
    assert len(served) > len(registry.DEMOS) and "/class_vote" in served, served  # the demos and the live class
    assert served - called == set(), f"endpoints with no example on docs/api.md: {sorted(served - called)}"
    assert called - served == set(), f"docs/api.md calls endpoints the hub does not serve: {sorted(called - served)}"


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: p.name)
def test_every_python_example_of_a_docs_page_runs(page, hub, monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples name files from the repo root, as the docs say to run them
    namespace: dict = {}
    for i, block in enumerate(blocks(page, "python")):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block.replace(DOCUMENTED, hub + "/"), f"{page.name} example {i + 1}", "exec"), namespace)
        assert out.getvalue().strip(), f"{page.name} example {i + 1} printed nothing:\n{block}"


def shell_commands() -> list[tuple[str, list[str]]]:
    """(page, words) for every line of a bash block and every inline command (`make ...`, `.venv/bin/...`,
    `bash scripts/dev.sh ...`) of the docs."""
    out = []
    for page in sorted(DOCS.glob("*.md")):
        lines = [ln for block in blocks(page, "bash") for ln in block.splitlines()]
        lines += re.findall(r"`((?:make|\.venv/bin/\w+|bash scripts/dev\.sh) [^`]+)`", page.read_text(encoding="utf-8"))
        for line in lines:
            line = line.split("  #")[0].split(" # ")[0].strip()
            if line and not line.startswith("#"):
                out.append((page.name, shlex.split(line.replace("|", " "))))
    return out


def test_the_docs_shell_commands_name_what_exists():
    """A make target, a script, a module run with -m, a requirements file: each exists in the repo."""
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z]+):", makefile, flags=re.M))
    commands = shell_commands()
    assert len(commands) >= 20
    for page, words in commands:
        words = [w for w in words if "=" not in w or w.startswith("-")]  # drop VAR=value prefixes
        if words[0] == "make":
            assert words[1] in targets, f"{page}: make {words[1]} is no target of the Makefile"
        for i, w in enumerate(words):
            if re.fullmatch(r"[\w./-]+\.(py|txt|yaml|yml|conf)", w) and not w.startswith("/"):
                assert (ROOT / w).exists(), f"{page}: {' '.join(words)} names {w}, which does not exist"
            if w == "-m" and i + 1 < len(words):
                mod = words[i + 1].replace(".", "/")
                assert (ROOT / f"{mod}.py").exists() or (ROOT / mod / "__main__.py").exists() or \
                    words[i + 1] in {"pip", "pytest", "streamlit"}, f"{page}: no module {words[i + 1]}"
        # The options given to one of our scripts are options it reads (its argparse names them).
        script = next((ROOT / w for w in words if w.endswith(".py") and (ROOT / w).is_file()), None)
        if "-m" in words and (ROOT / (words[words.index("-m") + 1].replace(".", "/") + ".py")).is_file():
            script = ROOT / (words[words.index("-m") + 1].replace(".", "/") + ".py")
        if script is not None:
            source = script.read_text(encoding="utf-8")
            for flag in (w.strip("[]").split("=")[0] for w in words if w.strip("[").startswith("--")):
                assert f'"{flag}"' in source, f"{page}: {script.relative_to(ROOT)} has no option {flag}"
