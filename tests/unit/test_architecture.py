"""The one-way dependency rule and the fast-start rule, checked on the real code."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

HEAVY = ["torch", "timm", "pytorch_grad_cam", "diffusers", "open_clip", "segment_anything", "transformers", "ray",
         "torchvision"]


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_logic_and_core_import_no_ui_framework():
    files = list((ROOT / "apps").glob("*/logic.py")) + list((ROOT / "core").glob("*.py"))
    assert files
    for f in files:
        bad = imported_modules(f) & {"gradio", "streamlit"}
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"


def test_building_and_importing_the_hubs_imports_no_model_library():
    code = (
        "import sys, json\n"
        "import app\n"
        "app.build_hub()\n"
        "import apps.gradio_common, core.models, core.weights, core.device, core.images\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_built_demo_has_its_files():
    from apps.registry import DEMOS

    assert len(DEMOS) == 8 and len({d.slug for d in DEMOS}) == 8
    for d in DEMOS:
        if d.built:
            for f in ("logic.py", "ui_gradio.py", "page_streamlit.py", "explainer.md"):
                assert (ROOT / "apps" / d.slug / f).is_file(), f"{d.slug}/{f} missing"
            # What the shared tooling finds by the demo's slug: its benchmark (make bench), and in its logic
            # the warm-up, the link's settings and the work the lane test runs.
            assert (ROOT / "benchmarks" / f"bench_{d.slug}.py").is_file(), f"benchmarks/bench_{d.slug}.py missing"
            defined = top_level_names((ROOT / "apps" / d.slug / "logic.py").read_text())
            missing = {"warmup", "exercise", "VIEW"} - defined
            assert not missing, f"apps/{d.slug}/logic.py defines no {sorted(missing)} at its top level"
            assert d.warmup == f"apps.{d.slug}.logic:warmup", d.slug


def test_a_page_that_fails_to_build_shows_an_error_card(monkeypatch):
    import gradio as gr

    import app
    from apps.registry import DEMOS, Demo

    broken = Demo("no_such_demo", "Broken demo", "fails on purpose", "💥", built=True)
    monkeypatch.setattr(app, "DEMOS", [*DEMOS, broken])
    demo = app.build_hub()  # must not raise
    htmls = [b.value for b in demo.blocks.values() if isinstance(b, gr.HTML)]
    assert any("Broken demo page failed to build" in (h or "") for h in htmls)
    assert any(path == "no_such_demo" for path, *_ in demo.pages)


CALLS: list[str] = []


def record_warmup():
    CALLS.append("ran")


def broken_warmup():
    raise RuntimeError("no model today")


def test_warmup_runs_in_the_background_and_can_be_turned_off(monkeypatch):
    from core.warmup import start as start_warmup

    CALLS.clear()
    monkeypatch.setenv("GLASSBOX_WARMUP", "1")
    thread = start_warmup([f"{__name__}:broken_warmup", f"{__name__}:record_warmup"])
    thread.join(timeout=30)
    assert CALLS == ["ran"]  # a failing warm-up is logged and the next one still runs
    from core import warmup

    assert warmup.pending() == []  # each one, failed or not, leaves the list a page reads its progress from
    monkeypatch.setenv("GLASSBOX_WARMUP", "0")
    assert start_warmup([f"{__name__}:record_warmup"]) is None


def test_a_streamlit_page_says_when_it_waits_for_the_start_up_warm_up():
    """Streamlit's first CLIP visit after a start took 10 to 30 s with nothing on screen: a page whose warm-up
    has not run yet says so, with how far the warm-up is; a warm page says nothing."""
    from apps.registry import DEMOS
    from apps.streamlit_common import warming_text

    refs = [d.warmup for d in DEMOS if d.built and d.warmup]
    clip = next(d for d in DEMOS if d.slug == "clip_zero_shot")
    left = refs[refs.index(clip.warmup) - 1:]  # the page before CLIP is warming up now
    share, text = warming_text("clip_zero_shot", left)
    done = len(refs) - len(left)
    assert share == done / len(refs) and f"{done} of {len(refs)} pages warm" in text
    assert DEMOS[[d.warmup for d in DEMOS].index(left[0])].title in text
    assert warming_text("clip_zero_shot", refs[refs.index(clip.warmup) + 1:]) is None
    assert warming_text("clip_zero_shot", []) is None


# The one deliberate link between two demos: FGSM explains its attack with Grad-CAM's public explain().
ALLOWED_LINKS = {("fgsm", "apps.gradcam.logic"): {"explain"}}


def top_level_names(source: str) -> set[str]:
    """The functions, classes and variables a module defines at its top level (not in a comment, a string or
    another function)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_top_level_names_ignore_comments_strings_and_nested_definitions():
    source = '# def warmup():\nPREVIEW = 1\ndoc = "VIEW = x"\ndef outer():\n    def exercise(): pass\nVIEW = 2\n'
    assert top_level_names(source) == {"PREVIEW", "doc", "outer", "VIEW"}


