"""Device choice and the GPU -> CPU fallback every demo runs through.

torch is imported inside the functions so that importing this module (the hub does)
costs nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

from core import api, lane

log = logging.getLogger("glassbox.device")

CHOICES = ("auto", "cpu", "cuda", "mps")
T = TypeVar("T")

# Set once a CUDA *initialisation* error has been seen: the driver will not get better
# during this process, so later calls go straight to the CPU instead of failing again.
_cuda_broken = threading.Event()


def requested_device() -> str:
    """The user's wish from GLASSBOX_DEVICE (auto|cpu|cuda|mps); unknown values are an error."""
    want = os.environ.get("GLASSBOX_DEVICE", "auto").strip().lower() or "auto"
    if want not in CHOICES:
        raise ValueError(f"GLASSBOX_DEVICE={want!r} is not one of {', '.join(CHOICES)}.")
    return want


def _cuda_ok() -> bool:
    import torch

    return not _cuda_broken.is_set() and torch.cuda.is_available()


def _mps_ok() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def pick_device(want: str | None = None) -> str:
    """Resolve a wish to a device torch can use: auto tries cuda, then mps, then cpu.

    An explicit "cuda" or "mps" that is not available degrades to "cpu" (with a log line)
    rather than failing: a lecture must go on.
    """
    want = (want or requested_device()).lower()
    if want not in CHOICES:
        raise ValueError(f"Unknown device {want!r}; choose one of {', '.join(CHOICES)}.")
    if want in ("auto", "cuda") and _cuda_ok():
        return "cuda"
    if want in ("auto", "mps") and _mps_ok():
        return "mps"
    if want not in ("auto", "cpu"):
        log.warning("%s requested but not available; using cpu", want)
    return "cpu"


def describe_device(device: str) -> str:
    """A human label for the UI footer, e.g. 'cuda (NVIDIA H100, 80 GB)' or 'cpu (2 threads)'."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return f"cuda ({props.name}, {props.total_memory / 2**30:.0f} GB)"
    if device == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def is_cuda_failure(exc: BaseException) -> bool:
    """True for errors that a retry on the CPU can cure: CUDA out-of-memory and CUDA init/driver errors."""
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    if isinstance(exc, (RuntimeError, AssertionError)):
        text = str(exc).lower()
        return any(k in text for k in ("cuda", "cublas", "cudnn", "out of memory", "nvidia driver"))
    return False


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


@dataclass
class Ran:
    """What run_with_fallback did: the value, the device that produced it, and a notice for the UI."""

    value: object
    device: str
    notice: str = ""


def run_with_fallback(fn: Callable[[str], T], device: str | None = None) -> Ran:
    """Call fn(device) on the compute lane; if it fails on the GPU with an OOM or CUDA error,
    call fn("cpu") once.

    fn must fetch its model for the device it is given (core.models.load(name, device)),
    so the retry runs on a CPU copy. Other errors propagate unchanged.
    """
    return lane.run(lambda: _run_with_fallback(fn, device), getattr(fn, "__name__", "job"))


def run_noted(fn: Callable[[str], T], device: str | None = None, notes: tuple[str, ...] = ()) -> T:
    """run_with_fallback for a result that carries a `notices` list: the caller's own notes and the GPU
    fallback's notice are put in front of the result's (each once, empties dropped). The one way a demo runs its
    model; inside a cache's compute, so a cached result is final and never changed afterwards."""
    ran = run_with_fallback(fn, device)
    ran.value.notices = api.unique([*notes, ran.notice, *ran.value.notices])
    return ran.value


def _run_with_fallback(fn: Callable[[str], T], device: str | None) -> Ran:
    device = device or pick_device()
    try:
        return Ran(fn(device), device)
    except Exception as exc:  # filtered just below
        if device == "cpu" or not is_cuda_failure(exc):
            raise
        notice = _give_up_gpu(exc, device)
        return Ran(fn("cpu"), "cpu", notice)


def stream_with_fallback(fn: Callable[[str], Iterator[T]], device: str | None = None) -> Iterator[Ran]:
    """run_with_fallback for a generator, chunk by chunk on the compute lane: yields
    Ran(item, device, notice) for each item of fn(device); after a GPU failure mid-stream it starts
    again with fn("cpu"), every item then carrying the notice. fn may yield lane.TICK between
    items to let the lane run a waiting request."""
    return lane.stream(lambda: _stream_with_fallback(fn, device), getattr(fn, "__name__", "stream"))


def _stream_with_fallback(fn: Callable[[str], Iterator[T]], device: str | None) -> Iterator[Ran]:
    device = device or pick_device()
    try:
        for item in fn(device):
            yield item if item is lane.TICK else Ran(item, device)
    except Exception as exc:  # filtered just below
        if device == "cpu" or not is_cuda_failure(exc):
            raise
        notice = _give_up_gpu(exc, device)
        for item in fn("cpu"):
            yield item if item is lane.TICK else Ran(item, "cpu", notice)


def _give_up_gpu(exc: BaseException, device: str) -> str:
    """After a CUDA failure: remember a broken driver (pick_device then says cpu), free what the GPU
    holds, and return the notice the UI shows."""
    oom = _is_oom(exc)
    if not oom:
        _cuda_broken.set()
    try:
        import torch

        torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - the cache may be unusable after a driver error
        pass
    why = "GPU out of memory" if oom else f"GPU error ({type(exc).__name__})"
    log.warning("%s on %s; retrying on cpu: %s", why, device, exc)
    return f"{why}: this result was computed on the CPU instead."


def reset_cuda_state() -> None:
    """For tests: forget an earlier CUDA init failure."""
    _cuda_broken.clear()
