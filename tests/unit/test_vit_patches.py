"""ViT patch viewer: token counts, attention rows, rollout, learned positions, the bundled model's
quality on fresh generated images, and the hub path through a tiny random timm ViT."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from apps.vit_patches import data, logic
from core import api, images, models

# Numbers from models: run again under another CPU kernel set (scripts/dev.sh).
pytestmark = pytest.mark.kernels

MANIFEST = json.loads((models.ASSETS / "models" / "MANIFEST.json").read_text())["vit_digits.safetensors"]


@pytest.fixture(scope="module")
def vit():
    return models.load("vit_digits", "cpu")


@pytest.mark.parametrize("h, w, p, n", [(64, 64, 8, 64), (224, 224, 16, 196), (224, 224, 32, 49), (96, 64, 16, 24),
                                        (100, 70, 16, 24)])
def test_token_count_formula(h, w, p, n):
    t = logic.token_count(h, w, p)
    assert t["num_patches"] == t["rows"] * t["cols"] == (h // p) * (w // p) == n
    assert t["tokens"] == n + 1 and t["attention_pairs"] == (n + 1) ** 2


def test_split_view_works_for_any_image_and_patch_size():
    rgb = np.random.default_rng(0).integers(0, 255, (70, 100, 3), np.uint8)
    for p in (2, 7, 16, 33):
        out = logic.split_view(rgb, p)
        assert out.ndim == 3 and out.shape[2] == 3
    with pytest.raises(logic.ViTInputError, match="does not fit"):
        logic.split_view(rgb, 200)


def test_result_shapes_and_rows(vit):
    r = logic.inspect(data.gallery(1)[0].image)
    assert r.image_size == (64, 64) and r.patch_size == 8 and r.grid == (8, 8) and r.num_patches == 64
    assert r.attentions.shape == (4, 4, 65, 65) and r.prefix == 1
    np.testing.assert_allclose(r.attentions.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(r.rollout.sum(-1), 1.0, atol=1e-5)
    assert r.cls_attention(3, None).shape == (8, 8) and r.rollout_map().shape == (8, 8)
    assert len(r.top5) == 5 and r.offline


def test_attention_equals_a_manual_softmax(vit):
    """Recompute block 0's attention from its q/k weights: softmax(q k^T / sqrt(d))."""
    img = data.gallery(1)[0].image
    r = logic.inspect(img)
    bb = vit.module.backbone
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        tokens = bb._pos_embed(bb.patch_embed((x - 0.5) / 0.5))  # (1, 65, D)
        h = bb.blocks[0].norm1(tokens)
        attn = bb.blocks[0].attn
        qkv = attn.qkv(h).reshape(1, 65, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)  # (3, 1, heads, 65, d)
        q, k = attn.q_norm(qkv[0]), attn.k_norm(qkv[1])
        want = ((q @ k.transpose(-2, -1)) * attn.scale).softmax(-1)[0].numpy()  # (heads, 65, 65)
    np.testing.assert_allclose(r.attentions[0], want, atol=1e-5)


def test_bundled_model_meets_its_manifest(vit):
    assert MANIFEST["test_accuracy"] >= 0.9
    rng = np.random.default_rng(777)  # fresh images, not the training script's
    imgs, labels, _ = data.batch(rng, 300, "test")
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        acc = float((vit.module(x).argmax(-1).numpy() == labels).mean())
    assert acc >= 0.9 and abs(acc - MANIFEST["test_accuracy"]) < 0.05


def test_rollout_finds_the_digit(vit):
    rng = np.random.default_rng(4242)
    imgs, _, boxes = data.batch(rng, 100, "test")
    hits = 0
    for img, (x0, y0, x1, y1) in zip(imgs, boxes):
        m = logic.inspect(img).rollout_map()
        r, c = np.unravel_index(m.argmax(), m.shape)
        cx, cy = (c + 0.5) * 8, (r + 0.5) * 8
        hits += x0 <= cx < x1 and y0 <= cy < y1
    assert hits >= 80


def test_position_embeddings_learned_2d_structure(vit):
    r = logic.inspect(data.gallery(1)[0].image)
    yy, xx = np.divmod(np.arange(64), 8)
    d = np.hypot(yy[:, None] - yy[None, :], xx[:, None] - xx[None, :])
    assert r.pos_sim[d == 1].mean() > r.pos_sim[d >= 4].mean() + 0.1
    np.testing.assert_allclose(np.diag(r.pos_sim), 1.0, atol=1e-5)


