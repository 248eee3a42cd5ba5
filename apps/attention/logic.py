"""Attention heatmaps: a sentence in, every layer's and head's attention weights out.

Pure: no gradio, no streamlit. The weights are the model's own softmax(QK^T / sqrt(d_k))
rows, read from transformers with eager attention. Figures are plotly objects and
PNG arrays built here so both UIs draw the same thing.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from core import api, images, models, share
from core.cache import ResultCache
from core.device import run_noted
from core.errors import UserError
from core.rollout import rollout

DEFAULT_MODEL = "minilm"
MODEL_CHOICES = ["minilm", "bert", "distilgpt2"]
MAX_TOKENS = 128  # special tokens included; longer inputs are truncated and say so
PRESETS = {
    "Coreference: 'it' = the robot": "The robot kicked the ball because it was programmed to score.",
    "Coreference: 'it' = the ball": "The robot kicked the ball because it was round.",
    "Agreement across a clause": "The keys that the man left on the table are missing.",
    "A repeated word": "The cat sat on the mat, and then the cat slept on the mat.",
}
# Control characters would reach the tokenizer as invisible junk tokens (or break the
# plot's labels); tabs and newlines become spaces, the rest is dropped.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class AttentionInputError(UserError):
    """Empty text, a pair on a causal model, a bad layer/head: the message says what would work."""


@dataclass
class AttentionResult:
    model: str
    model_label: str
    device: str
    offline: bool
    causal: bool
    tokens: list[str]
    attentions: np.ndarray  # (layers, heads, T, T) float32; row i = where token i looks
    truncated: bool
    pair_start: int | None  # index of the first token of the second sentence, if any
    notices: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def n_layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def n_heads(self) -> int:
        return self.attentions.shape[1]

    def matrix(self, layer: int, head: int | None) -> np.ndarray:
        """(T, T) for one head, or the mean over heads when head is None."""
        check_layer_head(self, layer, head)
        a = self.attentions[layer]  # (heads, T, T)
        return a.mean(0) if head is None else a[head]


def clean_text(text: str | None) -> str:
    text = unicodedata.normalize("NFC", str(text or ""))
    text = re.sub(r"[\t\r\n]+", " ", text)
    return _CONTROL.sub("", text).strip()


def check_layer_head(result: AttentionResult, layer: int, head: int | None) -> None:
    if not 0 <= int(layer) < result.n_layers:
        raise AttentionInputError(f"Layer {layer} does not exist: this model has layers 0 to {result.n_layers - 1}.")
    if head is not None and not 0 <= int(head) < result.n_heads:
        raise AttentionInputError(f"Head {head} does not exist: this model has heads 0 to {result.n_heads - 1}.")


_cache = ResultCache(64, "attention")  # results by input and settings: re-asking costs nothing


def attend(text: str, model: str = DEFAULT_MODEL, text_pair: str | None = None,
           device: str | None = None) -> AttentionResult:
    """All attention weights of `model` on `text` (and `text_pair`, for [SEP]-joined pairs)."""
    spec = models.get_spec(model or DEFAULT_MODEL)
    if spec.task != "text-attention":
        raise AttentionInputError(f"{spec.name} is an image model. Choose one of: {', '.join(MODEL_CHOICES)}.")
    text, pair = clean_text(text), clean_text(text_pair) or None
    if not text:
        raise AttentionInputError("Type a sentence (the text is empty).")
    key = (spec.name, text, pair, device or "")

    return _cache.get_or_compute(key, lambda: run_noted(lambda dev: _attend(text, spec.name, pair, dev), device))


MAX_CHARS = 20_000  # far more than MAX_TOKENS needs; spares the tokenizer a pasted novel


def encode(tokenizer, text: str, pair: str | None):
    """Tokenize with truncation at MAX_TOKENS; returns (encoding, truncated)."""
    # One token over the limit tells us whether anything was cut, without tokenizing it all.
    probe = tokenizer(text[:MAX_CHARS], pair[:MAX_CHARS] if pair else None, truncation=True,
                      max_length=MAX_TOKENS + 1)["input_ids"]
    enc = tokenizer(text[:MAX_CHARS], pair[:MAX_CHARS] if pair else None, truncation=True, max_length=MAX_TOKENS,
                    return_tensors="pt")
    return enc, len(probe) > MAX_TOKENS or len(text) > MAX_CHARS or len(pair or "") > MAX_CHARS


def _attend(text: str, model: str, pair: str | None, device: str) -> AttentionResult:
    import torch

    t0 = time.perf_counter()
    loaded = models.load(model, device)
    tm = loaded.module  # core.loaders.TextModel
    if pair and tm.causal:
        raise AttentionInputError("Sentence pairs need a bidirectional model (MiniLM or BERT); "
                                  "a causal model reads one running text.")
    enc, truncated = encode(tm.tokenizer, text, pair)
    enc = {k: v.to(loaded.device) for k, v in enc.items()}
    with torch.no_grad():
        out = tm(**enc)
    att = torch.stack(out.attentions)[:, 0].float().cpu().numpy()  # (layers, heads, T, T)
    ids = enc["input_ids"][0].tolist()
    tokens = tm.tokenizer.convert_ids_to_tokens(ids)
    pair_start = None
    if pair and "token_type_ids" in enc:
        types = enc["token_type_ids"][0].tolist()
        pair_start = types.index(1) if 1 in types else None
    result = AttentionResult(model=loaded.spec.name, model_label=loaded.describe(), device=loaded.device,
                             offline=loaded.offline, causal=tm.causal, tokens=tokens, attentions=att,
                             truncated=truncated, pair_start=pair_start)
    if truncated:
        result.notices.append(f"The text was cut to the first {MAX_TOKENS} tokens.")
    unk = getattr(tm.tokenizer, "unk_token", None)
    n_unk = tokens.count(unk) if unk else 0
    if n_unk:
        result.notices.append(f"{n_unk} token(s) are {unk}: the vocabulary has no piece for them "
                              "(emoji, rare scripts).")
    if loaded.name != loaded.spec.name:
        causal_asked = models.get_spec(loaded.name).config.causal
        extra = " The causal comparison needs DistilGPT-2." if causal_asked else ""
        result.notices.append(loaded.fallback_notice + extra)
    result.elapsed_ms = (time.perf_counter() - t0) * 1000
    return result


# --- derived quantities -----------------------------------------------------------------------

def head_stats(att: np.ndarray) -> dict[str, np.ndarray]:
    """Per head: mean entropy of its rows (nats) and mean attention distance (in tokens). Both (layers, heads)."""
    p = np.clip(att.astype(np.float64), 1e-12, 1.0)
    entropy = -(p * np.log(p)).sum(-1).mean(-1)  # (layers, heads)
    t = att.shape[-1]
    dist = np.abs(np.arange(t)[:, None] - np.arange(t)[None, :])  # (T, T)
    distance = (att * dist).sum(-1).mean(-1)  # (layers, heads)
    return {"entropy": entropy.astype(np.float32), "distance": distance.astype(np.float32)}


# --- pictures ---------------------------------------------------------------------------------

def _labels(tokens: list[str]) -> list[str]:
    # plotly merges equal category labels: number them so "the" and "the" stay two rows
    return [f"{i}: {t}" for i, t in enumerate(tokens)]


def heatmap_figure(result: AttentionResult, layer: int, head: int | None, title: str | None = None):
    import plotly.graph_objects as go

    m = result.matrix(layer, head)
    labels = _labels(result.tokens)
    name = "mean over heads" if head is None else f"head {head}"
    fig = go.Figure(go.Heatmap(z=m, x=labels, y=labels, colorscale="Viridis", zmin=0, zmax=float(m.max()),
                               hovertemplate="%{y} → %{x}<br>weight %{z:.3f}<extra></extra>"))
    # Every token gets its label (plotly thins them out past ~20): the figure grows and the font shrinks.
    t = len(labels)
    font = int(min(13, max(7, 420 / t)))
    axis = {"tickmode": "array", "tickvals": labels, "ticktext": labels, "tickfont": {"size": font}}
    fig.update_layout(title=title or f"Layer {layer}, {name}: row = query token, column = key token",
                      yaxis={**axis, "autorange": "reversed", "title": "query (looks from)"},
                      xaxis={**axis, "title": "key (looks at)", "tickangle": -60},
                      height=int(min(1600, max(560, 300 + 12 * t))), margin={"l": 120, "b": 140})
    return fig


def rollout_figure(result: AttentionResult, layer: int):
    """Rollout up to `layer`, drawn like the heatmap (row = position, column = input token)."""
    fig = heatmap_figure(result, layer, None, title=f"Attention rollout up to layer {layer} (residual included)")
    ro = rollout(result.attentions)[layer]  # (T, T)
    fig.data[0].z, fig.data[0].zmax = ro, float(ro.max())
    return fig


def head_view_figure(result: AttentionResult, layer: int, token: int):
    """BertViz-style: the chosen token on the left, lines to every token on the right, one colour per head."""
    import plotly.graph_objects as go

    check_layer_head(result, layer, None)
    t = len(result.tokens)
    if not 0 <= int(token) < t:
        raise AttentionInputError(f"Token {token} does not exist: pick 0 to {t - 1}.")
    colours = [f"hsl({int(360 * h / result.n_heads)},70%,45%)" for h in range(result.n_heads)]
    fig = go.Figure()
    for h in range(result.n_heads):
        w = result.attentions[layer, h, token]  # (T,)
        for j in np.argsort(w)[::-1][:8]:  # the strongest links only: 12 heads x T lines is a hairball
            if w[j] < 0.05:
                break
            fig.add_trace(go.Scatter(x=[0, 1], y=[token, j], mode="lines", showlegend=False, hoverinfo="text",
                                     text=f"head {h}: {result.tokens[token]} → {result.tokens[j]} {w[j]:.2f}",
                                     line={"color": colours[h], "width": 1 + 10 * float(w[j])},
                                     opacity=0.25 + 0.75 * float(w[j])))
    for h in range(result.n_heads):  # legend entries
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"head {h}", line={"color": colours[h]}))
    for side in (0, 1):
        fig.add_trace(go.Scatter(x=[side] * t, y=list(range(t)), mode="text", text=result.tokens,
                                 textposition="middle left" if side == 0 else "middle right", showlegend=False,
                                 hoverinfo="skip", textfont={"size": 14}))
    fig.update_layout(title=f"Layer {layer}: where '{result.tokens[token]}' looks (line width = weight)",
                      xaxis={"visible": False, "range": [-0.6, 1.6]},
                      yaxis={"visible": False, "autorange": "reversed"}, height=max(360, 26 * t), plot_bgcolor="white")
    return fig


def stats_figure(result: AttentionResult):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    s = head_stats(result.attentions)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Entropy per head (low = focused)",
                                                        "Mean attention distance (tokens)"))
    rng = np.random.default_rng(0)
    for col, key in ((1, "entropy"), (2, "distance")):
        for layer in range(result.n_layers):
            x = layer + rng.uniform(-0.15, 0.15, result.n_heads)  # jitter so heads do not hide each other
            fig.add_trace(go.Scatter(x=x, y=s[key][layer], mode="markers", showlegend=False,
                                     text=[f"layer {layer}, head {h}" for h in range(result.n_heads)],
                                     hovertemplate="%{text}: %{y:.2f}<extra></extra>",
                                     marker={"size": 9, "color": layer, "colorscale": "Viridis",
                                             "cmin": 0, "cmax": result.n_layers - 1}), row=1, col=col)
        fig.update_xaxes(title_text="layer", dtick=1, row=1, col=col)
    fig.update_layout(height=380)
    return fig


def thumbnail(m: np.ndarray, size: int = 96) -> np.ndarray:
    """(T, T) weights -> (size, size, 3) uint8, nearest-neighbour so each cell stays a crisp square."""
    scaled = m / m.max() if m.max() > 0 else m
    rgb = images.colorize(scaled)  # (T, T, 3)
    reps = max(1, size // m.shape[0])
    return np.kron(rgb, np.ones((reps, reps, 1), dtype=np.uint8))


GRID_CELL = 72  # pixels per head in the model-view sheet: 12 heads fit a 1024-pixel projector
GRID_MARGIN = (64, 24)  # left (layer labels), top (head labels)


def model_view_sheet(result: AttentionResult, cell: int = GRID_CELL) -> np.ndarray:
    """Every layer x head on one picture, layers down and heads across, labelled on the margins.

    One image keeps the whole model on screen at once (a gallery scrolled and cut off heads); a click
    maps back to its head with model_view_cell."""
    from PIL import Image, ImageDraw

    left, top = GRID_MARGIN
    gap = 4
    sheet = Image.new("RGB", (left + result.n_heads * cell, top + result.n_layers * cell), "white")
    draw = ImageDraw.Draw(sheet)
    for layer in range(result.n_layers):
        draw.text((4, top + layer * cell + cell // 2 - 6), f"layer {layer}", fill="black")
        for head in range(result.n_heads):
            thumb = Image.fromarray(thumbnail(result.attentions[layer, head], cell - gap))
            sheet.paste(thumb.resize((cell - gap, cell - gap), Image.Resampling.NEAREST),
                        (left + head * cell, top + layer * cell))
    for head in range(result.n_heads):
        draw.text((left + head * cell + cell // 2 - 12, 6), f"H{head}", fill="black")
    return np.asarray(sheet)


def model_view_cell(result: AttentionResult, x: float, y: float, cell: int = GRID_CELL) -> tuple[int, int] | None:
    """(layer, head) under a click at (x, y) on the sheet, or None on a margin."""
    left, top = GRID_MARGIN
    col, row = int((x - left) // cell), int((y - top) // cell)
    if x < left or y < top or not (0 <= row < result.n_layers and 0 <= col < result.n_heads):
        return None
    return row, col


def heatmap_png(result: AttentionResult, layer: int, head: int | None) -> bytes:
    """The heatmap with token labels as a slide-sized PNG (at least 1600 pixels wide, text at least 24 pixels),
    drawn with Pillow: no browser or plotly export engine needed."""
    from PIL import Image, ImageDraw

    m = result.matrix(layer, head)
    t = len(result.tokens)
    font = images.slide_font(26)
    labels = [tok[:14] for tok in result.tokens]
    longest = int(max(font.getlength(x) for x in labels)) + 16
    cell = int(np.clip((images.SLIDE_WIDTH - longest - 20) // t, 12, 80))
    body = thumbnail(m, cell * t) if t * cell <= 4096 else thumbnail(m, t)
    body = np.asarray(Image.fromarray(body).resize((cell * t, cell * t), Image.Resampling.NEAREST))
    width = max(images.SLIDE_WIDTH, longest + cell * t + 20)
    sheet = Image.new("RGB", (width, longest + cell * t + 60), "white")
    sheet.paste(Image.fromarray(body), (longest, longest))
    draw = ImageDraw.Draw(sheet)
    for i, tok in enumerate(labels):
        draw.text((6, longest + i * cell + cell // 2), tok, fill="black", font=font, anchor="lm")  # row labels
        col = Image.new("RGB", (longest - 8, cell), "white")  # column labels: written, then turned upright
        ImageDraw.Draw(col).text((4, cell // 2), tok, fill="black", font=font, anchor="lm")
        sheet.paste(col.rotate(90, expand=True), (longest + i * cell, 0))
    name = "mean over heads" if head is None else f"head {head}"
    draw.text((longest, longest + cell * t + 14), f"{result.model}: layer {layer}, {name} (row looks at column)",
              fill="black", font=font)
    return images.to_png_bytes(np.asarray(sheet))


def figure_html(fig) -> str:
    """A self-contained interactive HTML file (plotly.js inlined: it opens offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def api_payload(result: AttentionResult, clock: api.Clock) -> dict:
    """The JSON the /attention endpoint returns (documented in the README): the common header, then these."""
    return api.respond(result, {
        "causal": result.causal,
        "tokens": result.tokens,
        # float64 before rounding keeps the JSON short (float32 values print with ~17 digits)
        "attentions": np.round(result.attentions.astype(np.float64), 5).tolist(),
        "truncated": result.truncated,
    }, clock, result.notices)


def warmup() -> None:
    attend(next(iter(PRESETS.values())), DEFAULT_MODEL)


def exercise(image) -> None:
    """Every kind of model work this page does, once (tests/unit/test_lane.py runs it for every demo)."""
    attend("Where does the lane run?")


# --- the page's settings as a link, and its lesson ---------------------------------------------------

_ROBOT, _BALL = PRESETS["Coreference: 'it' = the robot"], PRESETS["Coreference: 'it' = the ball"]
VIEW = share.View("attention", (
    share.text("text", _ROBOT, 500),
    share.text("pair", "", 500),
    share.choice("model", DEFAULT_MODEL, MODEL_CHOICES),
    share.number("layer", 5, 0, 47, integer=True),  # the page clamps it to the model's last layer
    share.choice("head", "mean", ["mean", *map(str, range(64))]),
    share.number("token", 7, 0, 511, integer=True),
), lesson=(
    share.Beat("One row, one token",
               "Each row of the heatmap is one token's attention: how much of every other token it mixes into "
               "its new vector. Every row adds up to 1.", {}),
    share.Beat("What does 'it' read?",
               "Token 7 is 'it'. The Head view tab draws its attention as lines; the heatmap's row 7 holds the "
               "same numbers. Does 'it' lean on 'robot'?", {"token": 7}),
    share.Beat("Change one word",
               "'round' fits the ball, not the robot. Compare row 7 with the last step: attention shifts less "
               "than the meaning does, which is one reason attention is not an explanation.",
               {"text": _BALL, "token": 7}),
    share.Beat("One head, not the mean",
               "The mean over 12 heads blurs them together. A single head often has one simple habit, such as "
               "the next token, the [SEP] token or itself. Step through the heads with the dropdown.",
               {"head": "0"}),
    share.Beat("The first layer",
               "Layer 0 works on the token vectors with their position vectors added, before any attention has "
               "mixed them. Compare its rows with layer 5's: which "
               "one looks further across the sentence?", {"layer": 0}),
    share.Beat("A repeated word",
               "Both 'cat's and both 'mat's: the same word at two positions gets two different rows, because each "
               "position adds its own position vector.",
               {"text": PRESETS["A repeated word"]}),
))


def share_values(result: AttentionResult, asked_model: str, text: str, pair: str | None) -> dict:
    """The link settings of a computed sentence (the API's share_url): the last layer, the mean head."""
    return {"text": text, "pair": pair or "", "model": asked_model, "layer": result.n_layers - 1, "head": "mean",
            "token": min(7, len(result.tokens) - 1)}
