"""apps/gradio_common/internals.py leans on Gradio's private internals. These tests fail loudly, naming what
moved, when a Gradio upgrade changes any of it: read internals.py against the new release, fix what moved, then
set CHECKED_WITH to the release you read."""

from __future__ import annotations

import ast
import inspect
import textwrap

import gradio as gr
from gradio.state_holder import SessionState, StateHolder

from apps.gradio_common import internals
from conftest import ROOT

UPGRADE = "Gradio changed under apps/gradio_common/internals.py: re-read it against the installed release"


def test_the_installed_gradio_is_the_release_internals_was_read_against():
    pins = [ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln.startswith("gradio==")]
    assert pins == [f"gradio=={internals.CHECKED_WITH}"], f"{UPGRADE}, then set CHECKED_WITH to match the pin"
    assert gr.__version__ == internals.CHECKED_WITH, f"{UPGRADE} ({gr.__version__}, read: {internals.CHECKED_WITH})"


def _self_attributes(fn) -> set[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    return {t.attr for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}


def test_lean_session_state_sets_what_gradios_session_state_sets():
    """LeanSessionState.__init__ stands in for SessionState.__init__: it must set the same attributes (plus its
    own two), or Gradio reads one that is missing."""
    ours = _self_attributes(internals.LeanSessionState.__init__) - {"app_blocks", "_stands_for"}
    assert _self_attributes(SessionState.__init__) == ours, UPGRADE
    for name in ("__getitem__", "__setitem__", "__contains__", "_update_config", "_update_value_in_config"):
        assert callable(getattr(SessionState, name, None)), f"{UPGRADE}: SessionState.{name}"


def test_the_session_holder_and_queue_have_what_the_store_and_housekeeping_use():
    holder = StateHolder()
    for name in ("session_data", "time_last_used", "lock"):
        assert hasattr(holder, name), f"{UPGRADE}: StateHolder.{name}"
    for name in ("set_blocks", "update", "__getitem__"):
        assert callable(getattr(StateHolder, name, None)), f"{UPGRADE}: StateHolder.{name}"
    with gr.Blocks() as demo:
        gr.Markdown("a page")
    demo.queue()
    for name in ("pending_event_ids_session", "event_analytics", "event_ids_to_events", "ANALYTICS_MAX_EVENTS",
                 "ANAYLTICS_CACHE_FREQUENCY"):
        assert hasattr(demo._queue, name), f"{UPGRADE}: Queue.{name}"
    for name in ("temp_file_sets", "upload_file_set", "pending_streams", "default_config", "blocks"):
        assert hasattr(demo, name), f"{UPGRADE}: Blocks.{name}"
    for name in ("uploaded_file_dir", "iterators", "state_holder"):
        assert hasattr(demo.app, name), f"{UPGRADE}: App.{name}"
    def echo(text: str = "x") -> str:
        return text

    with demo:
        gr.api(echo, api_name="echo")
    fn = next(f for f in demo.fns.values() if f.api_name == "echo")  # FillOmittedInputs finds endpoints so
    assert callable(fn.fn), f"{UPGRADE}: BlockFunction.fn"
    import gradio.routes

    # FillOmittedInputs rewrites the body of this route (mounted under /gradio_api when the app launches)
    assert '@router.post("/call/{api_name}"' in inspect.getsource(gradio.routes), f"{UPGRADE}: /call/ moved"
    from gradio import image_utils, processing_utils

    # encode_images_once replaces this function; image outputs must still reach it through the module
    params = list(inspect.signature(processing_utils.save_img_array_to_cache).parameters)
    assert params == ["arr", "cache_dir", "format"], f"{UPGRADE}: save_img_array_to_cache{params}"
    assert "processing_utils.save_img_array_to_cache(" in inspect.getsource(image_utils), f"{UPGRADE}: image_utils"
    params = list(inspect.signature(demo.default_config.config_for_block).parameters)
    assert params[:3] == ["_id", "rendered_ids", "block"], f"{UPGRADE}: BlocksConfig.config_for_block{params}"


# What a page may use of Gradio: its public API. The submodules below are how `gr.` exposes public classes.
PUBLIC_SUBMODULES = {"themes"}


def gradio_leaks(source: str) -> list[str]:
    """Every use in `source` of Gradio's private internals: an import of a gradio submodule (`from gradio.x
    import ...`, `from gradio import processing_utils`), a submodule reached through `gr.` (`gr.context`), or a
    private attribute (`obj._queue`, `getattr(obj, "_queue")`) of anything but the class's own `self` / `cls`."""
    import importlib.util

    def submodule(name: str) -> bool:
        return name not in PUBLIC_SUBMODULES and importlib.util.find_spec(f"gradio.{name}") is not None

    leaks = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            leaks += [f"import {a.name}" for a in node.names if a.name.startswith("gradio.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gradio":
            if node.module != "gradio":
                leaks.append(f"from {node.module} import ...")
            leaks += [f"from gradio import {a.name}" for a in node.names if submodule(a.name)]
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "gr" and submodule(node.attr):
                leaks.append(f"gr.{node.attr}")
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            if private and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                leaks.append(f".{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                "getattr", "setattr", "hasattr") and len(node.args) >= 2:
            name = node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value.startswith("_") \
                    and not name.value.startswith("__"):
                owner = node.args[0]
                if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                    leaks.append(f"{node.func.id}(..., {name.value!r})")
    return leaks


def test_the_leak_finder_finds_each_kind_of_leak():
    for broken in ("from gradio.state_holder import SessionState", "import gradio.routes",
                   "from gradio import processing_utils", "root = gr.context.Context.root_block",
                   "demo._queue.pending", "getattr(demo, '_queue')", "app.state_holder._lock"):
        assert gradio_leaks(broken), broken
    for fine in ("import gradio as gr", "from gradio import FileData", "gr.update(value=1)", "gr.themes.Base()",
                 "self._cache = {}", "getattr(self, '_warming', None)", "x.__class__"):
        assert not gradio_leaks(fine), fine


def test_every_use_of_gradio_internals_lives_in_internals():
    """No file of apps/ but internals.py reaches into Gradio's private internals; serving.py and the pages call
    internals for all of it."""
    for name in ("bound_queue", "install_session_store", "drop_finished_sessions", "gradio_sizes", "served_files",
                 "remember_startup_files", "upload_dir", "root_block"):
        assert callable(getattr(internals, name)), name
    files = [f for f in (ROOT / "apps").rglob("*.py") if f.name != "internals.py"]
    assert len(files) >= 30, len(files)
    for f in files:
        leaks = gradio_leaks(f.read_text())
        assert not leaks, f"{f.relative_to(ROOT)} reaches into Gradio's internals ({leaks}): move it to internals.py"