def test_patch_detail_and_clicks(vit):
    r = logic.inspect(data.gallery(1)[0].image)
    d = logic.patch_detail(r, 9)  # row 1, col 1
    assert (d["row"], d["col"]) == (1, 1) and d["flat"].size == 8 * 8 * 3 and d["embedding"].size == 96
    np.testing.assert_allclose(d["flat"].reshape(8, 8, 3), r.model_input[8:16, 8:16] / 255, atol=1e-7)
    side = logic.split_view(r.model_input, 8).shape[0]  # 512: 8 pixels per input pixel
    assert logic.patch_at(r, side - 1, 0) == 7 and logic.patch_at(r, 0, side - 1) == 56
    assert r.patch_attention(-1, 0, 0).shape == (8, 8)
    sheet = logic.position_grid(r)
    assert logic.position_at(r, 0, 0) == 0 and logic.position_at(r, sheet.shape[1] - 1, sheet.shape[0] - 1) == 63
    assert logic.position_at(r, sheet.shape[1] // 8 * 3 + 1, 1) == 3
    assert logic.position_map(r, 3).shape[2] == 3


@pytest.mark.parametrize("layer, head, message", [(4, None, "Layer 4"), (-1, None, "Layer -1"), (0, 4, "Head 4")])
def test_layer_and_head_out_of_range(vit, layer, head, message):
    r = logic.inspect(data.gallery(1)[0].image)
    with pytest.raises(logic.ViTInputError, match=message):
        r.cls_attention(layer, head)


def test_non_vit_models_are_refused():
    with pytest.raises(logic.ViTInputError, match="not a Vision Transformer"):
        logic.inspect(data.gallery(1)[0].image, "efficientnet_lite0")


def test_views_render(vit):
    r = logic.inspect(data.gallery(1)[0].image)
    assert logic.pca_colours(r).shape[2] == 3 and logic.position_grid(r).shape[2] == 3
    assert logic.heat_overlay(r, r.rollout_map()).shape[:2] == images.enlarge(r.model_input, logic.VIEW_SIDE).shape[:2]
    assert len(logic.distance_figure(r).data) == 4
    p = logic.api_payload(r, api.Clock())
    assert p["grid"] == [8, 8] and np.asarray(p["pos_embed_similarity"]).shape == (64, 64)
    assert np.asarray(p["cls_attention"]).shape == (8, 8) and p["layer"] == 3


def test_hub_path_with_a_tiny_random_timm_vit(tmp_path, monkeypatch):
    """A hub entry (DeiT-tiny) resolved from a locally saved random checkpoint of its architecture."""
    from safetensors.torch import save_file

    from core.loaders import build_arch

    spec = models.MODELS["deit_tiny"]
    (tmp_path / "deit_tiny").mkdir()
    save_file({k: v.contiguous() for k, v in build_arch(spec.arch, **spec.arch_kwargs).state_dict().items()},
              str(tmp_path / "deit_tiny" / "model.safetensors"))
    monkeypatch.setenv("GLASSBOX_WEIGHTS_DIR", str(tmp_path))
    models.clear_cache()
    try:
        r = logic.inspect(data.gallery(1)[0].image, "deit_tiny")
        assert r.model == "deit_tiny" and r.grid == (14, 14) and r.attentions.shape == (12, 3, 197, 197)
        np.testing.assert_allclose(r.attentions.sum(-1), 1.0, atol=1e-4)
        assert len(r.top5) == 5
    finally:
        models.clear_cache()


def test_offline_hub_vit_falls_back_to_the_bundled_one():
    models.clear_cache()
    r = logic.inspect(data.gallery(1)[0].image, "dino_vits16")
    assert r.model == "vit_digits" and any("DINO" in n for n in r.notices)


def test_saved_gallery_matches_the_generator():
    """assets/images/vit_digits is what training/make_vit_gallery.py writes: regenerate if this fails."""
    for saved, fresh in zip(data.saved_gallery(), data.gallery(8)):
        assert np.array_equal(saved.image, fresh.image) and saved.label == fresh.label and saved.box == fresh.box


def test_position_tiles_map_back_to_their_position():
    """The Streamlit page puts a clickable marker at the centre of each tile of position_grid:
    position_at must read each centre back as that tile's position."""
    r = logic.inspect(data.saved_gallery()[0].image, "vit_digits")
    tw, th = logic.position_tile(r)
    rows, cols = r.grid
    sheet = logic.position_grid(r)
    assert sheet.shape[:2] == (rows * th, cols * tw)
    for i in (0, 9, r.num_patches - 1):
        rr, cc = divmod(i, cols)
        assert logic.position_at(r, (cc + 0.5) * tw, (rr + 0.5) * th) == i


def test_split_view_outlines_the_chosen_patch():
    r = logic.inspect(data.saved_gallery()[0].image, "vit_digits")
    plain = logic.split_view(r.model_input, r.patch_size)
    marked = logic.split_view(r.model_input, r.patch_size, mark=9, model_patch=r.patch_size)
    changed = np.argwhere((plain != marked).any(-1))  # (k, 2) rows, cols of changed pixels
    s = logic.split_scale(r.model_input.shape[:2])
    p = r.patch_size * s  # patch 9 = row 1, column 1
    assert changed.min(0).tolist() >= [p - 1, p - 1] and changed.max(0).tolist() <= [2 * p, 2 * p]
