"""Shared test set-up: no test reaches a real network, servers run on free loopback ports."""

from __future__ import annotations

import atexit
import os
import shutil
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
                    "GLASSBOX_SESSION_IDLE_MIN", "GLASSBOX_TORCH_THREADS", "GRADIO_TEMP_DIR",
                    "GLASSBOX_BACKEND", "GLASSBOX_RAY_ADDRESS", "GLASSBOX_REPLICAS", "GLASSBOX_RAY_TIMEOUT_S")
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

from deploy import local  # noqa: E402  (the deployment on one box: ports, processes, Ray, nginx)

SAMPLES = ROOT / "assets" / "images"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]


free_port = local.free_port  # a free port on 127.0.0.1


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


stop = local.stop_process  # stop a server this test started (by its own pid only)


def streamlit_command(port: int) -> list[str]:
    """The Streamlit hub on 127.0.0.1:port, headless."""
    return [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true"]


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


def ray_or_skip() -> None:
    """Skip a Ray test when the extra is not installed; under CI (.ci/run installs it) fail instead."""
    try:
        import ray  # noqa: F401
        from ray import serve  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("Ray Serve is not installed but CI is set: pip install -r requirements-ray.txt")
        pytest.skip("Ray tests skipped: Ray Serve is an optional extra (pip install -r requirements-ray.txt)")


@contextmanager
def ray_serve(replicas: int = 2, cpus: int = 2):
    """A Ray head on this box (loopback only, its own temp folder) running deploy/serve.yaml's application with
    `replicas` replicas (deploy/local.py); yields the cluster's address. Stopped after: this process leaves the
    cluster first (a driver whose cluster is gone ends its own process), then the head's process group."""
    from core import remote

    ray_or_skip()
    head, address, tmp = local.ray_head(cpus)
    try:
        local.serve_up(address, replicas)
        yield address
    finally:
        remote.disconnect()
        local.stop_ray(head, tmp)


@contextmanager
def backend(name: str, address: str | None = None):
    """GLASSBOX_BACKEND (and the Ray address) set for what runs inside, as before after."""
    before = {k: os.environ.get(k) for k in ("GLASSBOX_BACKEND", "GLASSBOX_RAY_ADDRESS")}
    os.environ["GLASSBOX_BACKEND"] = name
    if address:
        os.environ["GLASSBOX_RAY_ADDRESS"] = address
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def ray_cluster():
    """One Ray head with 2 replicas for every test of the session that asks (started on first use)."""
    with ray_serve(replicas=2) as address:
        yield address


@pytest.fixture
def fresh_models():
    """No loaded model and no remembered hub probe, before the test and after it."""
    from core import models, weights

    models.clear_cache()
    weights.forget_probe()
    yield
    models.clear_cache()
    weights.forget_probe()
