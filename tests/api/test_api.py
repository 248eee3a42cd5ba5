"""The hub launched in-process; /gradcam called the way a notebook would, through gradio_client."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import requests
from PIL import Image

from conftest import SAMPLES
from core import images

pytestmark = pytest.mark.api


def call(client, path, **kwargs):
    from gradio_client import handle_file

    return client.predict(image=handle_file(str(path)), api_name="/gradcam", **kwargs)


def test_gradcam_endpoint_returns_the_documented_fields(client):
    out = call(client, SAMPLES / "cat.png")
    assert out["model"] == "efficientnet_lite0" and out["device"] == "cpu" and out["offline"] is True
    assert len(out["top5"]) == 5 and set(out["top5"][0]) == {"index", "label", "prob"}
    assert out["target"] == {"index": out["top5"][0]["index"], "label": out["top5"][0]["label"]}
    heat = np.asarray(out["heatmap"], dtype=np.float32)
    h, w = Image.open(SAMPLES / "cat.png").size[::-1]
    assert heat.ndim == 2 and max(heat.shape) == 256 and abs(heat.shape[0] / heat.shape[1] - h / w) < 0.02
    assert heat.min() >= 0 and heat.max() <= 1
    assert images.from_data_url(out["overlay"]).shape[:2] == heat.shape


def test_gradcam_endpoint_options(client):
    out = call(client, SAMPLES / "coffee.png", method="hirescam", target="cup")
    assert out["target"]["label"] == "cup" and out["method"] == "hirescam"
    out = call(client, SAMPLES / "coffee.png", target=504)
    assert out["target"] == {"index": 504, "label": "coffee mug"}


def test_hub_model_offline_says_so(client):
    out = call(client, SAMPLES / "rocket.jpg", model="resnet50")
    assert out["model"] == "efficientnet_lite0" and out["offline"] is True
    assert "offline stand-in for ResNet-50" in out["model_label"] and "unavailable" not in out["model_label"]
    assert [n for n in out["notices"] if "unavailable (offline" in n and "running EfficientNet-Lite0" in n]


def write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def png(img: Image.Image, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("name, make", [
    ("gray.png", lambda: png(Image.new("L", (64, 48), 128))),
    ("rgba.png", lambda: png(Image.new("RGBA", (64, 48), (200, 10, 10, 128)))),
    ("cmyk.jpg", lambda: png(Image.new("CMYK", (64, 48), (0, 200, 200, 0)), "JPEG")),
    ("deep.png", lambda: png(Image.fromarray(np.full((48, 64), 40000, np.uint16)))),
])
def test_odd_but_valid_images_work(client, tmp_path, name, make):
    out = call(client, write(tmp_path, name, make()))
    assert np.asarray(out["heatmap"]).shape == (48, 64)


@pytest.mark.parametrize("name, data, kwargs, message", [
    ("notes.png", b"this is plain text, not a picture", {}, "not an image"),
    ("empty.png", b"", {}, "empty"),
    ("dot.png", png(Image.new("RGB", (1, 1))), {}, "1x1 pixels"),
    ("bomb.png", png(Image.new("1", (20000, 20000))), {}, "megapixels"),
    ("cat.png", (SAMPLES / "cat.png").read_bytes(), {"model": "my/evil-model"}, "Unknown model"),
    ("cat.png", (SAMPLES / "cat.png").read_bytes(), {"method": "magic"}, "Unknown method"),
    ("cat.png", (SAMPLES / "cat.png").read_bytes(), {"target": "unicorn"}, "Unknown ImageNet class"),
])
def test_bad_input_gives_a_clear_error_and_the_server_stays_up(client, tmp_path, name, data, kwargs, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        call(client, write(tmp_path, name, data), **kwargs)
    assert call(client, SAMPLES / "cat.png")["model"] == "efficientnet_lite0"


def test_upload_size_is_capped(hub, tmp_path):
    big = write(tmp_path, "huge.png", b"\x89PNG" + np.random.default_rng(0).bytes(images.MAX_UPLOAD_BYTES + 1024))
    with big.open("rb") as f:
        r = requests.post(f"{hub}/gradio_api/upload", files={"files": ("huge.png", f)}, timeout=60)
    assert r.status_code == 413 or "exceed" in r.text.lower() or "too large" in r.text.lower()


def test_plain_rest_with_a_data_url(hub):
    """What benchmarks and non-Python clients do: POST, then read the event stream."""
    url = images.to_data_url(images.load_image(SAMPLES / "coffee.png"))
    r = requests.post(f"{hub}/gradio_api/call/gradcam", json={"data": [url, "efficientnet_lite0", "gradcam", None]},
                      timeout=30)
    event_id = r.json()["event_id"]
    stream = requests.get(f"{hub}/gradio_api/call/gradcam/{event_id}", timeout=60).text
    assert "event: complete" in stream
    line = next(ln for ln in stream.split("event: complete", 1)[1].splitlines() if ln.startswith("data: "))
    payload = json.loads(line.removeprefix("data: "))[0]
    assert payload["target"]["label"] == "espresso"


def test_files_outside_uploads_cannot_be_read(hub):
    r = requests.post(f"{hub}/gradio_api/call/gradcam",
                      json={"data": [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}},
                                     "efficientnet_lite0", "gradcam", None]}, timeout=30)
    stream = requests.get(f"{hub}/gradio_api/call/gradcam/{r.json()['event_id']}", timeout=60).text
    assert "event: error" in stream and "root:" not in stream


def test_pages_are_served(hub):
    for path in ("/", "/gradcam"):
        assert requests.get(hub + path, timeout=10).status_code == 200


def fgsm(client, path, **kwargs):
    from gradio_client import handle_file

    return client.predict(image=handle_file(str(path)), api_name="/fgsm", **kwargs)


def test_fgsm_endpoint_returns_the_documented_fields(client):
    out = fgsm(client, SAMPLES / "coffee.png")
    assert out["model"] == "efficientnet_lite0" and out["device"] == "cpu"
    a, b = images.from_data_url(out["original"]), images.from_data_url(out["adversarial"])
    assert a.shape == b.shape and a.dtype == np.uint8
    linf = np.abs(a.astype(int) - b.astype(int)).max()
    assert out["perturbation_linf"] == linf <= 4
    assert out["perturbation_l2"] == pytest.approx(np.sqrt(((a.astype(float) - b) ** 2).sum()), rel=1e-4)
    assert len(out["orig_top5"]) == len(out["adv_top5"]) == 5
    assert out["flipped"] == (out["orig_top5"][0]["index"] != out["adv_top5"][0]["index"])
    assert out["orig_top5"][0]["label"] == "espresso"


def test_fgsm_targeted_pgd(client):
    out = fgsm(client, SAMPLES / "coffee.png", epsilon=4, attack="pgd", steps=10, target="goldfish")
    assert out["target"]["label"] == "goldfish" and out["adv_top5"][0]["label"] == "goldfish" and out["flipped"]


@pytest.mark.parametrize("kwargs, message", [
    ({"epsilon": 99}, "out of range"),
    ({"epsilon": -0.5}, "out of range"),
    ({"attack": "carlini"}, "Unknown attack"),
    ({"model": "/etc/passwd"}, "Unknown model"),
])
def test_fgsm_bad_parameters(client, kwargs, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        fgsm(client, SAMPLES / "coffee.png", **kwargs)


def test_fgsm_nan_epsilon_over_rest(hub):
    """JSON clients can send NaN (Python's json does); it must be refused, not crash or attack."""
    url = images.to_data_url(images.load_image(SAMPLES / "coffee.png"))
    body = json.dumps({"data": [url, "efficientnet_lite0", float("nan"), "fgsm", 10, None]})
    assert "NaN" in body
    r = requests.post(f"{hub}/gradio_api/call/fgsm", data=body, headers={"Content-Type": "application/json"},
                      timeout=30)
    stream = requests.get(f"{hub}/gradio_api/call/fgsm/{r.json()['event_id']}", timeout=60).text
    assert "event: error" in stream and "out of range" in stream


def test_fgsm_steps_are_capped_with_a_message(client):
    out = fgsm(client, SAMPLES / "cat.png", epsilon=1, attack="bim", steps=10**6)
    assert out["steps"] == 100 and any("capped" in n for n in out["notices"])


def test_fgsm_bad_upload(client, tmp_path):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="not an image"):
        fgsm(client, write(tmp_path, "x.jpg", b"GIF89a? no"))


