"""The Streamlit hub in Chromium: landing page and the Grad-CAM page on the default sample."""

from __future__ import annotations

import pytest

from browser.conftest import compare_screenshot

pytestmark = pytest.mark.browser


def test_streamlit_home(page, streamlit_url):
    page.goto(streamlit_url)
    page.get_by_text("Glassbox", exact=False).first.wait_for(timeout=60_000)
    from apps.registry import DEMOS

    page.get_by_text("coming soon").first.wait_for()
    assert page.get_by_text("coming soon").count() == sum(not d.built for d in DEMOS)
    assert page.locator("[data-testid=stException]").count() == 0


def test_streamlit_gradcam(page, streamlit_url):
    page.goto(f"{streamlit_url}/gradcam")
    page.get_by_text("Explaining").wait_for(timeout=90_000)
    page.wait_for_selector("[data-testid=stImage] img >> nth=2", timeout=60_000)
    page.wait_for_timeout(1500)  # the chart and images finish painting
    body = page.locator("body").inner_text()
    assert "Egyptian cat" in body and "EfficientNet-Lite0" in body
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.locator("[data-testid=stAlert]").count() == 0
    compare_screenshot(page, "streamlit_gradcam", mask=[page.locator(".st-key-gc-timing")])


def test_streamlit_fgsm(page, streamlit_url):
    page.goto(f"{streamlit_url}/fgsm")
    page.get_by_text("Grad-CAM after").wait_for(timeout=90_000)
    page.wait_for_selector("[data-testid=stImage] img >> nth=4", timeout=60_000)
    page.wait_for_timeout(1500)
    body = page.locator("body").inner_text()
    assert "espresso" in body and "EfficientNet-Lite0" in body and "fooled" in body
    assert page.locator("[data-testid=stException]").count() == 0
    compare_screenshot(page, "streamlit_fgsm")


def test_streamlit_attention(page, streamlit_url):
    page.goto(f"{streamlit_url}/attention")
    page.get_by_text("14 tokens").wait_for(timeout=90_000)
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    page.wait_for_timeout(1500)
    assert page.locator("[data-testid=stException]").count() == 0
    compare_screenshot(page, "streamlit_attention")


def test_streamlit_vit(page, streamlit_url):
    page.goto(f"{streamlit_url}/vit_patches")
    page.get_by_text("tokens").first.wait_for(timeout=90_000)
    page.wait_for_selector("[data-testid=stImage] img", timeout=60_000)
    page.wait_for_timeout(1500)
    assert page.locator("[data-testid=stException]").count() == 0
    compare_screenshot(page, "streamlit_vit")


def test_streamlit_diffusion(page, streamlit_url):
    page.goto(f"{streamlit_url}/diffusion")
    page.get_by_text("DDIM 50 steps").first.wait_for(timeout=90_000)
    page.wait_for_selector("[data-testid=stImage] img >> nth=3", timeout=60_000)
    # The other tabs (forward process, toy) finish after the first; wait for the whole run to end.
    page.wait_for_selector("[data-testid=stStatusWidget]", state="detached", timeout=60_000)
    page.wait_for_timeout(1500)
    body = page.locator("body").inner_text()
    assert "Glassbox digits DDPM" in body and "digit 3" in body
    assert page.locator("[data-testid=stException]").count() == 0
    compare_screenshot(page, "streamlit_diffusion", mask=[page.locator(".st-key-diff_timing")])
