"""Device choice and the GPU -> CPU fallback, with both GPU failures simulated."""

from __future__ import annotations

import pytest
import torch

from core import device


def test_pick_device_honours_env(monkeypatch):
    monkeypatch.setenv("GLASSBOX_DEVICE", "cpu")
    assert device.pick_device() == "cpu"
    monkeypatch.setenv("GLASSBOX_DEVICE", "cuda")
    expected = "cuda" if torch.cuda.is_available() else "cpu"  # an unavailable GPU degrades, never crashes
    assert device.pick_device() == expected
    monkeypatch.setenv("GLASSBOX_DEVICE", "tpu")
    with pytest.raises(ValueError, match="GLASSBOX_DEVICE"):
        device.pick_device()


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(device, "_cuda_ok", lambda: True)
    assert device.pick_device("auto") == "cuda"
    monkeypatch.setattr(device, "_cuda_ok", lambda: False)
    monkeypatch.setattr(device, "_mps_ok", lambda: True)
    assert device.pick_device("auto") == "mps"
    monkeypatch.setattr(device, "_mps_ok", lambda: False)
    assert device.pick_device("auto") == "cpu"


def test_cuda_out_of_memory_retries_on_cpu():
    calls = []

    def fn(dev):
        calls.append(dev)
        if dev == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return 42

    ran = device.run_with_fallback(fn, "cuda")
    assert (ran.value, ran.device, calls) == (42, "cpu", ["cuda", "cpu"])
    assert "out of memory" in ran.notice


def test_cuda_init_error_retries_on_cpu_and_sticks():
    device.reset_cuda_state()

    def fn(dev):
        if dev == "cuda":
            raise RuntimeError("CUDA error: initialization error")
        return dev

    ran = device.run_with_fallback(fn, "cuda")
    assert ran.value == "cpu" and "GPU error" in ran.notice
    assert device._cuda_broken.is_set()  # later auto picks skip the broken GPU
    device.reset_cuda_state()


def test_a_stream_that_fails_on_the_gpu_restarts_on_cpu_and_sticks():
    device.reset_cuda_state()

    def steps(dev):
        yield f"{dev} 1"
        if dev == "cuda":
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        yield f"{dev} 2"

    out = [(r.value, r.device, r.notice) for r in device.stream_with_fallback(steps, "cuda")]
    assert [v for v, _, _ in out] == ["cuda 1", "cpu 1", "cpu 2"]
    assert out[0][2] == "" and all(d == "cpu" and "GPU error" in n for _, d, n in out[1:])
    assert device._cuda_broken.is_set()  # the same bookkeeping as run_with_fallback
    with pytest.raises(ValueError):
        list(device.stream_with_fallback(lambda dev: iter([int("x")]), "cuda"))
    device.reset_cuda_state()


def test_other_errors_are_not_swallowed():
    def fn(dev):
        raise ValueError("a real bug")

    with pytest.raises(ValueError, match="a real bug"):
        device.run_with_fallback(fn, "cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a usable GPU")
def test_real_cuda_failure_falls_back_in_a_demo(sample_cat):
    """On this CPU-only machine, asking for cuda really fails inside torch; the demo still answers."""
    from apps.gradcam import logic

    device.reset_cuda_state()
    result = logic.explain(sample_cat, "efficientnet_lite0", "gradcam", device="cuda")
    assert result.device == "cpu"
    assert any("CPU" in n for n in result.notices)
    device.reset_cuda_state()