def test_attention_endpoint(client):
    out = client.predict(text="The robot kicked the ball because it was round.", api_name="/attention")
    assert out["model"] == "minilm" and out["device"] == "cpu" and out["truncated"] is False
    att = np.asarray(out["attentions"])
    t = len(out["tokens"])
    assert out["tokens"][0] == "[CLS]" and att.shape == (6, 12, t, t)
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-4)


def test_attention_pairs_and_truncation(client):
    out = client.predict(text="The cat sat.", model="minilm", text_pair="It was tired.", api_name="/attention")
    assert out["tokens"].count("[SEP]") == 2
    out = client.predict(text="word " * 10_000, api_name="/attention")
    assert out["truncated"] is True and len(out["tokens"]) == 128


@pytest.mark.parametrize("kwargs, message", [
    ({"text": ""}, "empty"),
    ({"text": "hello", "model": "llama-70b"}, "Unknown model"),
])
def test_attention_bad_input(client, kwargs, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        client.predict(api_name="/attention", **kwargs)


def test_vit_endpoint(client, tmp_path):
    from apps.vit_patches import data

    path = tmp_path / "digit.png"
    Image.fromarray(data.gallery(1)[0].image).save(path)
    out = client.predict(image=handle_file_(path), api_name="/vit")
    assert out["model"] == "vit_digits" and out["image_size"] == [64, 64] and out["patch_size"] == 8
    assert out["grid"] == [8, 8] and out["num_patches"] == 64 and len(out["top5"]) == 5
    assert np.asarray(out["pos_embed_similarity"]).shape == (64, 64)
    assert np.asarray(out["cls_attention"]).shape == (8, 8) and np.asarray(out["rollout"]).shape == (8, 8)
    one = client.predict(image=handle_file_(path), layer=0, head=2, api_name="/vit")
    assert one["layer"] == 0 and one["head"] == 2 and one["cls_attention"] != out["cls_attention"]


@pytest.mark.parametrize("kwargs, message", [({"layer": 9}, "Layer 9"), ({"head": 7}, "Head 7"),
                                             ({"model": "resnet50"}, "not a Vision Transformer")])
def test_vit_bad_parameters(client, kwargs, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        client.predict(image=handle_file_(SAMPLES / "cat.png"), api_name="/vit", **kwargs)


def handle_file_(path):
    from gradio_client import handle_file

    return handle_file(str(path))


def test_vit_bad_upload_and_tiny_image(client, tmp_path):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="not an image"):
        client.predict(image=handle_file_(write(tmp_path, "x.png", b"nope")), api_name="/vit")
    with pytest.raises(AppError, match="8x8 pixels"):
        client.predict(image=handle_file_(write(tmp_path, "t.png", png(Image.new("RGB", (8, 8))))), api_name="/vit")
    assert client.predict(image=handle_file_(SAMPLES / "cat.png"), api_name="/vit")["grid"] == [8, 8]


def test_diffusion_endpoint(client):
    out = client.predict(seed=3, scheduler="ddim", steps=20, eta=0.0, label=7, api_name="/diffusion")
    assert out["model"] == "ddpm_digits" and "Glassbox digits DDPM" in out["model_label"] and out["device"] == "cpu"
    assert len(out["timesteps"]) == len(out["frames"]) == len(out["x0_preds"]) == 20
    assert out["timesteps"] == sorted(out["timesteps"], reverse=True)
    final = np.asarray(out["final_array"])
    assert final.shape == (16, 16) and 0 <= final.min() and final.max() <= 1
    assert images.from_data_url(out["frames"][0]).shape[:2] == (16, 16)
    np.testing.assert_allclose(images.from_data_url(out["final"]) / 255.0, final, atol=1 / 255 + 1e-4)
    from apps.diffusion import logic

    assert out["settings"]["guidance"] == logic.default_guidance()  # the measured best scale is the default
    again = client.predict(seed=3, scheduler="ddim", steps=20, eta=0.0, label=7, api_name="/diffusion")
    assert again["final_array"] == out["final_array"]  # DDIM eta 0: the seed decides everything


def test_diffusion_caps_and_refusals(client):
    from gradio_client.exceptions import AppError

    out = client.predict(steps=0, label=1, api_name="/diffusion")
    assert len(out["frames"]) == 1 and any("using 1" in n for n in out["notices"])
    for kwargs, message in (({"seed": -1}, "seed must be"), ({"label": 11}, "label must be a digit"),
                            ({"scheduler": "euler"}, "Unknown scheduler"),
                            ({"model": "stabilityai/sd"}, "Unknown model")):
        with pytest.raises(AppError, match=message):
            client.predict(api_name="/diffusion", **kwargs)


def test_diffusion_nan_guidance_over_rest(hub):
    body = json.dumps({"data": [0, "ddim", 10, 0.0, 3, float("nan"), "ddpm_digits"]})
    r = requests.post(f"{hub}/gradio_api/call/diffusion", data=body, headers={"Content-Type": "application/json"},
                      timeout=30)
    stream = requests.get(f"{hub}/gradio_api/call/diffusion/{r.json()['event_id']}", timeout=60).text
    assert "event: error" in stream and "NaN" in stream


HEADER = ["model", "model_label", "device", "offline", "notices", "elapsed_ms", "timing_ms", "worker"]


def test_every_endpoint_starts_with_the_same_header(client, api_backend):
    """One helper builds the header: the same fields, in the same order, on every endpoint."""
    from gradio_client import handle_file

    cat = handle_file(str(SAMPLES / "cat.png"))
    outs = {
        "/gradcam": client.predict(image=cat, api_name="/gradcam"),
        "/fgsm": client.predict(image=cat, epsilon=2, api_name="/fgsm"),
        "/attention": client.predict(text="Header fields for everyone.", api_name="/attention"),
        "/vit": client.predict(image=cat, api_name="/vit"),
        "/diffusion": client.predict(seed=11, steps=4, label=2, api_name="/diffusion"),
        "/clip": client.predict(image=cat, labels=["a cat", "a dog"], api_name="/clip"),
        "/sam": client.predict(image=cat, points=[[200, 150, 1]], api_name="/sam"),
        "/gan_sample": client.predict(seeds=[1, 2], api_name="/gan_sample"),
        "/gan_interpolate": client.predict(seed_a=1, seed_b=2, api_name="/gan_interpolate"),
        "/gan_edit": client.predict(seeds=[1], attribute="hat", api_name="/gan_edit"),
        "/gan_analogy": client.predict(a=1, b=2, c=3, api_name="/gan_analogy"),
    }
    for name, out in outs.items():
        assert list(out)[:len(HEADER)] == HEADER, name
        assert out["model"] in __import__("core.models", fromlist=["MODELS"]).MODELS, name
        assert out["device"] == "cpu" and out["offline"] is True and isinstance(out["notices"], list), name
        assert out["elapsed_ms"] > 0 and "model" in out["timing_ms"] and "encode" in out["timing_ms"], name
        assert sum(out["timing_ms"].values()) <= out["elapsed_ms"] + 1, name
        # Who ran it: this process, or (GLASSBOX_TEST_BACKEND=ray) a replica, or the front end's cache for a repeat.
        assert out["worker"] == "local" if api_backend == "local" else \
            out["worker"].startswith("Worker#") or out["worker"] == "frontend", name


def test_a_hub_model_offline_names_the_stand_in_in_the_header(client):
    from gradio_client import handle_file

    out = client.predict(image=handle_file(str(SAMPLES / "cat.png")), model="vit_b16", api_name="/gradcam")
    assert out["model"] == "efficientnet_lite0" and out["offline"] is True
    assert any("ViT-B/16" in n and "unavailable" in n and "instead" in n for n in out["notices"])
    out = client.predict(text="The stand-in speaks.", model="distilgpt2", api_name="/attention")
    assert out["model"] == "minilm" and any("DistilGPT-2" in n for n in out["notices"])


OFFERED = {  # every model each endpoint's API offers
    "/gradcam": ["efficientnet_lite0", "resnet50", "vit_b16"],
    "/fgsm": ["efficientnet_lite0", "resnet50", "vit_b16"],
    "/attention": ["minilm", "bert", "distilgpt2"],
    "/vit": ["vit_digits", "vit_b16", "deit_tiny", "dino_vits16"],
    "/diffusion": ["ddpm_digits", "ddpm_cifar10"],
    "/clip": ["conse", "clip_vit_b32"],
    "/sam": ["sam_classic", "sam_tiny", "sam_vit_b"],
    "/gan_sample": ["gan_faces", "gan_punks"],
}


@pytest.mark.parametrize("endpoint, model", [(e, m) for e, ms in OFFERED.items() for m in ms])
def test_every_model_of_every_endpoint_answers_offline(client, endpoint, model):
    """Offline, a hub model falls back to an offline model of the right family for that page, which
    runs and says so; an offline model runs as asked, with no notice about models."""
    from gradio_client import handle_file

    from core import models

    args = {"text": "The stand-in still answers."} if endpoint == "/attention" else \
        {"seed": 5, "steps": 3} if endpoint == "/diffusion" else {"image": handle_file(str(SAMPLES / "cat.png"))}
    if endpoint == "/clip":
        args["labels"] = "a cat\na dog"
    if endpoint == "/sam":
        args["points"] = [[200, 150, 1]]
    if endpoint == "/gan_sample":
        args = {"seeds": [1, 2]}
    out = client.predict(model=model, api_name=endpoint, **args)
    assert out["offline"] is True and models.MODELS[out["model"]].is_offline_model
    if models.MODELS[model].is_offline_model:
        assert out["model"] == model
    else:
        title = models.MODELS[model].title
        assert any(title in n and "unavailable" in n and "instead" in n for n in out["notices"]), out["notices"]
        assert models.MODELS[out["model"]].task == models.MODELS[model].task


def test_clip_endpoint_order_modes_and_bad_input(client):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    cat = handle_file(str(SAMPLES / "cat.png"))
    out = client.predict(image=cat, labels=["a dog", "a cat", "a cup of coffee"], api_name="/clip")
    assert out["labels"] == ["a dog", "a cat", "a cup of coffee"] and out["top"]["label"] == "a cat"
    assert sum(out["probs"]) == pytest.approx(1.0, abs=1e-5) and len(out["similarities"]) == 3
    flipped = client.predict(image=cat, labels="a cup of coffee\na cat\na dog", api_name="/clip")
    assert flipped["probs"] == pytest.approx(out["probs"][::-1], abs=1e-6)
    alone = client.predict(image=cat, labels="a car, a bus", mode="independent", templates=False, api_name="/clip")
    assert all(0 <= p <= 1 for p in alone["probs"]) and alone["templates"] is False
    for kwargs, message in (({"labels": []}, "at least two"), ({"labels": ["a", ""]}, "empty"),
                            ({"labels": [f"l{i}" for i in range(200)]}, "200 labels"),
                            ({"labels": ["a", "b" * 10_000]}, "characters"), ({"labels": "a,b", "mode": "x"}, "mode")):
        with pytest.raises(AppError, match=message):
            client.predict(image=cat, api_name="/clip", **kwargs)


def test_sam_endpoint_masks_scores_and_the_cached_embedding(client, tmp_path):
    """A scene whose truth is known: one click finds the object, the masks are image-sized black-and-white
    PNGs, and the second click on the same image is answered from the cached embedding."""
    from gradio_client import handle_file

    from apps.sam import scenes

    s = scenes.make_scene(424_242, 256, twins=0.0)
    path = tmp_path / "scene.png"
    Image.fromarray(s.image).save(path)
    target = max(s.targets, key=lambda t: t.mask.sum() if t.kind == "object" else 0)
    x, y = scenes.inside_point(target.mask, np.random.default_rng(0), 4)
    first = client.predict(image=handle_file(str(path)), points=[[x, y, 1]], api_name="/sam")
    assert first["model"] == "sam_classic" and first["offline"] is True
    assert first["timing"]["embedding_cached"] is False and first["timing"]["encode_ms"] > 0
    assert len(first["masks"]) >= 1 and 0 <= first["best"] < len(first["masks"])
    best = images.from_data_url(first["masks"][first["best"]]["mask"])
    assert best.shape[:2] == (256, 256) and set(np.unique(best)) <= {0, 255}
    assert first["masks"][first["best"]]["area"] == int((best[..., 0] > 127).sum())
    assert scenes.iou(best[..., 0] > 127, target.mask) > 0.85
    again = client.predict(image=handle_file(str(path)), points=[[x, y, 1]], box=list(scenes.box_of(target.mask)),
                           multimask=False, api_name="/sam")
    assert again["timing"]["embedding_cached"] is True and again["timing"]["encode_ms"] == 0
    assert len(again["masks"]) == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"points": [[999, 10, 1]]}, "outside the image"),
    ({"points": [[10, 10, 3]]}, "label"),
    ({"points": [], "box": [90, 10, 20, 50]}, "x1 <= x0"),
    ({"points": []}, "Give a prompt"),
    ({"points": [[10, 10, 1]], "model": "resnet50"}, "not a segmentation model"),
])
def test_sam_bad_prompts_give_clear_errors(client, kwargs, message):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        client.predict(image=handle_file(str(SAMPLES / "cat.png")), api_name="/sam", **kwargs)


