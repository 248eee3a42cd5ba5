"""Where a model's weights come from, in order: GLASSBOX_WEIGHTS_DIR -> HF cache -> hub -> bundled.

A dead network must not stall a lecture: the hub is probed with a short TCP connect
(and HF_HUB_OFFLINE=1 / GLASSBOX_OFFLINE=1 skip it), the metadata request has a short
timeout, and the probe's answer is remembered for a minute. Resolution therefore
falls through to the offline model within 5 seconds.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger("glassbox.weights")

HUB_CONNECT_TIMEOUT_S = 1.5
HUB_METADATA_TIMEOUT_S = 3.0
_PROBE_TTL_S = 60.0
_probe: dict[str, tuple[float, bool, str]] = {}
_probe_lock = threading.Lock()

WEIGHT_NAMES = ("model.safetensors", "diffusion_pytorch_model.safetensors", "model.pth", "pytorch_model.bin")


@dataclass(frozen=True)
class Resolved:
    path: Path | None  # None: no source had the weights
    source: str  # "local" | "hf_cache" | "hub" | "bundled" | "none"
    reason: str  # one line for the UI: where the weights came from, or why none could be found


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hub_endpoint() -> str:
    # Read at call time (huggingface_hub reads HF_ENDPOINT once at import) so tests and
    # mirrors can point it elsewhere.
    from huggingface_hub import constants

    return os.environ.get("HF_ENDPOINT", constants.ENDPOINT).rstrip("/")


def hub_cache_dir() -> str:
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE


def hub_reachable() -> tuple[bool, str]:
    """(reachable, reason). Offline switches win; otherwise a short TCP connect, cached for a minute."""
    if _truthy("HF_HUB_OFFLINE"):
        return False, "offline: HF_HUB_OFFLINE=1"
    if _truthy("GLASSBOX_OFFLINE"):
        return False, "offline: GLASSBOX_OFFLINE=1"
    endpoint = hub_endpoint()
    now = time.monotonic()
    with _probe_lock:
        hit = _probe.get(endpoint)
        if hit and now - hit[0] < _PROBE_TTL_S:
            return hit[1], hit[2]
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=HUB_CONNECT_TIMEOUT_S):
            ok, why = True, "hub reachable"
    except OSError as exc:
        ok, why = False, f"offline: no network ({url.hostname} unreachable: {exc.__class__.__name__})"
    with _probe_lock:
        _probe[endpoint] = (now, ok, why)
    return ok, why


def forget_probe() -> None:
    """For tests and after the network comes back."""
    with _probe_lock:
        _probe.clear()


def _local(name: str) -> Path | None:
    root = os.environ.get("GLASSBOX_WEIGHTS_DIR")
    if not root:
        return None
    base = Path(root).expanduser()
    candidates = [base / name / f for f in WEIGHT_NAMES]
    candidates += [base / f"{name}.safetensors", base / f"{name}.pth"]
    return next((p for p in candidates if p.is_file()), None)


def _from_cache(repo_id: str, filename: str, extra: tuple[str, ...] = ()) -> Path | None:
    """The cached main file, when it and every file it needs beside it (config, tokenizer) are cached."""
    from huggingface_hub import try_to_load_from_cache

    hits = [try_to_load_from_cache(repo_id, f, cache_dir=hub_cache_dir()) for f in (filename, *extra)]
    return Path(hits[0]) if all(isinstance(h, str) for h in hits) else None


def _hub_answers(repo_id: str, filename: str) -> tuple[bool, str]:
    """One HEAD request with a hard timeout. huggingface_hub itself retries a silent server
    with back-off for a minute or more; a lecture cannot wait that long."""
    import httpx

    url = f"{hub_endpoint()}/{repo_id}/resolve/main/{filename}"
    try:
        r = httpx.head(url, timeout=HUB_METADATA_TIMEOUT_S, follow_redirects=False)
    except httpx.HTTPError as exc:
        return False, f"offline: the hub did not answer ({exc.__class__.__name__})"
    if r.status_code >= 400:
        return False, f"the hub has no {repo_id}/{filename} (HTTP {r.status_code})"
    return True, "hub answers"


def download(repo_id: str, filename: str, extra: tuple[str, ...] = ()) -> Path:
    """Fetch a file (and the files it needs beside it) into the HF cache; returns the main file's path.

    Raises when offline or on failure. The files land in one snapshot folder, so a
    transformers model can be loaded from the main file's parent.
    """
    from huggingface_hub import hf_hub_download

    paths = [hf_hub_download(repo_id, f, endpoint=hub_endpoint(), cache_dir=hub_cache_dir(),
                             etag_timeout=HUB_METADATA_TIMEOUT_S) for f in (*extra, filename)]
    return Path(paths[-1])


def bundled_path(ref: str) -> Path:
    """'module:function' -> the path that function returns (weights shipped in a pip package);
    'assets/...' -> that file in this repository (weights our training/ scripts made)."""
    if ref.startswith("assets/"):
        path = Path(__file__).resolve().parent.parent / ref
        if not path.is_file():
            raise OSError(f"{ref} is missing: run the matching script in training/")
        return path
    return Path(import_ref(ref)())


def import_ref(ref: str):
    """'package.module:attr.sub' -> that object (how specs name loaders and bundled weights)."""
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def on_disk(name: str, hub: tuple[str, str] | None, bundled: str | None, extra: tuple[str, ...] = ()) -> bool:
    """Whether the weights are on this machine already (local folder, Hugging Face cache or bundled): what
    resolve() would find without the network. For a link that should open a model that runs."""
    if _local(name) or (hub and _from_cache(hub[0], hub[1], extra)):
        return True
    try:
        return bool(bundled) and bundled_path(bundled).is_file()
    except (ImportError, OSError, AttributeError):
        return False


def resolve(name: str, hub: tuple[str, str] | None, bundled: str | None, extra: tuple[str, ...] = (),
            skip: frozenset[str] = frozenset()) -> Resolved:
    """Walk the sources in order and return the first that has the weights.

    extra: hub files the model needs beside its weights (config, tokenizer).
    skip: sources already tried whose file could not be read (a corrupt checkpoint): the walk goes on past them.
    "hub" covers the Hugging Face cache too, since a download would only hand back the same cached file.
    """
    local = None if "local" in skip else _local(name)
    if local:
        return Resolved(local, "local", f"local checkpoint {local}")
    why_not = ""
    if hub and "hub" not in skip:
        repo_id, filename = hub
        cached = _from_cache(repo_id, filename, extra)
        if cached:
            return Resolved(cached, "hf_cache", f"{repo_id} from the Hugging Face cache")
        ok, why_not = hub_reachable()
        if ok:
            ok, why_not = _hub_answers(repo_id, filename)
        if ok:
            try:
                return Resolved(download(repo_id, filename, extra), "hub", f"{repo_id} downloaded from the hub")
            except Exception as exc:  # noqa: BLE001 - any hub failure means: fall through
                why_not = f"offline: hub download failed ({exc.__class__.__name__})"
                log.warning("download of %s/%s failed: %s", repo_id, filename, exc)
    if bundled and "bundled" not in skip:
        try:
            return Resolved(bundled_path(bundled), "bundled", "bundled offline weights")
        except (ImportError, OSError, AttributeError) as exc:
            why_not = f"bundled weights missing ({exc})"
    return Resolved(None, "none", why_not or "no weights found")
