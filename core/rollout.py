"""Attention rollout (Abnar & Zuidema 2020), shared by the text and the image transformer demos."""

from __future__ import annotations

import numpy as np


def rollout(att: np.ndarray) -> np.ndarray:
    """(layers, heads, T, T) attention -> (layers, T, T) rollout after each layer.

    Each layer's head-mean is mixed half-and-half with the identity (the residual path carries
    the token itself forward), rows renormalised, and the layers multiplied: R_l = A_l R_{l-1}.
    Row i of R_l says how much each input token reaches token i by layer l.
    """
    layers, _, t, _ = att.shape
    eye = np.eye(t, dtype=np.float64)
    out = np.empty((layers, t, t), dtype=np.float64)
    r = eye
    for layer in range(layers):
        a = 0.5 * att[layer].mean(0).astype(np.float64) + 0.5 * eye  # (T, T)
        a /= a.sum(-1, keepdims=True)
        r = a @ r  # (T, T)
        out[layer] = r
    return out
