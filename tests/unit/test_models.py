"""The registry: every entry loads (offline ones for real, hub ones from tiny local checkpoints),
sources resolve in order, offline falls through fast, loads happen once, the cache is bounded."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from core import models, vision, weights
from fakehub import FakeHub

pytestmark = pytest.mark.usefixtures("fresh_models")


def random_checkpoint(spec: models.ModelSpec, path) -> dict:
    """Randomly initialised weights of the spec's architecture, saved as safetensors."""
    from core.loaders import build_arch

    torch.manual_seed(0)
    state = {k: v.contiguous() for k, v in build_arch(spec.arch, **spec.arch_kwargs).state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return state


@pytest.mark.parametrize("name", list(models.MODELS))
def test_every_entry_is_complete(name):
    """The same checks for every model of the registry: what its task needs lives in its typed config."""
    from core.weights import import_ref

    spec = models.MODELS[name]
    assert spec.name == name and spec.title and spec.short_name and spec.license
    assert type(spec.config) is models.TASK_CONFIGS[spec.task], f"{name}: config {type(spec.config).__name__}"
    assert spec.hub or spec.bundled, f"{name} has no source"
    if spec.hub:  # offline, a hub model runs an offline one of the same task instead, and says so
        fallback = models.MODELS[spec.fallback]
        assert fallback.is_offline_model and fallback.task == spec.task, f"{name} needs an offline fallback"
    assert callable(import_ref(spec.builder)), name
    spec.config.check(spec)  # labels match the classes, ConSE's parts are offline, ...


def test_a_config_refuses_what_its_task_cannot_use():
    with pytest.raises(ValueError):
        models.ClassifierConfig(input="crop", side=224)  # the whole image is always kept
    wrong_labels = dataclasses.replace(models.MODELS["vit_digits"], labels="imagenet")
    with pytest.raises(ValueError, match="10 classes"):
        wrong_labels.config.check(wrong_labels)


def test_offline_model_loads_real_imagenet_weights(sample_cat):
    from core import images

    loaded = models.load("efficientnet_lite0", "cpu")
    assert loaded.source == "bundled" and loaded.offline
    rgb = images.load_image(sample_cat)
    x = vision.to_tensor(vision.to_model_input(rgb, (224, 224)))
    with torch.no_grad():
        top3 = loaded.module(x).softmax(-1)[0].topk(3).indices.tolist()  # (3,)
    cats = {"tabby", "tiger cat", "Egyptian cat"}
    assert {loaded.labels[i] for i in top3} <= cats | {"lynx"}


@pytest.mark.parametrize("name", [n for n, s in models.MODELS.items() if s.hub and s.task == "image-classification"])
def test_hub_entries_load_from_a_local_checkpoint(name, tmp_path, monkeypatch):
    spec = models.MODELS[name]
    state = random_checkpoint(spec, tmp_path / name / "model.safetensors")
    monkeypatch.setenv("GLASSBOX_WEIGHTS_DIR", str(tmp_path))
    loaded = models.load(name, "cpu")
    assert loaded.source == "local" and not loaded.offline and loaded.spec.name == name
    key = next(iter(state))
    assert torch.equal(loaded.module.backbone.state_dict()[key], state[key])  # our weights, not random new ones
    side = spec.config.side
    with torch.no_grad():
        out = loaded.module(torch.rand(1, 3, side, side))  # (1, classes), or (1, features) without a head
    classes = spec.arch_kwargs.get("num_classes", 1000)
    assert out.shape[0] == 1 and (classes == 0 or out.shape[1] == classes == len(loaded.labels))
    if "vit" in spec.arch:  # attention weights must be observable: fused attention off
        assert all(not m.fused_attn for m in loaded.module.modules() if hasattr(m, "fused_attn"))


def test_pickled_checkpoints_load_with_weights_only(tmp_path, monkeypatch):
    from core.loaders import build_arch, read_state_dict

    spec = models.MODELS["resnet50"]
    (tmp_path / "resnet50").mkdir()
    torch.save(build_arch(spec.arch).state_dict(), tmp_path / "resnet50" / "model.pth")
    monkeypatch.setenv("GLASSBOX_WEIGHTS_DIR", str(tmp_path))
    assert models.load("resnet50", "cpu").source == "local"

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(Exception, match="[Ww]eights only|weights_only|Unsupported"):
        read_state_dict(tmp_path / "evil.pth")


def test_offline_hub_model_falls_back_and_says_why(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = models.load("resnet50", "cpu")
    assert loaded.spec.name == "efficientnet_lite0" and loaded.offline
    assert "HF_HUB_OFFLINE" in loaded.reason and "ResNet-50" in loaded.reason
    assert "offline stand-in for ResNet-50" in loaded.describe()


def test_dead_network_falls_through_within_5_seconds(monkeypatch, tmp_path):
    """A hub that accepts connections but never answers must not stall the lecture."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # never accept(): connections complete, requests hang
    try:
        monkeypatch.delenv("GLASSBOX_OFFLINE", raising=False)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        t0 = time.monotonic()
        loaded = models.load("vit_b16", "cpu")
        assert time.monotonic() - t0 < 5.0
        assert loaded.spec.name == "efficientnet_lite0" and "offline" in loaded.reason
    finally:
        silent.close()


def test_unreachable_hub_is_reported_as_no_network(monkeypatch, tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused
    monkeypatch.delenv("GLASSBOX_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    found = weights.resolve("resnet50", models.MODELS["resnet50"].hub, None)
    assert found.path is None and "no network" in found.reason


def test_sources_resolve_in_order_local_cache_hub(monkeypatch, tmp_path):
    spec = models.MODELS["resnet50"]
    blob = tmp_path / "blob.safetensors"
    random_checkpoint(spec, blob)
    monkeypatch.delenv("GLASSBOX_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with FakeHub({spec.hub: blob.read_bytes()}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        first = weights.resolve(spec.name, spec.hub, None)
        assert first.source == "hub" and first.path.read_bytes() == blob.read_bytes()
        n = len(hub.requests)
        second = weights.resolve(spec.name, spec.hub, None)
        assert second.source == "hf_cache" and len(hub.requests) == n  # no network for a cached file
        loaded = models.load("resnet50", "cpu")
        assert loaded.source == "hf_cache" and not loaded.offline
    local = tmp_path / "local"
    random_checkpoint(spec, local / "resnet50" / "model.safetensors")
    monkeypatch.setenv("GLASSBOX_WEIGHTS_DIR", str(local))
    assert weights.resolve(spec.name, spec.hub, None).source == "local"


def test_only_registered_names_load():
    with pytest.raises(models.UnknownModel, match="Choose one of"):
        models.load("../../etc/passwd")


def test_concurrent_first_calls_load_once(monkeypatch):
    builds = []
    real = models._build

    def counting(name, device):
        builds.append(name)
        time.sleep(0.3)  # widen the race window
        return real(name, device)

    monkeypatch.setattr(models, "_build", counting)
    out = []
    threads = [threading.Thread(target=lambda: out.append(models.load("efficientnet_lite0", "cpu"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == ["efficientnet_lite0"]
    assert len({id(o.module) for o in out}) == 1


def test_cache_is_lru_bounded(monkeypatch, tmp_path):
    monkeypatch.setenv("GLASSBOX_MAX_MODELS", "1")
    first = models.load("efficientnet_lite0", "cpu")
    random_checkpoint(models.MODELS["resnet50"], tmp_path / "resnet50" / "model.safetensors")
    monkeypatch.setenv("GLASSBOX_WEIGHTS_DIR", str(tmp_path))
    models.load("resnet50", "cpu")
    assert [n for n in models.loaded_names()] == ["ResNet-50 (torchvision, ImageNet-1k) on cpu"]
    again = models.load("efficientnet_lite0", "cpu")
    assert again is not first  # it was evicted, then loaded anew


def test_prefetch_fills_the_cache_from_a_fake_hub(monkeypatch, tmp_path, capsys):
    from core import prefetch

    monkeypatch.delenv("GLASSBOX_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    files = {spec.hub: f"weights of {name}".encode() for name, spec in models.MODELS.items() if spec.hub}
    files |= {(spec.hub[0], f): b"{}" for spec in models.MODELS.values() if spec.hub for f in spec.hub_extra}
    with FakeHub(files) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert prefetch.main([]) == 0
        assert prefetch.main(["no_such_model"]) == 2
    out = capsys.readouterr().out
    assert "efficientnet_lite0" in out and "nothing to fetch" in out
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # afterwards the cache alone answers
    for name, spec in models.MODELS.items():
        if spec.hub:
            found = weights.resolve(name, spec.hub, None, spec.hub_extra)
            assert found.source == "hf_cache" and found.path.read_bytes() == files[spec.hub]


def test_prefetch_reports_a_missing_file(monkeypatch, tmp_path):
    from core import prefetch

    monkeypatch.delenv("GLASSBOX_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with FakeHub({}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert prefetch.main(["resnet50"]) == 1


def test_status_line_names_device_and_models():
    assert "none loaded yet" in models.status_line()
    models.load("efficientnet_lite0", "cpu")
    line = models.status_line()
    assert "Device: cpu" in line and "EfficientNet-Lite0" in line


def test_loaded_models_give_the_same_answer_twice(sample_cat):
    from apps.gradcam import logic

    a = logic.explain(sample_cat)
    logic._cache.clear()
    b = logic.explain(sample_cat)
    assert np.array_equal(a.heatmap, b.heatmap)
