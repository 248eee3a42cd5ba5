"""The README's API examples, run as a reader would: every Python block of its API section, in order, from the
repo root, against a started hub. The documentation cannot drift from the endpoints again."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from conftest import ROOT

pytestmark = pytest.mark.api
DOCUMENTED = "http://127.0.0.1:7860/"


def api_examples() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_has_an_example_for_every_endpoint_family():
    code = "\n".join(api_examples())
    for endpoint in ("/gradcam", "/fgsm", "/attention", "/diffusion", "/clip", "/sam", "/gan_", "/class_"):
        assert f'api_name="{endpoint}' in code, f"no README example calls {endpoint}"


def test_every_api_example_in_the_readme_runs(hub, monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples name files from the repo root, as the README says to run them
    namespace: dict = {}
    for i, block in enumerate(api_examples()):
        assert DOCUMENTED in block or i > 0, "the first example makes the client"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block.replace(DOCUMENTED, hub + "/"), f"README API example {i + 1}", "exec"), namespace)
        assert out.getvalue().strip(), f"README API example {i + 1} printed nothing:\n{block}"