def test_sam_refuses_a_non_image(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    with pytest.raises(AppError, match="not an image"):
        client.predict(image=handle_file(str(bad)), points=[[1, 1, 1]], api_name="/sam")


def test_gan_endpoints_return_the_documented_fields(client):
    real = client.predict(n=4, seed=1, api_name="/gan_real")
    assert len(real["images"]) == 4 and real["attribute_names"] == ["smiling", "glasses", "hat", "bright_background"]
    assert set(real["attributes"][0]) == set(real["attribute_names"])
    assert images.from_data_url(real["images"][0]).shape == (32, 32, 3)
    s = client.predict(seeds=[5, 6, 5], api_name="/gan_sample")
    assert s["model"] == "gan_faces" and s["images"][0] == s["images"][2] and len(s["latent_norms"]) == 3
    path = client.predict(seed_a=5, seed_b=6, steps=5, mode="slerp", api_name="/gan_interpolate")
    assert path["images"][0] == s["images"][0] and path["images"][-1] == s["images"][1]
    lerp = client.predict(seed_a=5, seed_b=6, steps=5, mode="lerp", api_name="/gan_interpolate")
    assert lerp["latent_norms"][2] < path["latent_norms"][2]
    e = client.predict(seeds=[1, 2], attribute="hat", api_name="/gan_edit")
    assert len(e["images"]) == len(e["edited"]) == 2 and e["images"][0] == client.predict(
        seeds=[1], api_name="/gan_sample")["images"][0] and e["strength"] > 0
    a = client.predict(a=1, b=2, c=3, api_name="/gan_analogy")
    assert a["image"].startswith("data:image/png;base64,") and len(a["inputs"]) == 3


@pytest.mark.parametrize("api, kwargs, message", [
    ("/gan_sample", {"seeds": list(range(10_000))}, "10,000 seeds"),
    ("/gan_interpolate", {"seed_a": 1, "seed_b": 2, "steps": 0}, "steps"),
    ("/gan_edit", {"seeds": [1], "attribute": "moustache"}, "Unknown attribute"),
    ("/gan_edit", {"seeds": [1], "attribute": "hat", "strength": 1e9}, "strength"),
    ("/gan_real", {"n": 100_000}, "n must be"),
])
def test_gan_bad_input_gives_clear_errors(client, api, kwargs, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        client.predict(api_name=api, **kwargs)


def _settings(url: str) -> tuple[str, dict]:
    """(page, settings) of a share_url, read back the way the page reads it."""
    import importlib
    from urllib.parse import parse_qsl

    from apps.registry import BY_SLUG

    path, query = url.split("?", 1)
    slug = path.strip("/")
    assert slug in BY_SLUG, url
    values, notices = importlib.import_module(f"apps.{slug}.logic").VIEW.parse(dict(parse_qsl(query,
                                                                                        keep_blank_values=True)))
    assert notices == [], (url, notices)
    return slug, values


def test_every_response_carries_a_share_url_for_the_view_it_computed(client):
    from gradio_client import handle_file

    cat = handle_file(str(SAMPLES / "cat.png"))
    checks = {
        "/gradcam": (dict(image=cat, method="hirescam", target="tabby"), "gradcam",
                     {"image": "cat", "method": "hirescam", "target": "tabby", "compare": "none"}),
        "/fgsm": (dict(image=cat, epsilon=2, attack="pgd", steps=5), "fgsm",
                  {"image": "cat", "epsilon": 2.0, "attack": "pgd", "steps": 5}),
        "/attention": (dict(text="Links carry the sentence.", model="minilm"), "attention",
                       {"text": "Links carry the sentence.", "layer": 5, "head": "mean"}),
        "/vit": (dict(image=cat, layer=1, head=2), "vit_patches", {"image": "cat", "layer": 1, "head": "2"}),
        "/diffusion": (dict(seed=11, steps=4, label=2), "diffusion",
                       {"seed": 11, "steps": 4, "label": "2", "step": 3}),
        "/clip": (dict(image=cat, labels=["a cat", "a dog"], mode="independent"), "clip_zero_shot",
                  {"image": "cat", "labels": "a cat\na dog", "mode": "independent"}),
        "/sam": (dict(image=cat, points=[[200, 150, 1]]), "sam", {"image": "cat", "prompt": "200,150,1"}),
        "/gan_sample": (dict(seeds=[5, 6, 7, 8], truncation=0.5), "gan_latent",
                        {"start": 5, "count": 4, "truncation": 0.5}),
        "/gan_interpolate": (dict(seed_a=1, seed_b=2, steps=5), "gan_latent", {"seed_a": 1, "seed_b": 2, "steps": 5}),
        "/gan_edit": (dict(seeds=[4], attribute="hat", strength=2.5), "gan_latent",
                      {"attribute": "hat", "strength": 2.5, "edit_start": 4}),
        "/gan_analogy": (dict(a=1, b=2, c=3), "gan_latent", {"a": 1, "b": 2, "c": 3}),
        "/gan_real": (dict(n=4), "gan_latent", {}),
    }
    for endpoint, (args, page, expected) in checks.items():
        out = client.predict(api_name=endpoint, **args)
        slug, values = _settings(out["share_url"])
        assert slug == page, endpoint
        assert {k: values[k] for k in expected} == expected, (endpoint, out["share_url"])


def test_an_upload_that_is_no_gallery_image_leaves_the_image_out_of_the_share_url(client, tmp_path):
    from gradio_client import handle_file

    img = np.asarray(Image.open(SAMPLES / "cat.png").convert("RGB"))[10:-10, 10:-10]
    path = write(tmp_path, "crop.png", png(Image.fromarray(img)))
    out = client.predict(image=handle_file(str(path)), api_name="/gradcam")
    assert "image=" not in out["share_url"]
    assert _settings(out["share_url"])[1]["image"] == "cat"  # the page's default, as its notice will say
