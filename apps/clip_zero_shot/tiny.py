"""A tiny CLIP trained here: coloured shapes and the captions that describe them.

Everything about the data is known, so what the contrastive loss teaches can be checked: a caption is
"a {colour} {shape} on the {side}", the image draws exactly that. Some colour-shape pairs never appear in
training; zero-shot on them asks whether the two encoders learned colour and shape as separate words or
only memorised whole pictures. training/train_tiny_clip.py trains it; the page's theory tab reads the
weights and the similarity matrices recorded while it learned.
"""

from __future__ import annotations

import numpy as np

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (230, 200, 30)}
SHAPES = ("circle", "square", "triangle")
SIDES = ("left", "right")
# Held out of training: zero-shot on these compositions is the test of what was learned.
HELD_OUT = (("blue", "triangle"), ("yellow", "circle"), ("red", "square"))
SIZE = 32
PROBE = 8  # image-caption pairs in the recorded batch (the diagonal of its similarity matrix is the matched pairs)


def caption(colour: str, shape: str, side: str) -> str:
    return f"a {colour} {shape} on the {side}"


def partial_caption(colour: str, shape: str, side: str, rng: np.random.Generator) -> str:
    """Web captions rarely say everything. A third of the training captions name the colour only ("a blue
    shape on the left") and a third the shape only ("a triangle on the left"), so each word is also seen
    on its own; without that the model learned whole pictures and got none of the unseen pairs right."""
    k = int(rng.integers(3))
    if k == 1:
        return f"a {colour} shape on the {side}"
    if k == 2:
        return f"a {shape} on the {side}"
    return caption(colour, shape, side)


def vocabulary() -> list[str]:
    words = {"<pad>", "a", "on", "the", "shape", *COLOURS, *SHAPES, *SIDES}
    return sorted(words)


def tokenize(texts: list[str], vocab: list[str], length: int = 8) -> np.ndarray:
    """Word ids, padded to `length` (unknown words -> <pad>, i.e. ignored). (n, length) int64."""
    index = {w: i for i, w in enumerate(vocab)}
    out = np.zeros((len(texts), length), np.int64)
    for r, t in enumerate(texts):
        ids = [index.get(w, 0) for w in t.lower().replace(".", " ").split()][:length]
        out[r, :len(ids)] = ids
    return out