def app_imports(path, source: str | None = None) -> list[tuple[str, set[str]]]:
    """(module, imported names) for every `apps.*` import in a file, lazy ones inside functions included, and
    relative ones (`from ..fgsm import logic`) resolved against the file's package; `importlib.import_module` with
    a literal name counts as an import too."""
    path = Path(path)
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(source if source is not None else path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, set()) for a in node.names if a.name.startswith("apps")]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: up `level - 1` packages from the file's own
                parts = package.split(".")
                base = parts[:len(parts) - (node.level - 1)]
                if not module:  # `from .. import fgsm`: each name is a module of its own
                    out += [(".".join([*base, a.name]), set()) for a in node.names]
                    continue
                module = ".".join([*base, module])
            if module.startswith("apps"):
                out.append((module, {a.name for a in node.names}))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("apps"):
                out.append((node.args[0].value, set()))
    return out


def foreign_imports(demo: str, imports) -> list[str]:
    """The imports of demo `demo` that reach another demo: a demo imports only itself, apps/*_common, the registry
    and core (and the one allowed link below)."""
    bad = []
    for module, names in imports:
        parts = module.split(".")
        if module == "apps":  # `from apps import x` names a module of its own
            parts, names = ["apps", *sorted(names)[:1]], set()
        ok = len(parts) == 1 or parts[1] in (demo, "registry") or parts[1].endswith("_common")
        if not ok:
            allowed = ALLOWED_LINKS.get((demo, module))
            ok = allowed is not None and bool(names) and names <= allowed
        if not ok:
            bad.append(f"{module} {sorted(names)}")
    return bad


def test_the_import_check_sees_absolute_relative_and_dynamic_imports_of_another_demo():
    f = ROOT / "apps" / "gradcam" / "logic.py"
    for broken in ("from apps.fgsm.logic import attack", "from ..fgsm.logic import attack", "from .. import fgsm",
                   "import apps.sam.logic", "from apps import sam", "importlib.import_module('apps.sam.logic')",
                   "from apps.fgsm.logic import explain, attack"):
        assert foreign_imports("gradcam", app_imports(f, broken)), broken
    for fine in ("from . import logic", "from .logic import explain", "from apps.gradcam import logic",
                 "from apps.gradio_common import serve", "from apps import registry", "from core import share"):
        assert not foreign_imports("gradcam", app_imports(f, fine)), fine
    g = ROOT / "apps" / "fgsm" / "logic.py"
    assert not foreign_imports("fgsm", app_imports(g, "from apps.gradcam.logic import explain"))
    assert foreign_imports("fgsm", app_imports(g, "from apps.gradcam.logic import explain, LAYERS"))


def test_a_demo_imports_only_itself_the_commons_the_registry_and_core():
    from apps.registry import DEMOS

    for d in DEMOS:
        files = list((ROOT / "apps" / d.slug).rglob("*.py"))
        assert files, f"apps/{d.slug} has no Python file"
        for f in files:
            bad = foreign_imports(d.slug, app_imports(f))
            assert not bad, f"{f.relative_to(ROOT)} imports {bad}: a demo imports only itself, apps/*_common, " \
                            "the registry and core"


def test_core_imports_no_demo():
    for f in (ROOT / "core").glob("*.py"):
        assert not app_imports(f), f"{f.relative_to(ROOT)} imports a demo: core must stand on its own"


def test_the_readme_is_one_screen_with_a_row_per_demo_of_the_registry():
    """The README is a front page of at most 120 lines (front matter included): its demo table has one row per
    demo of apps/registry.py, in the registry's (teaching) order; the rest lives in docs/."""
    from apps.registry import DEMOS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 120, f"README.md has {len(readme.splitlines())} lines: move detail to docs/"
    table = readme.split("| demo | what a learner does |", 1)[1].split("\n\n", 1)[0]
    rows = [ln for ln in table.splitlines() if ln.startswith("|") and not ln.startswith("|---")]
    assert [r.strip("|").split("|")[0].strip() for r in rows] == [d.title for d in DEMOS]
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):  # its links into the docs lead to pages that exist
        assert (ROOT / target).is_file(), target


# --- code the next engineer can change safely ------------------------------------------------------------------

MAX_POSITIONAL_OUTPUTS = 3
GRADIO_UI = ["apps/*/ui_gradio.py", "apps/gradio_common/*.py"]


