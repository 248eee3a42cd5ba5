"""scikit-learn's 1,797 handwritten digits, loaded once: the data behind the offline diffusion
model and the tiny ViT (their training scripts, pages and tests). scikit-learn is imported on
first use only."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def real_digits() -> tuple[np.ndarray, np.ndarray]:
    """All digits as (N, 8, 8) float32 in [0, 1] and their labels (N,) int64."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)
