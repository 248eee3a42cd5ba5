"""Framework-free core shared by every Glassbox demo: devices, model registry, weights, images.

Nothing here imports torch or a model library at import time; the hub must start fast.
"""
