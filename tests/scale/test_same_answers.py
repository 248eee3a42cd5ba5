"""GLASSBOX_BACKEND=ray gives the same JSON as the local lane, endpoint by endpoint, and the front end stays thin.

One hub in this process; each endpoint is called on the local lane, then (result caches emptied) on a Ray Serve
replica. Deterministic fields must be equal: numbers to float tolerance (a replica runs torch with one thread, the
front end with two, so sums may round differently: one unit of the payload's rounding), images pixel by pixel to
one grey level. Timing fields (`..._ms`, `seconds`, SAM's `timing`) and `worker` may differ; `model_label`
differs only in the thread count it names.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from conftest import SAMPLES, backend, hub_in_process

pytestmark = pytest.mark.api

# and every "..._ms" field. "seconds": diffusion's wall time. "timing": SAM's encode/decode times and whether the
# image's encoding was cached, which depends on what that process (front end or replica) was asked before.
TIMING = {"timing_ms", "timing", "worker", "seconds"}


def calls():
    from gradio_client import handle_file

    cat = handle_file(str(SAMPLES / "cat.png"))
    return {
        "/gradcam": dict(image=cat),
        "/fgsm": dict(image=cat, epsilon=2),
        "/attention": dict(text="The same answer from every worker."),
        "/vit": dict(image=cat),
        "/diffusion": dict(seed=11, steps=4, label=2),
        "/clip": dict(image=cat, labels=["a cat", "a dog"]),
        "/sam": dict(image=cat, points=[[200, 150, 1]]),
        "/gan_real": dict(n=4, seed=1),
        "/gan_sample": dict(seeds=[1, 2]),
        "/gan_interpolate": dict(seed_a=1, seed_b=2, steps=3),
        "/gan_edit": dict(seeds=[1], attribute="hat"),
        "/gan_analogy": dict(a=1, b=2, c=3),
    }


def _image(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"), np.int16)


def assert_same(a, b, where: str) -> None:
    """a and b equal in every deterministic field (see the module's docstring)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            if k not in TIMING and not k.endswith("_ms"):
                assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, str) and a.startswith("data:image/"):
        x, y = _image(a), _image(b)
        assert x.shape == y.shape and np.abs(x - y).max() <= 1, f"{where}: images differ"
    elif isinstance(a, str):
        thread_count = re.compile(r"\(\d+ threads?\)")
        assert thread_count.sub("", a) == thread_count.sub("", b), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, (int, float)) and not isinstance(a, bool):
        # The payload rounds (a heatmap to 3 decimals): a last-bit difference may flip the last digit shown.
        assert b == pytest.approx(a, rel=1e-4, abs=1.01e-3), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_every_endpoint_answers_the_same_on_local_and_on_ray(ray_cluster):
    from gradio_client import Client

    from core import cache, models

    with hub_in_process() as (_, url):
        client = Client(url + "/", verbose=False)
        answers = {}
        for endpoint, args in calls().items():
            with backend("local"):
                cache.clear_all()
                local = client.predict(api_name=endpoint, **args)
            assert local["worker"] == "local", endpoint
            answers[endpoint] = local
        models.clear_cache()
        for endpoint, args in calls().items():
            with backend("ray", ray_cluster):
                cache.clear_all()
                remote = client.predict(api_name=endpoint, **args)
            # /gan_real draws the training faces, no model: the front end answers it alone.
            expected = "frontend" if endpoint == "/gan_real" else "Worker#"
            assert remote["worker"].startswith(expected), (endpoint, remote["worker"])
            assert_same(answers[endpoint], remote, endpoint)
        # The front end ran none of it: every model was loaded on a replica, none in this process.
        assert models.loaded_names() == []
        with backend("ray", ray_cluster):  # asked twice: the second time the front end's result cache answers
            client.predict(api_name="/gradcam", **calls()["/gradcam"])
            again = client.predict(api_name="/gradcam", **calls()["/gradcam"])
        assert again["worker"] == "frontend"


def test_a_session_object_trained_on_a_replica_comes_back_to_the_front_end(ray_cluster):
    """GAN Lab lite keeps each tab's live run in the front end; on Ray a replica trains a copy, which must come
    back into the same object (the page holds it) with the steps and history it gained."""
    from apps.gan_latent import lab

    with backend("ray", ray_cluster):
        run = lab.current(None, "standard", 0)
        same = lab.step(run)
        assert same is run and run.step == lab.STEP and run.history[-1]["step"] == lab.STEP
        lab.step(run, 10)
        assert run.step == lab.STEP + 10
        assert lab.drawn(run) is not None  # drawn on a replica from the state that came back
