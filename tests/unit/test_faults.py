"""Faults a hub meets in the wild, each survived: a hub download that stops half-way, a corrupt or truncated
checkpoint in the weights folder, a full disk under the exports, a job that fails half-way through on the
compute lane while others run, and a system temp folder shared with other users."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from core import files, lane, models, weights
from fakehub import FakeHub

SAMPLES = Path(__file__).resolve().parents[2] / "assets" / "images"


pytestmark = pytest.mark.usefixtures("fresh_models")


def random_state(spec: models.ModelSpec) -> dict:
    from core.loaders import build_arch

    torch.manual_seed(0)
    return {k: v.contiguous() for k, v in build_arch(spec.arch, **spec.arch_kwargs).state_dict().items()}


# --- a hub download that stops half-way -----------------------------------------------------------------

def test_a_download_cut_half_way_runs_the_stand_in_and_never_caches_the_part(monkeypatch, tmp_path):
    spec = models.MODELS["resnet50"]
    blob = tmp_path / "resnet50.safetensors"
    save_file(random_state(spec), str(blob))
    body = blob.read_bytes()
    monkeypatch.delenv("GLASSBOX_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with FakeHub({spec.hub: body}, cut={spec.hub: len(body) // 2}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        loaded = models.load("resnet50", "cpu")
        # The stand-in runs and says why; the half file is nowhere a later load would take it from.
        assert loaded.spec.name == "efficientnet_lite0"
        assert "ResNet-50" in loaded.fallback_notice and "download failed" in loaded.fallback_notice
        assert any(r.startswith("GET ") for r in hub.requests)  # the download really started
        assert weights._from_cache(*spec.hub) is None
        complete = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and not p.name.endswith(".incomplete")
                    and p.stat().st_size > 0 and p.suffix != ".lock"]
        assert all(p.read_bytes() != body[:len(body) // 2] for p in complete)
        # The network comes back: the next load (after the stand-in's time is up) gets the whole file.
        hub.cut.clear()
        models.clear_cache()
        weights.forget_probe()
        again = models.load("resnet50", "cpu")
    assert again.spec.name == "resnet50" and again.source == "hub" and not again.fallback_notice
    assert weights._from_cache(*spec.hub).read_bytes() == body


# --- a corrupt or truncated checkpoint in GLASSBOX_WEIGHTS_DIR ------------------------------------------

def _truncated(path: Path, state: dict) -> None:
    save_file(state, str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _garbage(path: Path, state: dict) -> None:
    path.write_bytes(os.urandom(4096))


def _wrong_model(path: Path, state: dict) -> None:
    save_file({"fc.weight": torch.zeros(3, 3)}, str(path))  # a readable file with another model's tensors


@pytest.mark.parametrize("spoil", [_truncated, _garbage, _wrong_model], ids=["truncated", "garbage", "wrong-model"])
def test_a_bad_local_checkpoint_is_named_and_the_stand_in_runs(monkeypatch, tmp_path, spoil):
    from apps.gradcam import logic

    spec = models.MODELS["resnet50"]
    path = tmp_path / "resnet50" / "model.safetensors"
    path.parent.mkdir(parents=True)
    spoil(path, random_state(spec))
    monkeypatch.setenv("GLASSBOX_WEIGHTS_DIR", str(tmp_path))
    logic._cache.clear()
    r = logic.explain(SAMPLES / "cat.png", model="resnet50")
    assert r.model == "efficientnet_lite0" and r.heatmap.shape[0] > 0
    notice = " ".join(r.notices)
    assert str(path) in notice and "could not be read" in notice and "EfficientNet-Lite0" in notice
    # The server goes on: the next call is answered the same way, without reading the file again.
    logic._cache.clear()
    assert logic.explain(SAMPLES / "coffee.png", model="resnet50").model == "efficientnet_lite0"


def test_a_bad_local_copy_of_an_offline_model_falls_back_to_its_bundled_weights(monkeypatch, tmp_path):
    """A corrupt file in the weights folder for a model that ships offline: the bundled weights run, and the
    notice says which file was passed over."""
    path = tmp_path / "efficientnet_lite0.safetensors"
    path.write_bytes(b"\x00" * 100)
    monkeypatch.setenv("GLASSBOX_WEIGHTS_DIR", str(tmp_path))
    loaded = models.load("efficientnet_lite0", "cpu")
    assert loaded.source == "bundled" and loaded.spec.name == "efficientnet_lite0"
    assert str(path) in loaded.fallback_notice and "bundled" in loaded.fallback_notice
    monkeypatch.delenv("GLASSBOX_WEIGHTS_DIR")
    models.clear_cache()
    assert models.load("efficientnet_lite0", "cpu").fallback_notice == ""


# --- a full disk under the exports ----------------------------------------------------------------------

def test_a_whole_file_or_none_when_the_disk_fills(monkeypatch, tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old and whole")
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fd, mode):
            self.f = real_fdopen(fd, mode)

        def write(self, data):
            self.f.write(data[: len(data) // 2])  # half of it lands, then the disk is full
            self.f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(files.os, "fdopen", FullDisk)
    with pytest.raises(OSError) as info:
        files.write_atomic(target, "new content " * 1000)
    assert files.write_failure(info.value) == "The server's disk is full."
    assert target.read_text() == "old and whole"  # never half of the new one
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # and no partial file left beside it
    monkeypatch.setattr(files.os, "fdopen", real_fdopen)
    files.write_atomic(target, "new")
    assert target.read_text() == "new"


def test_an_export_on_a_full_disk_warns_and_gives_no_file(monkeypatch, tmp_path):
    import gradio as gr

    from apps.gradio_common import serving as gradio_common

    monkeypatch.setattr(gradio_common, "EXPORT_DIR", tmp_path)
    warned = []
    monkeypatch.setattr(gr, "Warning", lambda message, *a, **k: warned.append(message))

    def full(path, content):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "write_atomic", full)
    assert gradio_common.export_file("view.json", lambda: "{}") is None
    assert warned and "disk is full" in warned[0] and "view.json" in warned[0]
    assert not list(tmp_path.iterdir())


# --- a job that fails half-way through, while others run ------------------------------------------------

def test_a_job_failing_mid_run_leaves_the_lane_serving_every_other_job():
    """Real chunked jobs (a diffusion run, step by step) and clicks from several threads; one diffusion run
    fails at its 5th step. Its caller gets the error, its clean-up runs, every other job finishes with the
    same answer as when run alone, and the lane keeps serving afterwards."""
    from apps.diffusion import logic as diffusion

    settings = [diffusion.check(seed=s, steps=12, label=s % 10)[0] for s in range(4)]
    alone = {s.seed: diffusion.run(s).final for s in settings}
    diffusion._cache.clear()
    closed = threading.Event()

    def failing():
        try:
            for i, item in enumerate(diffusion._stream(settings[0], "cpu", every=1)):
                if i == 4:
                    raise RuntimeError("a handler failed half-way")
                yield item
        finally:
            closed.set()

    results, errors = {}, []

    def consume_failing():
        try:
            for _ in lane.stream(failing, "failing"):
                pass
        except RuntimeError as exc:
            errors.append(str(exc))

    def run_ok(s):
        results[s.seed] = diffusion.run(s).final

    def clicks():
        for k in range(20):
            results[f"click{k}"] = lane.run(lambda k=k: k * k, "click")

    threads = [threading.Thread(target=consume_failing), threading.Thread(target=clicks)]
    threads += [threading.Thread(target=run_ok, args=(s,)) for s in settings[1:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == ["a handler failed half-way"] and closed.is_set()
    for s in settings[1:]:
        np.testing.assert_array_equal(results[s.seed], alone[s.seed])
    assert [results[f"click{k}"] for k in range(20)] == [k * k for k in range(20)]
    assert lane.run(lambda: "still serving") == "still serving"
    np.testing.assert_array_equal(diffusion.run(settings[0]).final, alone[settings[0].seed])


def test_score_cam_failing_mid_run_releases_its_hooks_and_the_lane_goes_on(monkeypatch):
    """Score-CAM runs per batch of masked images; a batch that raises ends that job only. Its hooks are
    released (the next Grad-CAM on the same model is exact) and a concurrent click is answered."""
    from apps.gradcam import logic

    ref = logic.explain(SAMPLES / "cat.png", method="gradcam")
    logic._cache.clear()
    loaded = models.load("efficientnet_lite0", "cpu")
    real_forward = loaded.module.forward
    calls = {"n": 0}

    def flaky(x):
        calls["n"] += 1
        if calls["n"] == 3:  # the third batch of masked images
            raise RuntimeError("batch failed")
        return real_forward(x)

    monkeypatch.setattr(loaded.module, "forward", flaky)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("click", lane.run(lambda: "answered")))
    with pytest.raises(RuntimeError, match="batch failed"):
        t.start()
        logic.explain(SAMPLES / "cat.png", method="scorecam")
    t.join(timeout=60)
    assert out == {"click": "answered"}
    monkeypatch.setattr(loaded.module, "forward", real_forward)
    hooks = sum(len(m._forward_hooks) + len(m._backward_hooks) for m in loaded.module.modules())
    assert hooks == 0
    logic._cache.clear()
    np.testing.assert_array_equal(logic.explain(SAMPLES / "cat.png", method="gradcam").heatmap, ref.heatmap)


# --- a temp folder shared with other users --------------------------------------------------------------

def test_the_hub_writes_under_a_temp_folder_of_its_own_user():
    from apps import gradio_common

    mine = files.private_temp()
    assert mine.is_dir() and os.access(mine, os.W_OK)
    if hasattr(os, "getuid"):
        assert mine.stat().st_uid == os.getuid() and mine.stat().st_mode & 0o077 == 0  # nobody else reads it
    assert Path(os.environ["GRADIO_TEMP_DIR"]).is_relative_to(mine)  # set when gradio_common was imported
    assert gradio_common.EXPORT_DIR.is_relative_to(mine)


def test_a_squatted_temp_folder_is_passed_over(monkeypatch, tmp_path):
    uid = os.getuid() if hasattr(os, "getuid") else __import__("getpass").getuser()
    monkeypatch.setattr(files.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(files, "_private", None)
    squat = tmp_path / f"glassbox-{uid}"
    squat.write_text("someone else's file where our folder would go")
    got = files.private_temp()
    assert got != squat and got.parent == tmp_path and got.is_dir() and got.name.startswith(f"glassbox-{uid}-")


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX users and permissions")
def test_the_hub_builds_where_another_user_owns_the_shared_gradio_folder(tmp_path):
    """A lab server: someone ran a Gradio app first, so <tmp>/gradio is theirs and we cannot write in it. Our
    hub must still build its pages. (Simulated with a file of that name, which stops root as well as anyone.)"""
    import subprocess
    import sys

    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    (shared / "gradio").write_text("another user's")
    (shared / "gradio").chmod(0o444)
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("GRADIO_TEMP_DIR", "HF_HOME")}
    env |= {"TMPDIR": str(shared), "HOME": str(shared), "HF_HOME": str(shared / "hf"), "MPLCONFIGDIR": str(shared)}
    code = ("import tempfile, app; hub = app.build_hub(); import os; "
            "print('built', os.environ['GRADIO_TEMP_DIR'], tempfile.gettempdir())")
    p = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    line = p.stdout.strip().splitlines()[-1].split()
    assert line[0] == "built" and not Path(line[1]).is_relative_to(shared / "gradio")
    assert Path(line[1]).is_relative_to(shared) and line[2] == str(shared)