def draw(colour: str, shape: str, side: str, rng: np.random.Generator) -> np.ndarray:
    """(SIZE, SIZE, 3) uint8: one shape of that colour on a grey background, jittered in size and place."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (SIZE, SIZE), tuple(int(v) for v in rng.integers(90, 140, 3)))
    d = ImageDraw.Draw(img)
    r = int(rng.integers(5, 8))
    cx = int(rng.integers(r + 1, SIZE // 2 - 1)) if side == "left" else int(rng.integers(SIZE // 2 + 1, SIZE - r - 1))
    cy = int(rng.integers(r + 1, SIZE - r - 1))
    rgb = tuple(int(np.clip(v + rng.integers(-20, 21), 0, 255)) for v in COLOURS[colour])
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=rgb)
    elif shape == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=rgb)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=rgb)
    return np.asarray(img)


def compositions(held_out: bool) -> list[tuple[str, str]]:
    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    return [p for p in pairs if (p in HELD_OUT) == held_out]


def sample(n: int, rng: np.random.Generator, held_out: bool = False,
           partial: bool = False) -> tuple[np.ndarray, list[str], list[tuple]]:
    """n random pairs from the training (or the held-out) compositions: images (n, S, S, 3), captions, parts.
    partial: some captions leave out the colour or the shape (training batches)."""
    pairs = compositions(held_out)
    parts = [(*pairs[int(rng.integers(len(pairs)))], SIDES[int(rng.integers(2))]) for _ in range(n)]
    caps = [partial_caption(*p, rng) if partial else caption(*p) for p in parts]
    return np.stack([draw(*p, rng) for p in parts]), caps, parts


def build(vocab_size: int, dim: int = 32):
    """The two encoders (image: a small CNN; text: word embeddings, mean-pooled, then a linear map) and the
    learned temperature, as one torch module."""
    import torch
    from torch import nn

    class TinyCLIP(nn.Module):
        def __init__(self):
            super().__init__()
            self.image = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (16, 16, 16)
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (32, 8, 8)
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),  # (64, 2, 2): keeps left/right
                nn.Flatten(), nn.Linear(256, dim))
            self.words = nn.Embedding(vocab_size, 32, padding_idx=0)
            # Linear on purpose: a caption's vector is then the mean of its words' vectors, so "blue triangle"
            # lands between "blue" and "triangle" even though that pair never appeared in training.
            self.text = nn.Linear(32, dim)
            self.log_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))  # CLIP's starting temperature

        def encode_image(self, x):  # (B, 3, S, S) in [0, 1] -> (B, dim) unit rows
            return nn.functional.normalize(self.image(x - 0.5), dim=-1)

        def encode_text(self, ids):  # (B, L) word ids -> (B, dim) unit rows
            mask = (ids > 0).unsqueeze(-1).float()  # (B, L, 1)
            pooled = (self.words(ids) * mask).sum(1) / mask.sum(1).clamp(min=1)  # (B, 32)
            return nn.functional.normalize(self.text(pooled), dim=-1)

        def forward(self, x, ids):
            """The batch's (B, B) cosine matrix and the symmetric InfoNCE loss: row i should pick caption i,
            column j should pick image j."""
            sims = self.encode_image(x) @ self.encode_text(ids).T  # (B, B)
            logits = sims * self.log_scale.exp().clamp(max=100)
            target = torch.arange(len(x))
            loss = (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2
            return sims, loss

    return TinyCLIP()


def to_tensor(images: np.ndarray):
    import torch

    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255  # (B, 3, S, S)


# --- the trained model and its record, for the page's theory tab ---------------------------------

def weights_path():
    from core import models

    return models.ASSETS / "models" / "tiny_clip.safetensors"


def from_checkpoint(spec, path):
    """The model of core.models' "tiny_clip" (its builder), with its vocabulary and training record on it, from
    the safetensors file (tensors, and the vocabulary and captions in its metadata)."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    vocab = json.loads(meta["vocab"])
    model = build(len(vocab))
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("record.")}, strict=True)
    record = {k.removeprefix("record."): v.numpy() for k, v in tensors.items() if k.startswith("record.")}
    record["probe_captions"] = json.loads(meta["probe_captions"])
    model.vocab, model.record = vocab, record
    return model


def load() -> tuple:
    """(model, vocab, record): the bundled tiny CLIP, from the shared model cache. Loaded on the lane the first
    time; after that a look-up. Runs where the model work runs (a lane job, or a replica with GLASSBOX_BACKEND=ray)."""
    from core import models

    model = models.load("tiny_clip", "cpu").module
    return model, model.vocab, model.record


_record: dict | None = None


def record() -> dict:
    """The training record (steps, loss, temperature, the probe batch's similarity matrices): bundled, so it is
    read once per process and after that the step slider that reads it never waits behind other model work."""
    global _record
    from core import lane, models

    if _record is None:
        found = models.peek("tiny_clip")
        _record = found.module.record if found else \
            lane.run(lambda: load()[2], "tiny_clip")  # with GLASSBOX_BACKEND=ray only these arrays come back
    return _record


