"""Shared test set-up: no test reaches a real network, servers run on free loopback ports."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

# The tests set the environment they rely on, whatever the caller's shell has set: a learner's
# HF_HUB_OFFLINE=1 (huggingface_hub reads it once, at import, and then never asks a hub, fake ones
# included), a weights folder or a prefetched Hugging Face cache (a real ResNet-50 where a test expects the
# stand-in), a GPU choice, a lower model or session cap.
_CALLER_SETTINGS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE",
                    "GLASSBOX_WEIGHTS_DIR", "GLASSBOX_DEVICE", "GLASSBOX_MAX_MODELS", "GLASSBOX_MODEL_MEMORY_MB",
                    "GLASSBOX_MAX_UPLOAD_MB", "GLASSBOX_MEMLOG", "GLASSBOX_TRACEMALLOC",
                    "GLASSBOX_MAX_PIXELS", "GLASSBOX_CONCURRENCY", "GLASSBOX_MAX_SESSIONS",
                    "GLASSBOX_SESSION_IDLE_MIN", "GLASSBOX_TORCH_THREADS", "GRADIO_TEMP_DIR")
# Test modules import this file again as `conftest` (for its helpers): set up once per process, or the second
# copy would swap HF_HOME for another folder after huggingface_hub had read the first.
if os.environ.get("GLASSBOX_TEST_PROCESS") != str(os.getpid()):
    os.environ["GLASSBOX_TEST_PROCESS"] = str(os.getpid())
    for _name in _CALLER_SETTINGS:
        os.environ.pop(_name, None)
    # An empty Hugging Face cache of the tests' own (the processes they start inherit it).
    os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="glassbox-tests-hf-")
    atexit.register(shutil.rmtree, os.environ["HF_HOME"], ignore_errors=True)
    # Offline unless a test lifts it: tests that want a hub point HF_ENDPOINT at a fake one and lift it themselves.
    os.environ["GLASSBOX_OFFLINE"] = "1"  # read at call time, unlike HF_HUB_OFFLINE
    os.environ["GLASSBOX_WARMUP"] = "0"
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
# huggingface_hub reads its cache folder once, at import: imported here, it takes the tests' own. Imported first
# inside a test that points HF_HUB_CACHE at a tmp folder, it kept that folder for every later test.
import huggingface_hub.constants  # noqa: E402,F401

SAMPLES = ROOT / "assets" / "images"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 90) -> float:
    """Seconds until url answers 200; fails early if the server process died."""
    import requests

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return time.monotonic() - t0
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop a server this test started (by its own pid only)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def start_server(cmd: list[str], port: int, log_name: str, env_extra: dict | None = None):
    """Start a server process on 127.0.0.1:port, its output in $TMPDIR/log_name; (process, open log) once / answers.
    The caller stops it (stop()) and closes the log."""
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / log_name, "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc, timeout=120)
    except Exception:
        stop(proc)
        log.close()
        raise
    return proc, log


@pytest.fixture
def sample_cat() -> Path:
    return SAMPLES / "cat.png"


@contextmanager
def hub_in_process():
    """The whole Gradio hub, served by this process on a free port: yields (demo, base url), closed after."""
    import app
    from apps.gradio_common import serve

    demo = app.build_hub()
    _, url, _ = serve(demo, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        yield demo, url.rstrip("/")
    finally:
        demo.close()


@pytest.fixture
def fresh_models():
    """No loaded model and no remembered hub probe, before the test and after it."""
    from core import models, weights

    models.clear_cache()
    weights.forget_probe()
    yield
    models.clear_cache()
    weights.forget_probe()