def positional_returns(source: str) -> list[str]:
    """Returns and yields of more than MAX_POSITIONAL_OUTPUTS values by position (a tuple or list display, one
    with *unpacking, or tuple(...)): outputs matched to components by counting. Handlers return {name: value}."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Return, ast.Yield)):
            value = node.value
        elif isinstance(node, ast.Lambda):
            value = node.body
        else:
            continue
        many = (isinstance(value, (ast.Tuple, ast.List))
                and (len(value.elts) > MAX_POSITIONAL_OUTPUTS or any(isinstance(e, ast.Starred) for e in value.elts)))
        called = (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "tuple")
        if many or called:
            found.append(f"line {node.lineno}: {ast.unparse(value)[:80]}")
    return found


def test_the_positional_check_catches_a_counted_tuple():
    assert positional_returns("def run(a):\n    return a, None, None, 'x'\n")
    assert positional_returns("def run(a):\n    yield (*views(a), None)\n")
    assert positional_returns("def show(c):\n    return tuple(out)\n")
    assert positional_returns("f = lambda: [1, 2, 3, 4]\n")
    assert not positional_returns("def run(a):\n    return {'status': a, 'grid': None, 'png': None, 'x': 1}\n")
    assert not positional_returns("def run(a):\n    return gr.update(), ''\n")


def test_gradio_handlers_return_outputs_by_name():
    """No Gradio handler returns more than three outputs by position: a page's outputs are named once (widgets.
    Outputs) and handlers return {name: value}, so adding or moving an output cannot shift the others."""
    files = sorted({f for pattern in GRADIO_UI for f in ROOT.glob(pattern)})
    assert len(files) >= 8
    bad = {str(f.relative_to(ROOT)): positional_returns(f.read_text()) for f in files}
    assert not {k: v for k, v in bad.items() if v}, bad


def handwritten_links(source: str, slugs: list[str]) -> list[str]:
    """String pieces that address another page by hand: a markdown/HTML target 'slug?...' or '/slug?...', or a
    Streamlit page path 'apps/slug/page_streamlit.py'. Cross-links are built from the target's View
    (registry.view(slug).href(...) / link_params(...)), so renaming a setting breaks them where they are made."""
    page_path = re.compile(r"apps/(%s)/page_streamlit\.py" % "|".join(map(re.escape, slugs)))
    address = re.compile(r"(?:^|[(\"'=\s/])(%s)\?[A-Za-z_]+=" % "|".join(map(re.escape, slugs)))
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for rx in (page_path, address):
                if rx.search(node.value):
                    found.append(f"line {node.lineno}: {node.value[:80]!r}")
    return found


def test_the_link_check_catches_a_handwritten_address():
    slugs = ["sam", "gradcam", "vit_patches"]
    assert handwritten_links('x = f"[Segment]({sam}(sam?image={name}&prompt=1,2,1)"\n', slugs)
    assert handwritten_links('x = "(gradcam?image=cat)"\n', slugs)
    assert handwritten_links('st.page_link("apps/vit_patches/page_streamlit.py", label="ViT")\n', slugs)
    assert not handwritten_links('x = registry.view("sam").href(image=name)\n', slugs)
    assert not handwritten_links('x = f"apps/{slug}/page_streamlit.py"\n', slugs)


def test_cross_links_come_from_the_target_pages_view():
    from apps.registry import DEMOS

    slugs = [d.slug for d in DEMOS]
    files = [f for f in (ROOT / "apps").rglob("*.py") if f.name != "registry.py"]
    bad = {str(f.relative_to(ROOT)): handwritten_links(f.read_text(), slugs) for f in files}
    assert not {k: v for k, v in bad.items() if v}, bad


def test_a_link_to_a_setting_the_target_lacks_fails_where_it_is_made():
    from apps import registry

    assert registry.view("sam").href(image="coffee", prompt="270,160,1") == "sam?image=coffee&prompt=270,160,1"
    with pytest.raises(ValueError, match="no setting"):
        registry.view("sam").href(image="coffee", click="270,160,1")
    with pytest.raises(KeyError):
        registry.view("no_such_demo")


MAX_FUNCTION_LINES = 80
LONG_OK = "# long:"  # a function may be longer when a comment in its first lines says why


def test_no_function_in_apps_or_core_is_over_80_lines_unless_it_says_why():
    long = []
    for f in sorted(list((ROOT / "apps").rglob("*.py")) + list((ROOT / "core").rglob("*.py"))):
        lines = f.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                head = lines[node.lineno - 1: node.lineno + 5]
                if n > MAX_FUNCTION_LINES and not any(LONG_OK in ln for ln in head):
                    long.append(f"{f.relative_to(ROOT)}:{node.lineno} {node.name}() is {n} lines")
    assert not long, long
