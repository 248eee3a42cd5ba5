"""What keeps a lecture's memory and disk flat: bounded Gradio sessions (browser tabs kept, API one-shots
not), lazily built session configs equal to Gradio's own, bounded export/upload folders, one model
cache keyed by the model that runs, and cached results that nobody changes afterwards."""

from __future__ import annotations

import datetime
import os
import time

import numpy as np
import pytest

from core import files, models


@pytest.fixture(scope="module")
def hub_blocks():
    import app

    return app.build_hub()


def test_lazy_session_config_is_gradios_config(hub_blocks):
    from gradio.state_holder import SessionState

    from apps.gradio_common.internals import LeanSessionState

    full, lean = SessionState(hub_blocks), LeanSessionState(hub_blocks)
    key = next(iter(hub_blocks.blocks))
    assert key in lean.config_values and lean.config_values[key] == full.config_values[key]
    assert len(dict.keys(lean.config_values)) == 1  # one component asked for, one built
    lean._update_value_in_config(key, "changed")  # what Gradio's preprocess does per input
    full._update_value_in_config(key, "changed")
    assert dict(lean.config_values.items()) == full.config_values
    assert list(lean.components) == list(full.components)
    assert -1 not in lean.config_values


def _store(hub_blocks, **limits):
    from apps.gradio_common.internals import SessionStore

    store = SessionStore()
    store.set_blocks(hub_blocks)
    for k, v in limits.items():
        setattr(store, k, v)
    return store


def test_api_sessions_are_few_and_browser_tabs_are_kept(hub_blocks):
    store = _store(hub_blocks, max_other=5, max_browser=50)
    for i in range(30):  # a lecture's tabs
        store[f"tab{i}"]
        store.mark_browser(f"tab{i}")
    for i in range(500):  # notebook calls: each a new session
        store[f"api{i}"]
    kept = set(store.session_data)
    assert {f"tab{i}" for i in range(30)} <= kept
    assert len([s for s in kept if s.startswith("api")]) == 5


def test_browser_tabs_are_bounded_by_count_and_by_idle_time(hub_blocks):
    store = _store(hub_blocks, max_browser=10, browser_idle_s=1800)
    for i in range(25):
        store[f"tab{i}"]
        store.mark_browser(f"tab{i}")
    assert len(store.session_data) == 10 and "tab24" in store.session_data
    # A learner idle for 20 minutes keeps her page; one idle for an hour does not.
    now = datetime.datetime.now()
    store.time_last_used["tab20"] = now - datetime.timedelta(minutes=20)
    store.time_last_used["tab21"] = now - datetime.timedelta(minutes=60)
    store["tab24"]
    assert "tab20" in store.session_data and "tab21" not in store.session_data


def test_a_session_keeps_its_state_between_events(hub_blocks):
    store = _store(hub_blocks)
    state = store["tab"]
    store.mark_browser("tab")
    for i in range(100):
        store[f"api{i}"]
    assert store["tab"] is state


