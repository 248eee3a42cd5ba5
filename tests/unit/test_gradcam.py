"""Grad-CAM logic: agrees with pytorch-grad-cam called directly and with the closed form,
covers the whole image, releases its hooks, and refuses bad parameters clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from apps.gradcam import logic
from core import api, images, models, vision
from core.errors import UserError

# Numbers from models: run again under another CPU kernel set (scripts/dev.sh).
pytestmark = pytest.mark.kernels

CAT = logic.SAMPLES["cat"]


@pytest.fixture(scope="module")
def lite():
    return models.load("efficientnet_lite0", "cpu")


@pytest.fixture(autouse=True)
def no_result_cache():
    logic._cache.clear()
    yield
    logic._cache.clear()


def model_tensor(spec, path):
    rgb = images.load_image(path)
    return rgb, vision.to_tensor(vision.to_model_input(rgb, vision.input_size(spec, rgb.shape[:2])))


@pytest.mark.parametrize("method", ["gradcam", "hirescam", "layercam", "eigencam"])
def test_agrees_with_a_direct_library_call(lite, method):
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    result = logic.explain(CAT, "efficientnet_lite0", method, target="tabby")
    _, x = model_tensor(lite.spec, CAT)
    cls = getattr(pytorch_grad_cam, logic.METHODS[method][0])
    with cls(model=lite.module, target_layers=[lite.module.backbone.bn2]) as cam:
        direct = cam(input_tensor=x, targets=[ClassifierOutputTarget(281)])[0]  # (h, w)
    assert result.target == {"index": 281, "label": "tabby"}
    np.testing.assert_allclose(result.cam, direct, atol=1e-5)


def test_gradcam_matches_the_closed_form(lite):
    """alpha_k = mean_ij dy/dA^k_ij ; L = ReLU(sum_k alpha_k A^k), computed here with plain autograd."""
    result = logic.explain(CAT, "efficientnet_lite0", "gradcam")
    _, x = model_tensor(lite.spec, CAT)
    feats = {}
    handle = lite.module.backbone.bn2.register_forward_hook(lambda m, i, o: feats.setdefault("A", o))
    try:
        logits = lite.module(x)  # (1, 1000)
    finally:
        handle.remove()
    A = feats["A"]  # (1, K, gh, gw): 6x9 for the cat's 192x288 input
    c = result.target["index"]
    (grads,) = torch.autograd.grad(logits[0, c], A)  # (1, K, gh, gw)
    alpha = grads.mean(dim=(2, 3), keepdim=True)  # (1, K, 1, 1)
    cam = torch.relu((alpha * A).sum(1))[0].detach().numpy()  # (gh, gw)
    cam = (cam - cam.min()) / (cam.max() - cam.min())
    assert c == int(logits.argmax())  # default target is the top-1
    # Upsample the way the library does (cv2 bilinear, then rescale to [0, 1]) and compare.
    import cv2

    h, w = result.cam.shape
    up = cv2.resize(cam.astype(np.float32), (w, h))
    up = (up - up.min()) / (up.max() - up.min())
    np.testing.assert_allclose(result.cam, up, atol=1e-4)


def test_heatmap_covers_the_whole_image_with_its_aspect(lite):
    for name in ("cat", "rocket", "astronaut"):
        r = logic.explain(logic.SAMPLES[name])
        h, w = r.image.shape[:2]
        hh, hw = r.heatmap.shape
        assert max(hh, hw) <= logic.HEATMAP_SIDE
        assert abs(hh / hw - h / w) < 0.02  # same aspect ratio: nothing cropped
        assert r.heatmap.min() >= 0 and r.heatmap.max() <= 1 and r.heatmap.max() > 0.9
        mh, mw = r.model_input.shape[:2]
        assert abs(mh / mw - h / w) < 0.15 and mh % 32 == 0 and mw % 32 == 0


def test_top5_is_sorted_and_consistent(lite):
    r = logic.explain(CAT)
    probs = [t["prob"] for t in r.top5]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    assert r.target["index"] == r.top5[0]["index"]
    assert r.top5[0]["label"] in {"tabby", "tiger cat", "Egyptian cat"}


def test_targets_by_index_name_and_ambiguous_name(lite):
    assert logic.explain(CAT, target=967).target["label"] == "espresso"
    assert logic.explain(CAT, target="967").target["label"] == "espresso"
    assert logic.explain(CAT, target="Tabby").target["index"] == 281
    # "cat" matches several classes: the one the model favours is explained
    assert logic.explain(CAT, target="cat").target["index"] == logic.explain(CAT).target["index"]
    a, b = logic.explain(CAT, target="tabby"), logic.explain(CAT, target="espresso")
    assert not np.allclose(a.cam, b.cam)  # the class really changes the map


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "gradcam9000"}, "Unknown method"),
    ({"model": "alexnet"}, "Unknown model"),
    ({"target": "zebracorn"}, "Unknown ImageNet class"),
    ({"target": "zebr"}, "zebra"),  # a unique partial name is accepted...
    ({"target": 1000}, "out of range"),
    ({"target": -1}, "out of range"),
    ({"layer": "fc"}, "Unknown layer"),
])
def test_bad_parameters_are_refused_clearly(lite, kwargs, message):
    if message == "zebra":
        assert logic.explain(CAT, **kwargs).target["label"] == "zebra"
        return
    with pytest.raises(UserError, match=message):
        logic.explain(CAT, **kwargs)


def test_layers_are_selectable(lite):
    deep = logic.explain(CAT, layer="blocks.4")
    assert deep.layer == "blocks.4"
    assert not np.allclose(deep.cam, logic.explain(CAT).cam)


def hook_count(module: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(getattr(m, "_backward_pre_hooks", {})) for m in module.modules())


@pytest.mark.wiring  # plumbing (shapes, hooks, caps, progress, speed), not a number from the model
def test_hooks_are_released_over_many_calls(lite):
    # A leak shows after a single call (a hook left behind); 40 calls run each hooked method 10 times.
    before = hook_count(lite.module)
    for i in range(40):
        logic._cache.clear()
        logic.explain(CAT, method=("gradcam", "hirescam", "layercam", "guided-gradcam")[i % 4])
    assert hook_count(lite.module) == before == 0


def test_guided_gradcam_restores_the_relu6_modules(lite):
    kinds = [type(m).__name__ for m in lite.module.modules()]
    r = logic.explain(CAT, method="guided-gradcam")
    assert [type(m).__name__ for m in lite.module.modules()] == kinds
    assert r.guided is not None and r.guided.shape[:2] == r.heatmap.shape
    assert r.heatmap.min() >= 0 and r.heatmap.max() > 0.3


def test_guided_backprop_really_guides_relu6(lite):
    """With ReLU6 swapped, the input gradient differs from plain backprop (which it equals if the swap failed)."""
    _, x = model_tensor(lite.spec, CAT)
    guided = logic._guided_backprop(lite.module, x, 281)  # (h, w, 3)
    xg = x.clone().requires_grad_(True)
    (plain,) = torch.autograd.grad(lite.module(xg)[0, 281], xg)  # (1, 3, h, w)
    plain = plain[0].permute(1, 2, 0).numpy()
    assert guided.shape == plain.shape
    assert abs(np.corrcoef(guided.ravel(), plain.ravel())[0, 1]) < 0.9


def test_faithfulness_numbers(lite):
    f = logic.faithfulness(logic.explain(logic.SAMPLES["coffee"]))
    assert 0 <= f["p_hot_removed"] <= 1 and 0 <= f["p_random_removed"] <= 1
    assert f["drop_hot"] == pytest.approx(f["p_original"] - f["p_hot_removed"])
    # on the espresso cup, the hot region matters more than random pixels
    assert f["drop_hot"] > f["drop_random"]
    assert logic.faithfulness(logic.explain(logic.SAMPLES["coffee"])) is f  # computed once per cached result


def test_api_payload_shape(lite):
    payload = logic.api_payload(logic.explain(CAT), api.Clock())
    assert set(payload) >= {"model", "device", "offline", "top5", "target", "heatmap", "overlay"}
    heat = np.asarray(payload["heatmap"])
    assert heat.ndim == 2 and max(heat.shape) <= 256 and heat.min() >= 0 and heat.max() <= 1
    overlay = images.from_data_url(payload["overlay"])
    assert overlay.shape[:2] == heat.shape
    assert payload["offline"] is True and payload["model"] == "efficientnet_lite0"


def test_results_are_cached_per_image_and_settings(lite):
    a = logic.explain(CAT)
    assert logic.explain(CAT) is a
    assert logic.explain(CAT, method="hirescam") is not a


def test_png_export(lite):
    png = logic.compare_png([logic.explain(CAT), logic.explain(CAT, method="eigencam")])
    img = Image.open(__import__("io").BytesIO(png))
    h, w = logic.explain(CAT).heatmap.shape
    assert img.format == "PNG" and img.width == 1600  # three panels, slide-sized (see test_shared_logic)
    assert abs((img.height - 60) - (1600 - 2 * 16) / 3 * h / w) < 40  # panels keep the heatmap's aspect


@pytest.mark.parametrize("name", ["resnet50", "vit_b16"])
def test_hub_models_run_every_layer_choice(name, tmp_path, monkeypatch):
    """Hub code paths with random local weights: the ViT needs its tokens reshaped to a grid."""
    from safetensors.torch import save_file

    from core.loaders import build_arch

    spec = models.MODELS[name]
    (tmp_path / name).mkdir()
    save_file({k: v.contiguous() for k, v in build_arch(spec.arch).state_dict().items()},
              str(tmp_path / name / "model.safetensors"))
    monkeypatch.setenv("GLASSBOX_WEIGHTS_DIR", str(tmp_path))
    models.clear_cache()
    try:
        for label, _ in logic.layer_choices(name):
            r = logic.explain(CAT, name, "gradcam", layer=label)
            assert r.model == name and not r.offline
            assert r.heatmap.shape == images.fit_within(r.image.shape[:2], logic.HEATMAP_SIDE)
            assert np.isfinite(r.heatmap).all() and 0 <= r.heatmap.min() <= r.heatmap.max() <= 1
        if name == "vit_b16":
            assert r.model_input.shape[:2] == (224, 224)  # squashed whole, never cropped
    finally:
        models.clear_cache()


def test_chunked_score_cam_equals_pytorch_grad_cams(lite):
    """Our Score-CAM runs one batch per lane chunk; its map must be the library's, number for number."""
    from pytorch_grad_cam import ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    rgb = images.load_image(CAT)
    x = vision.to_tensor(vision.to_model_input(rgb, (64, 96)))  # (1, 3, 64, 96): small, so 1,280 channels are quick
    steps = list(logic._score_cam(lite, "backbone.bn2", x, 281))
    ticks = [s for s in steps if isinstance(s, logic.Progress)]
    ours, logits = steps[-1]
    assert len(ticks) == -(-1280 // logic.SCORECAM_BATCH)  # one chunk per batch of masked images
    # each chunk says how far it got, for a progress bar: steadily up to every channel
    assert [t.done for t in ticks] == sorted(t.done for t in ticks) and ticks[-1].done == ticks[-1].total == 1280
    with ScoreCAM(model=lite.module, target_layers=[lite.module.get_submodule("backbone.bn2")]) as cam:
        cam.batch_size = 64
        ref = cam(input_tensor=x, targets=[ClassifierOutputTarget(281)])[0]  # (64, 96)
    assert ours.shape == ref.shape == (64, 96)
    np.testing.assert_allclose(ours, ref, atol=2e-4)
    assert int(logits.argmax()) == int(lite.module(x).argmax())


def test_faithfulness_text_gives_a_verdict_that_matches_the_numbers():
    base = {"fraction": 0.2, "p_original": 0.6}
    good = logic.faithfulness_text({**base, "drop_hot": 0.5, "drop_random": 0.1})
    assert "passes" in good and "falls by 50.0%" in good and "falls by 10.0%" in good and "fails" not in good
    bad = logic.faithfulness_text({**base, "drop_hot": -0.113, "drop_random": 0.37})
    assert "fails its own check" in bad and "rises by 11.3%" in bad and "falls by 37.0%" in bad
    assert "passes" not in bad


def test_the_default_cat_gets_an_honest_verdict(lite):
    f = logic.faithfulness(logic.explain(CAT))
    text = logic.faithfulness_text(f)
    assert ("passes" in text) == (f["drop_hot"] > f["drop_random"])


@pytest.mark.wiring  # plumbing (shapes, hooks, caps, progress, speed), not a number from the model
def test_score_cam_reports_progress_to_the_caller_thread(lite):
    import threading

    seen = []
    caller = threading.get_ident()
    logic._cache.clear()
    r = logic.explain(images.load_image(CAT)[::4, ::4], "efficientnet_lite0", "scorecam",
                      progress=lambda f, text: seen.append((f, text, threading.get_ident())))
    assert r.method == "scorecam" and seen
    fractions = [f for f, _, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 < fractions[0] < 1
    assert all(t == caller for _, _, t in seen)  # Streamlit can only draw from the script's own thread
    assert "channels scored" in seen[0][1]


def test_the_vit_link_asks_for_an_imagenet_vit_only_when_its_weights_are_here(monkeypatch, tmp_path):
    """Offline the link to the ViT viewer opens the model that runs there and says so; with ViT-B/16's weights in
    the weights folder it opens ViT-B/16 (before, it always asked for ViT-B/16, which opened on a stand-in)."""
    monkeypatch.setenv("GLASSBOX_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))  # an empty cache: nothing downloaded here
    values, text = logic.vit_link("coffee")
    assert values == {"image": "coffee"} and "offline digits ViT" in text
    (tmp_path / "vit_b16.safetensors").write_bytes(b"weights")
    values, text = logic.vit_link("coffee")
    assert values == {"image": "coffee", "model": "vit_b16"} and "ViT-B/16" in text


def test_the_progress_bar_goes_to_the_slow_method_and_says_loading_only_when_loading():
    """Score-CAM second in line started its bar at 50% (the quick Grad-CAM took the first half), and the bar
    said "Loading the model (first time only)" for a model already loaded."""
    (a_start, a_width), (b_start, b_width) = logic.progress_spans(["gradcam", "scorecam"])
    assert a_start == 0 and b_start < 0.05 and b_width > 0.95 and abs(b_start + b_width - 1) < 1e-9
    assert logic.progress_spans(["scorecam"]) == [(0.0, 1.0)]
    models.clear_cache()
    assert logic.first_progress_text("efficientnet_lite0", "scorecam").startswith("Loading the model")
    models.load("efficientnet_lite0", "cpu")
    assert logic.first_progress_text("efficientnet_lite0", "scorecam") == "Computing " + logic.METHODS["scorecam"][1]
