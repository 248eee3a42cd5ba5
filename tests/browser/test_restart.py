"""The server restarts mid-lesson (a Space rebuilds, a laptop's hub is stopped and started): a learner's page,
reloaded, opens on the same view, computed from the link in its address bar."""

from __future__ import annotations

import sys

import pytest
from browser.conftest import gradio_idle
from browser.test_classroom import STATUS, opened, query, wait_text

from conftest import free_port, start_server, stop

pytestmark = pytest.mark.browser


def test_a_restarted_server_reopens_the_learners_view_from_its_link(page):
    slug, eps = "fgsm", page.locator("#fgsm-eps input[type=number]")
    port = free_port()
    cmd = [sys.executable, "app.py"]
    proc, log = start_server(cmd, port, "glassbox-restart-1.log", {"GLASSBOX_WARMUP": "0"})
    try:
        page.goto(f"http://127.0.0.1:{port}/{slug}?lesson=2")  # a lesson step, then the learner's own change
        opened(page, slug, "lesson=2")
        eps.fill("3")
        eps.press("Tab")
        link = opened(page, slug, "epsilon=3")
        wait_text(page, STATUS, "ε = 3/255")
        gradio_idle(page)
        before = query(link)
        status_before = page.inner_text(STATUS)
    finally:
        stop(proc)
        log.close()
    # The hub is gone; then it is back, a new process with no memory of this learner.
    proc, log = start_server(cmd, port, "glassbox-restart-2.log", {"GLASSBOX_WARMUP": "0"})
    try:
        page.reload()
        after = opened(page, slug, "epsilon=3")
        wait_text(page, STATUS, "ε = 3/255")
        gradio_idle(page)
        assert query(after) == before and page.evaluate("location.href") == after
        assert page.inner_text(STATUS) == status_before  # the same view, computed again
        assert eps.input_value() == "3"
    finally:
        stop(proc)
        log.close()
