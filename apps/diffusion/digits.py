"""The offline diffusion model's data and its judge: scikit-learn digits, upsampled.

Shared by training/train_diffusion_digits.py, the demo and the tests, so that the images the
model was trained on, its UNet shape and the classifier that checks its samples are defined once.
No UI imports; torch and scikit-learn are imported inside functions (the hub must start without them).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from core.digits import real_digits  # the data, loaded once for every demo

SIZE = 16  # model resolution: the 8x8 digits upsampled 2x (bilinear)
NUM_CLASSES = 10
NULL_LABEL = NUM_CLASSES  # the "no label" class used for label dropout and unconditional passes

# The UNet2DModel config of the bundled model (also written to its config.json by the training script).
UNET_CONFIG = {
    "sample_size": SIZE,
    "in_channels": 1,
    "out_channels": 1,
    "layers_per_block": 1,
    "block_out_channels": (32, 64, 64),
    "down_block_types": ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),  # self-attention at 4x4 only: cheap
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
    "norm_num_groups": 8,
    "attention_head_dim": 16,
    "num_class_embeds": NUM_CLASSES + 1,  # ten digits + the null label
}

# The training noise schedule (diffusers DDPMScheduler arguments).
SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000,
    "beta_schedule": "squaredcos_cap_v2",
    "prediction_type": "epsilon",
    "clip_sample": True,
    "clip_sample_range": 1.0,
}


def upsample(images: np.ndarray):
    """(N, 8, 8) in [0, 1] -> torch (N, 1, 16, 16) in [-1, 1], the model's data space."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))[:, None]  # (N, 1, 8, 8)
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)  # (N, 1, 16, 16)
    return x.clamp(0, 1) * 2 - 1


def to_8x8(samples: np.ndarray) -> np.ndarray:
    """(N, 16, 16) samples in [0, 1] -> (N, 64) features on the digits' own 8x8, 0..16 scale.

    Averaging 2x2 blocks undoes the bilinear upsampling closely enough for a classifier trained
    on the real 8x8 digits to read the samples.
    """
    s = np.asarray(samples, dtype=np.float32).reshape(-1, 8, 2, 8, 2).mean(axis=(2, 4))
    return (s * 16.0).reshape(len(s), 64)


@lru_cache(maxsize=1)
def reader():
    """An RBF SVM trained on all real digits (about 99% on held-out real digits): our judge of samples."""
    from sklearn.svm import SVC

    images, labels = real_digits()
    return SVC(gamma=0.001, C=10.0).fit(images.reshape(len(images), 64) * 16.0, labels)


def read_as(samples: np.ndarray) -> np.ndarray:
    """The digit the judge reads in each (N, 16, 16) sample in [0, 1]."""
    return reader().predict(to_8x8(samples))
