"""Several front ends behind deploy/nginx.conf: sticky sessions, and a front end that dies.

Two Gradio hubs, then two Streamlit hubs (GLASSBOX_BACKEND=ray, the session's Ray head), behind Debian's nginx
running the shipped config, its upstream servers and listen port swapped for loopback ones (deploy/local.py). A
learner's browser opens a shared link; the front end that served it is killed; the learner reloads the link and
the other front end brings back the same view. With Gradio, a notebook's API calls through nginx keep working,
and a live class opened on the front end that dies goes on through the other (its state is in the cluster).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import CHROMIUM, CHROMIUM_ARGS, SAMPLES, free_port, start_server, stop, streamlit_command
from core import images
from deploy import local

pytestmark = pytest.mark.api


def hub_command(kind: str, port: int) -> list[str]:
    return [sys.executable, "app.py"] if kind == "gradio" else streamlit_command(port)


@pytest.fixture(params=["gradio", "streamlit"])
def balanced(request, ray_cluster):
    """(hub kind, nginx url, {front end port: process}) for two hubs of one kind on Ray behind nginx; all stopped
    after."""
    for path, install in ((local.NGINX, "nginx"), (CHROMIUM, "chromium")):
        if not Path(path).exists():
            if os.environ.get("CI"):
                pytest.fail(f"{path} is not installed but CI is set (apt-get install {install})")
            pytest.skip(f"{path} is not installed (apt-get install -y {install})")
    kind = request.param
    env = {"GLASSBOX_BACKEND": "ray", "GLASSBOX_RAY_ADDRESS": ray_cluster, "GLASSBOX_WARMUP": "0"}
    fronts: dict[int, tuple] = {}
    lb = None
    try:
        for k in range(2):
            port = free_port()
            fronts[port] = start_server(hub_command(kind, port), port, f"glassbox-{kind}-front{k}.log", env)
        lb = local.start_nginx(list(fronts))
        yield kind, lb[1], {p: proc for p, (proc, _) in fronts.items()}
    finally:
        if lb is not None:
            local.stop_nginx(lb[0], lb[2])
        for proc, log in fronts.values():
            stop(proc)
            log.close()


def front_port(response) -> int:
    return int(response.headers["x-glassbox-frontend"].rsplit(":", 1)[1])


def open_class(a: str, b: str, url: str) -> tuple[str, str]:
    """A live class opened on front end a, then moved, asked and voted on through b, a and nginx: one class,
    whichever front end a request lands on. Returns (code, token)."""
    s = requests.post(f"{a}/gb_class/open", json={"view": "/gradcam?image=cat"}, timeout=60).json()
    code, lecturer = s["code"], {"X-Class-Token": s["token"]}
    seen = requests.get(f"{b}/gb_class/state", params={"code": code, "member": "learner-0001"}, timeout=60).json()
    assert seen["view"] == "/gradcam?image=cat" and seen["following"] == 1
    requests.post(f"{b}/gb_class/set", headers=lecturer, json={"code": code, "action": "view",
                                                               "view": "/fgsm?image=coffee"}, timeout=60)
    requests.post(f"{a}/gb_class/set", headers=lecturer, json={"code": code, "action": "ask", "question": "Q?",
                                                               "options": ["yes", "no"]}, timeout=60)
    votes = [requests.post(f"{(a, b, url)[i % 3]}/gb_class/vote", json={"code": code, "member": f"learner-{i:04d}",
                                                                       "option": i % 2}, timeout=60)
             for i in range(12)]
    assert [v.status_code for v in votes] == [200] * 12
    twice = requests.post(f"{a}/gb_class/vote", json={"code": code, "member": "learner-0004", "option": 0}, timeout=60)
    assert twice.status_code == 400 and "already voted" in twice.json()["error"]  # voted through b before
    return code, s["token"]


def test_a_dead_front_end_sends_its_learners_to_another_that_rebuilds_the_view_from_the_link(balanced):
    """Gradio: the link comes from the API's share_url, and the page's link box must show it computed. Streamlit:
    the same link; its page runs over a websocket through nginx, and must show the view computed on a replica."""
    from gradio_client import Client, handle_file
    from playwright.sync_api import sync_playwright

    kind, url, fronts = balanced
    if kind == "gradio":
        notebook = Client(url + "/", verbose=False)
        out = notebook.predict(image=handle_file(str(SAMPLES / "coffee.png")), target=504, api_name="/gradcam")
        assert out["target"]["label"] == "coffee mug" and out["worker"].startswith("Worker#")
        link = url + out["share_url"]
    else:
        link = f"{url}/gradcam?image=coffee&target=504"

    # Sticky: one browser's requests all reach one front end, from the first (which sets the cookie) on.
    with requests.Session() as s:
        served = {front_port(s.get(url + "/", timeout=30)) for _ in range(6)}
    assert len(served) == 1
    if kind == "gradio":
        # A script's REST call is two requests (POST, then GET of the event) that must meet in one process,
        # whether or not it keeps cookies: each fresh session's first call, and its second.
        cat = images.to_data_url(images.load_image(SAMPLES / "cat.png"))
        for keep_cookies in (True, False, True, False, True, False):
            http = requests.Session() if keep_cookies else requests
            for _ in range(2):
                event = http.post(f"{url}/gradio_api/call/gradcam", json={"data": [cat]}, timeout=60)
                event.raise_for_status()
                answer = http.get(f"{url}/gradio_api/call/gradcam/{event.json()['event_id']}", timeout=120).text
                assert "event: complete" in answer, answer[-300:]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def open_view() -> int:
            response = page.goto(link)
            if kind == "gradio":
                page.wait_for_function("(document.querySelector('#gradcam-link textarea, #gradcam-link input')"
                                       "?.value || '').includes('target=504')", timeout=120_000)
                page.get_by_text("coffee mug").first.wait_for(timeout=120_000)
            else:
                page.get_by_text("Explaining coffee mug").first.wait_for(timeout=120_000)
                assert page.locator("[data-testid=stException]").count() == 0
            # The footer says where the model work ran (each result's label names the replica's device).
            page.get_by_text("Model work: Ray Serve, 2 replicas").first.wait_for(timeout=60_000)
            return front_port(response)

        first = open_view()
        assert first in fronts
        other = next(p for p in fronts if p != first)
        if kind == "gradio":
            klass = open_class(f"http://127.0.0.1:{first}", f"http://127.0.0.1:{other}", url)
        fronts[first].kill()  # the front end crashes (SIGKILL: no goodbye to nginx)
        fronts[first].wait(timeout=30)
        t0 = time.monotonic()
        second = open_view()  # the learner reloads her link
        assert second != first and second in fronts
        assert time.monotonic() - t0 < 60
        browser.close()
    if kind == "gradio":
        # The class opened on the dead front end goes on through the other: its state lives in the cluster.
        code, token = klass
        shown = requests.post(f"http://127.0.0.1:{second}/gb_class/set", headers={"X-Class-Token": token},
                              json={"code": code, "action": "reveal"}, timeout=60).json()
        assert shown["view"] == "/fgsm?image=coffee" and shown["poll"]["counts"] == [6, 6]
        assert requests.get(f"{url}/gb_class/state", params={"code": code}, timeout=60).json()["poll"]["revealed"]
        again = Client(url + "/", verbose=False).predict(image=handle_file(str(SAMPLES / "coffee.png")), target=504,
                                                         api_name="/gradcam")
        assert again["target"]["label"] == "coffee mug"