def test_prune_drops_old_files_then_the_oldest_beyond_the_count(tmp_path):
    now = time.time()
    paths = []
    for i in range(10):
        p = tmp_path / f"f{i}.png"
        p.write_bytes(b"x" * 10)
        os.utime(p, (now - i * 100, now - i * 100))  # f0 newest, f9 oldest
        paths.append(p)
    gone = files.prune(paths, max_files=5, max_age_s=650, now=now)
    assert {p.name for p in gone} == {f"f{i}.png" for i in range(5, 10)}
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"f{i}.png" for i in range(5)]
    files.prune_dir(tmp_path, max_files=2, max_age_s=10**6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f0.png", "f1.png"]


def test_housekeeping_bounds_gradios_files_and_our_exports(monkeypatch, tmp_path):
    import gradio as gr

    from apps.gradio_common import serving as gradio_common

    with gr.Blocks() as hub_blocks:
        gr.Markdown("a page")
    startup = tmp_path / "startup.png"  # a file a page shows when it opens: never deleted
    startup.write_bytes(b"img")
    os.utime(startup, (time.time() - 10**6,) * 2)
    hub_blocks.upload_file_set.add(str(startup))
    hub_blocks._glassbox_startup_files = {str(startup)}

    monkeypatch.setattr(gradio_common, "EXPORT_DIR", tmp_path / "exports")
    monkeypatch.setattr(gradio_common, "MAX_EXPORTS", 3)
    monkeypatch.setattr(gradio_common, "MAX_CACHE_FILES", 2)
    for i in range(6):
        gradio_common.export_file(f"e{i}.png", b"png")
        up = tmp_path / "uploads" / f"u{i}" / "img.png"
        up.parent.mkdir(parents=True)
        up.write_bytes(b"img")
        os.utime(up, (time.time() - 10 * (6 - i),) * 2)
        hub_blocks.upload_file_set.add(str(up))
    gradio_common.housekeeping(hub_blocks)
    assert len(list((tmp_path / "exports").iterdir())) == 3
    left = [p for p in hub_blocks.upload_file_set if "uploads" in p]
    assert len(left) == 2 and all(os.path.exists(p) for p in left) and startup.exists()
    assert len(list((tmp_path / "uploads").iterdir())) == 2  # emptied folders go too


def test_housekeeping_sweeps_gradios_stray_upload_files(tmp_path):
    """Gradio's upload parser writes into a top-level tmpXXXX file and renames it into a folder of its own when
    the upload is complete. What is left there after 10 minutes is a stray: empty (Gradio 6.31 leaves one per
    browser upload) or half-written (an upload that failed, e.g. on a full disk). An upload under way (fresh)
    and the real uploads (in their folders) stay."""
    import types

    import gradio as gr

    from apps.gradio_common import serving as gradio_common

    with gr.Blocks() as demo:
        gr.Markdown("a page")
    demo.server_app = types.SimpleNamespace(uploaded_file_dir=str(tmp_path))
    old, new, half = tmp_path / "tmpold", tmp_path / "tmpnew", tmp_path / "tmphalf"
    real = tmp_path / "0123abcd" / "cat.png"
    real.parent.mkdir()
    for p in (old, new):
        p.touch()
    half.write_bytes(b"the first half of an upload")
    real.write_bytes(b"data")
    for p in (old, half, real):
        os.utime(p, (time.time() - 3600,) * 2)
    gradio_common.housekeeping(demo)
    assert not old.exists() and not half.exists() and new.exists() and real.exists()


def test_a_fallback_is_cached_once_under_the_model_that_runs():
    """Offline, BERT and DistilGPT-2 both fall back to MiniLM: one copy in memory, named once."""
    models.clear_cache()
    a = models.load("minilm", "cpu")
    b = models.load("bert", "cpu")
    c = models.load("distilgpt2", "cpu")
    assert a.module is b.module is c.module
    assert b.name == "bert" and b.spec.name == "minilm" and "unavailable" in b.reason
    assert "running all-MiniLM-L6-v2" in b.fallback_notice and a.fallback_notice == ""
    assert models.loaded_names() == [f"{models.MODELS['minilm'].title} on cpu"]


def test_eviction_frees_a_fallback_too(monkeypatch):
    models.clear_cache()
    monkeypatch.setenv("GLASSBOX_MAX_MODELS", "1")
    first = models.load("resnet50", "cpu")  # offline: EfficientNet-Lite0 runs
    models.load("minilm", "cpu")  # evicts it
    assert models.loaded_names() == [f"{models.MODELS['minilm'].title} on cpu"]
    again = models.load("resnet50", "cpu")
    assert again.module is not first.module and again.spec.name == "efficientnet_lite0"


def test_cached_results_are_not_changed_by_later_calls(sample_cat):
    """Re-asking returns the cached object; the page's extra views (faithfulness, API payload, the
    FGSM pair) leave it exactly as it was."""
    import pickle

    from apps.fgsm import logic as fgsm
    from apps.gradcam import logic as gradcam
    from core import api

    r = gradcam.explain(sample_cat)
    before = pickle.dumps(r)
    gradcam.faithfulness(r)
    gradcam.api_payload(r, api.Clock())
    r2 = gradcam.explain(sample_cat, device="cuda")  # a CUDA ask on this machine: notice on a new result
    assert gradcam.explain(sample_cat) is r and pickle.dumps(r) == before
    assert r2 is not r and any("CPU" in n for n in r2.notices) and not any("CPU" in n for n in r.notices)
    a = fgsm.attack(sample_cat, epsilon=2)
    snap = pickle.dumps(a)
    fgsm.explain_pair(a)
    fgsm.defend(a)
    fgsm.api_payload(a, api.Clock())
    assert pickle.dumps(a) == snap and np.array_equal(fgsm.attack(sample_cat, epsilon=2).adversarial, a.adversarial)


def test_a_page_footer_names_its_own_models_once():
    models.clear_cache()
    models.load("efficientnet_lite0", "cpu")
    models.load("bert", "cpu")  # offline: MiniLM stands in
    models.load("distilgpt2", "cpu")
    attention = models.status_line(["minilm", "bert", "distilgpt2"])
    gradcam = models.status_line(["efficientnet_lite0", "resnet50", "vit_b16"])
    diffusion = models.status_line(["ddpm_digits", "ddpm_cifar10"])
    assert attention.count("all-MiniLM-L6-v2") == 1 and "EfficientNet" not in attention
    assert gradcam.count("EfficientNet-Lite0") == 1 and "MiniLM" not in gradcam
    assert "none loaded yet" in diffusion
    assert "MiniLM" in models.status_line() and "EfficientNet" in models.status_line()


def test_the_model_cache_is_bounded_by_megabytes_too(monkeypatch):
    """Hub models are hundreds of MB each: a budget in MB, not only a count, bounds what stays loaded."""
    models.clear_cache()
    monkeypatch.setenv("GLASSBOX_MODEL_MEMORY_MB", "100")
    lite = models.load("efficientnet_lite0", "cpu")  # 18 MB
    assert 15 < lite.mb < 25
    models.load("vit_digits", "cpu")  # 2 MB: both fit
    assert len(models.loaded_names()) == 2
    models.load("minilm", "cpu")  # 87 MB: over budget, the least recently used goes
    names = models.loaded_names()
    assert not any("EfficientNet" in n for n in names) and any("MiniLM" in n for n in names)
    monkeypatch.setenv("GLASSBOX_MODEL_MEMORY_MB", "1")
    models.load("efficientnet_lite0", "cpu")  # alone over budget: the newest always stays
    assert [n for n in models.loaded_names() if "EfficientNet" in n]
    models.clear_cache()


def test_a_memory_snapshot_names_every_bounded_structure():
    from apps.clip_zero_shot import logic as clip  # noqa: F401 - registers its caches
    from apps.gradcam import logic as gradcam  # noqa: F401
    from core import memwatch

    snap = memwatch.snapshot()
    assert snap["rss_mb"] > 0 and snap["open_files"] > 0
    caches = snap["structures"]["result_caches"]
    assert caches["gradcam"].endswith("/32") and caches["clip_image_vectors"].endswith("/64")
    assert set(snap["structures"]["models"]) >= {"loaded", "mb"} and snap["structures"]["shelf"].endswith("/64")
    if snap["heap_mb"]:  # glibc: the heap figures, and handing free pages back
        assert memwatch.trim() and memwatch.snapshot()["malloc_trim"]["count"] >= 1
