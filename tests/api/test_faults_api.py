"""Faults met through the API: a disk that cannot take an upload (a hub process of the test's own), and a job
that fails half-way through while other learners' calls go on."""

from __future__ import annotations

import io
import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from conftest import SAMPLES, free_port, hub_in_process, start_server, stop

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def hub_process(tmp_path_factory):
    """A hub in its own process (a file size limit set on it must not reach pytest's own files)."""
    tmp = tmp_path_factory.mktemp("hub")
    port = free_port()
    proc, log = start_server([sys.executable, "app.py"], port, "glassbox-faults-hub.log",
                             {"TMPDIR": str(tmp), "GLASSBOX_WARMUP": "0"})
    yield proc, f"http://127.0.0.1:{port}", tmp
    stop(proc)
    log.close()


def png_bytes(side: int, seed: int) -> bytes:
    noise = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)  # incompressible
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="PNG")
    return buf.getvalue()


def rest(url: str, api: str, data: list) -> str:
    r = requests.post(f"{url}/gradio_api/call/{api}", json={"data": data}, timeout=60)
    r.raise_for_status()
    return requests.get(f"{url}/gradio_api/call/{api}/{r.json()['event_id']}", timeout=300).text


@pytest.mark.skipif(not hasattr(__import__("resource"), "prlimit"), reason="needs Linux's prlimit")
def test_an_upload_the_disk_cannot_take_gets_a_clear_message_and_the_server_stays_up(hub_process):
    """The hub's process may write files of at most 64 KB (RLIMIT_FSIZE: every write past that fails, as on
    a full disk). A 300 KB upload is refused with a sentence that says why; nothing of it is handed out;
    small uploads and calls go on; once writes work again, the same upload works."""
    import resource

    proc, url, tmp = hub_process
    big = png_bytes(320, 0)
    assert len(big) > 200_000
    soft, hard = resource.prlimit(proc.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        r = requests.post(f"{url}/gradio_api/upload", files={"files": ("big.png", big)}, timeout=60)
        assert r.status_code == 507, r.text
        assert "larger than the server allows" in r.text and "not saved" in r.text
        small = requests.post(f"{url}/gradio_api/upload", files={"files": ("small.png", png_bytes(32, 1))},
                              timeout=60)
        assert small.status_code == 200
        stream = rest(url, "gradcam", [{"path": small.json()[0], "meta": {"_type": "gradio.FileData"}},
                                       "efficientnet_lite0", "gradcam", None])
        assert "event: complete" in stream
    finally:
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
    ok = requests.post(f"{url}/gradio_api/upload", files={"files": ("big.png", big)}, timeout=60)
    assert ok.status_code == 200 and Path(ok.json()[0]).read_bytes() == big
    # Every upload the hub can hand out under that name is whole: the refused one's half is only ever a stray
    # temporary file of Gradio's (never handed out; the housekeeper removes it).
    uploads = Path(ok.json()[0]).parents[1]
    handed = [p for p in uploads.rglob("big.png") if p.is_file()]
    assert handed and all(p.read_bytes() == big for p in handed)


@pytest.fixture(scope="module")
def hub():
    with hub_in_process() as (_, url):
        yield url


def test_a_job_failing_half_way_leaves_every_other_learner_served(hub, monkeypatch):
    """Diffusion runs on the lane step by step. One learner's run fails at its 6th step (seed 666 is made to);
    meanwhile other learners' diffusion runs and Grad-CAM clicks arrive. The failing run ends in an error
    event, every other call completes, and the hub goes on answering."""
    from apps.diffusion import logic as diffusion

    url = hub
    real = diffusion._stream

    def sometimes_failing(s, device, every):
        for i, item in enumerate(real(s, device, every)):
            if s.seed == 666 and i == 5:
                raise RuntimeError("a step failed half-way")
            yield item

    monkeypatch.setattr(diffusion, "_stream", sometimes_failing)
    from core import images

    cat = images.to_data_url(images.load_image(SAMPLES / "cat.png"))
    results: dict[str, str] = {}

    def diffusion_call(seed: int):
        results[f"diffusion{seed}"] = rest(url, "diffusion", [seed, "ddim", 20, 0.0, seed % 10, None, "ddpm_digits"])

    def clicks():
        for k in range(4):
            results[f"click{k}"] = rest(url, "gradcam", [cat, "efficientnet_lite0", "gradcam", None])

    threads = [threading.Thread(target=diffusion_call, args=(s,)) for s in (666, 1, 2, 3)]
    threads.append(threading.Thread(target=clicks))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert "event: error" in results["diffusion666"]
    assert all("event: complete" in v for k, v in results.items() if k != "diffusion666"), results
    done = rest(url, "diffusion", [5, "ddim", 10, 0.0, 5, None, "ddpm_digits"])
    payload = json.loads(done.split("event: complete", 1)[1].split("data: ", 1)[1].splitlines()[0])[0]
    assert np.asarray(payload["final_array"]).shape == (16, 16)
