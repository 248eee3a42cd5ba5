"""The attribute judge: a small CNN that reads the four face attributes (apps/gan_latent/faces.py) from a 32 x 32
picture. Trained on real generated faces by training/train_gan_faces.py; it decides which generated samples show
an attribute, both when the directions are found and when an edit is scored."""

from __future__ import annotations


def build():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 16
        nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),  # 8 x 8
        nn.Conv2d(64, 64, 3, 1, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, 4))


def from_checkpoint(spec, path):
    """The judge of core.models' "face_judge" (its builder), read from a safetensors file."""
    from safetensors.torch import load_file

    net = build()
    net.load_state_dict(load_file(str(path)))
    return net