def probe_strip(side: int = 96) -> np.ndarray:
    """The recorded batch's images side by side, numbered like the matrix's columns."""
    from PIL import Image, ImageDraw

    imgs = record()["probe_images"]
    sheet = Image.new("RGB", (len(imgs) * (side + 4), side + 18), "white")
    draw = ImageDraw.Draw(sheet)
    for i, img in enumerate(imgs):
        sheet.paste(Image.fromarray(img).resize((side, side), Image.Resampling.NEAREST), (i * (side + 4), 18))
        draw.text((i * (side + 4) + side // 2 - 4, 2), str(i + 1), fill="black")
    return np.asarray(sheet)


def matrix_figure(k: int):
    """The recorded batch's similarity matrix at the k-th recorded step: rows = captions, columns = images."""
    import plotly.graph_objects as go

    rec = record()
    k = int(np.clip(k, 0, len(rec["steps"]) - 1))
    sims = rec["sims"][k].T  # (captions, images)
    caps = [f"{i + 1}. {c}" for i, c in enumerate(rec["probe_captions"])]
    fig = go.Figure(go.Heatmap(z=sims, x=[f"image {i + 1}" for i in range(len(caps))], y=caps, zmin=-1, zmax=1,
                               colorscale="RdBu", reversescale=True, texttemplate="%{z:.2f}",
                               hovertemplate="%{y} vs %{x}: cosine %{z:.2f}<extra></extra>"))
    fig.update_layout(title=f"Step {int(rec['steps'][k])}: the diagonal is the matched pairs",
                      yaxis={"autorange": "reversed"}, height=420, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      font={"size": 13})
    return fig


def loss_figure():
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rec = record()
    steps = np.arange(len(rec["loss"]))
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=steps, y=rec["loss"], name="loss (symmetric InfoNCE)", line={"color": "#0072B2"}))
    fig.add_trace(go.Scatter(x=steps, y=rec["scale"], name="1 / temperature (learned)",
                             line={"color": "#D55E00", "dash": "dot"}), secondary_y=True)
    # The legend goes above the plot, right under the title: below it, it sat on the step axis's title.
    fig.update_layout(title="Training: the loss falls, the learned temperature sharpens", height=340,
                      margin={"l": 10, "r": 10, "t": 90, "b": 10},
                      legend={"orientation": "h", "x": 0, "y": 1.02, "xanchor": "left", "yanchor": "bottom"})
    fig.update_xaxes(title_text="training step")
    return fig


def embedding_figure(n: int = 48, seed: int = 3):
    """Images and captions of n fresh pairs in the joint space, projected to 2-D by PCA; a line joins each
    image to its own caption. Held-out compositions are drawn with open markers."""
    import plotly.graph_objects as go
    import torch

    from core import lane

    rng = np.random.default_rng(seed)
    seen_imgs, seen_caps, seen_parts = sample(n, rng)
    held_imgs, held_caps, held_parts = sample(n // 4, rng, held_out=True)
    images = np.concatenate([seen_imgs, held_imgs])
    caps = seen_caps + held_caps
    held = [False] * len(seen_caps) + [True] * len(held_caps)
    def embed():  # loads the model where it runs: only the embeddings travel back
        model, vocab, _ = load()
        with torch.no_grad():
            iv = model.encode_image(to_tensor(images)).numpy()  # (m, D)
            tv = model.encode_text(torch.from_numpy(tokenize(caps, vocab))).numpy()  # (m, D)
        return iv, tv

    iv, tv = lane.run(embed, "tiny_clip")  # all model work runs on the one compute lane
    both = np.concatenate([iv, tv])
    centred = both - both.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T  # (2m, 2)
    m = len(caps)
    fig = go.Figure()
    for i in range(m):
        fig.add_trace(go.Scatter(x=[xy[i, 0], xy[m + i, 0]], y=[xy[i, 1], xy[m + i, 1]], mode="lines",
                                 line={"color": "rgba(120,120,120,0.35)", "width": 1}, showlegend=False,
                                 hoverinfo="skip"))
    colours = [f"rgb{COLOURS[p[0]]}" for p in seen_parts + held_parts]
    symbols = {"circle": "circle", "square": "square", "triangle": "triangle-up"}
    shapes = [symbols[p[1]] for p in seen_parts + held_parts]
    for kind, offset, size in (("image", 0, 13), ("caption", m, 9)):
        for flag in (False, True):
            idx = [i for i in range(m) if held[i] == flag]
            fig.add_trace(go.Scatter(
                x=xy[[offset + i for i in idx], 0], y=xy[[offset + i for i in idx], 1], mode="markers",
                name=f"{kind}s" + (" (held-out pairs)" if flag else ""), text=[caps[i] for i in idx],
                hovertemplate=f"{kind}: %{{text}}<extra></extra>",
                marker={"color": [colours[i] for i in idx], "symbol": [shapes[i] + ("-open" if flag else "")
                                                                       for i in idx],
                        "size": size, "line": {"width": 2 if kind == "image" else 0, "color": "black"}}))
    fig.update_layout(title="Images (outlined) and captions in one space, PCA to 2-D; lines join true pairs",
                      height=460, margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.1})
    return fig
