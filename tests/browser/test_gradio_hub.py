"""The Gradio hub in Chromium: landing page, Grad-CAM on a sample, a bad upload, two sessions."""

from __future__ import annotations

import re

import pytest

from browser.conftest import compare_screenshot

pytestmark = pytest.mark.browser
ERROR_TEXT = re.compile(r"Traceback|Error:|Exception|Connection errored", re.I)


def open_gradcam(page, url: str, sample_index: int = 1):
    page.goto(f"{url}/gradcam")
    page.locator("#gradcam-gallery button.thumbnail-item").nth(sample_index).click()
    page.wait_for_selector("#gradcam-overlay-a img", timeout=60_000)
    page.wait_for_selector("#gradcam-overlay-b img", timeout=60_000)
    page.wait_for_timeout(800)  # let the last images paint


def test_landing_page_lists_all_eight_topics(page, gradio_url):
    from apps.registry import DEMOS

    page.goto(gradio_url)
    page.wait_for_selector("#card-gradcam")
    assert page.locator(".gb-card").count() == 8
    assert page.locator(".gb-soon").count() == sum(not d.built for d in DEMOS)
    footer = page.locator("#gb-footer")
    footer.wait_for()
    page.wait_for_function("document.querySelector('#gb-footer').innerText.includes('Device:')")
    assert "Device: cpu" in footer.inner_text()
    compare_screenshot(page, "gradio_home", mask=[footer])


def test_landing_page_lists_every_endpoint_and_hides_the_empty_api_panel(page, gradio_url):
    import json
    import urllib.request

    with urllib.request.urlopen(f"{gradio_url}/gradio_api/info", timeout=30) as r:
        endpoints = {name.strip("/") for name in json.load(r)["named_endpoints"]}
    assert endpoints >= {"gradcam", "fgsm", "attention", "vit", "diffusion"}
    page.goto(gradio_url)
    page.wait_for_selector("#gb-api li")
    listed = {re.match(r"/(\w+)", li).group(1) for li in page.locator("#gb-api li").all_inner_texts()}
    assert listed == endpoints
    # Gradio's own panel would say "No API Routes found" here: its link is hidden on the landing page only.
    assert not page.locator("footer .show-api").is_visible()
    page.goto(f"{gradio_url}/gradcam")
    page.locator("footer .show-api").wait_for(state="visible")


def test_gradcam_on_a_sample(page, gradio_url):
    open_gradcam(page, gradio_url, 1)  # the cat
    status = page.locator("#gradcam-status").inner_text()
    assert "EfficientNet-Lite0" in status and "offline" in status and "cpu" in status
    assert re.search(r"Egyptian cat|tabby|tiger cat", status)
    assert "Egyptian cat" in page.locator("#gradcam-top5").inner_text()
    assert "Faithfulness" in page.locator("#gradcam-faith").inner_text()
    assert not ERROR_TEXT.search(page.locator("body").inner_text())
    assert "computed in" in page.locator("#gradcam-timing").inner_text()
    compare_screenshot(page, "gradio_gradcam", mask=[page.locator("#gradcam-timing"), page.locator("#gb-footer")])


def test_bad_upload_shows_a_message_and_the_page_keeps_working(page, gradio_url, tmp_path):
    bad = tmp_path / "holiday.png"
    bad.write_text("not really a png")
    page.goto(f"{gradio_url}/gradcam")
    page.locator("#gradcam-upload input[type=file]").set_input_files(str(bad))
    page.wait_for_function("document.querySelector('#gradcam-status').innerText.includes('not an image')",
                           timeout=30_000)
    open_gradcam(page, gradio_url, 2)  # the coffee sample still works afterwards
    assert "espresso" in page.locator("#gradcam-status").inner_text()


def test_two_sessions_do_not_share_state(browser, gradio_url):
    from browser.conftest import VIEWPORT

    ctx_a, ctx_b = browser.new_context(viewport=VIEWPORT), browser.new_context(viewport=VIEWPORT)
    try:
        a, b = ctx_a.new_page(), ctx_b.new_page()
        open_gradcam(a, gradio_url, 1)  # cat
        open_gradcam(b, gradio_url, 2)  # coffee
        a.locator("#gradcam-overlay-b").scroll_into_view_if_needed()
        assert "espresso" not in a.locator("#gradcam-status").inner_text()
        assert "espresso" in b.locator("#gradcam-status").inner_text()
    finally:
        ctx_a.close()
        ctx_b.close()


def test_an_error_keeps_the_last_good_result_beside_the_message(page, gradio_url, tmp_path):
    open_gradcam(page, gradio_url, 1)  # the cat
    overlay = page.locator("#gradcam-overlay-a img").get_attribute("src")
    bad = tmp_path / "notes.png"
    bad.write_text("not really a png")
    page.locator("#gradcam-upload input[type=file]").set_input_files(str(bad))
    page.wait_for_function("document.querySelector('#gradcam-status').innerText.includes('not an image')",
                           timeout=30_000)
    assert page.locator("#gradcam-overlay-a img").get_attribute("src") == overlay  # the cat's map is still there
    assert "Egyptian cat" in page.locator("#gradcam-top5").inner_text()
    assert "Faithfulness" in page.locator("#gradcam-faith").inner_text()


def test_fgsm_on_a_sample(page, gradio_url):
    page.goto(f"{gradio_url}/fgsm")
    page.locator("#fgsm-gallery button.thumbnail-item").nth(2).click()  # the coffee cup
    page.wait_for_selector("#fgsm-cam-after img", timeout=60_000)
    page.wait_for_timeout(800)
    status = page.locator("#fgsm-status").inner_text()
    assert "EfficientNet-Lite0" in status and "espresso" in status and "L∞ = 4/255" in status
    assert "espresso" in page.locator("#fgsm-top5-before").inner_text()
    assert not ERROR_TEXT.search(page.locator("body").inner_text())
    compare_screenshot(page, "gradio_fgsm", mask=[page.locator("#gb-footer")])


def test_fgsm_typed_epsilon_shows_that_epsilons_result(page, gradio_url):
    """Typing a value in a slider's box and leaving it must show that value's result: the last change
    wins, even when typed while the previous value is still computing."""
    page.goto(f"{gradio_url}/fgsm")
    page.locator("#fgsm-gallery button.thumbnail-item").nth(2).click()
    page.wait_for_function("document.querySelector('#fgsm-status').innerText.includes('ε = 4/255')", timeout=60_000)
    box = page.locator("#fgsm-eps input[type=number]")
    for eps in ("2", "8", "1.5"):
        box.fill(eps)
        box.press("Tab")
    page.wait_for_function("document.querySelector('#fgsm-status').innerText.includes('ε = 1.5/255')",
                           timeout=60_000)
    page.wait_for_timeout(1500)  # nothing older may land afterwards
    assert "ε = 1.5/255" in page.locator("#fgsm-status").inner_text()


def test_attention_heatmap(page, gradio_url):
    page.goto(f"{gradio_url}/attention")
    page.get_by_role("button", name="Show attention").click()
    page.wait_for_selector("#attention-heatmap .js-plotly-plot", timeout=60_000)
    page.wait_for_timeout(1000)
    status = page.locator("#attention-status").inner_text()
    assert "all-MiniLM-L6-v2" in status and "14 tokens" in status and "6 layers × 12 heads" in status
    assert not ERROR_TEXT.search(page.locator("body").inner_text())
    compare_screenshot(page, "gradio_attention", mask=[page.locator("#gb-footer")])
    page.get_by_role("button", name="Prepare the interactive HTML").click()
    page.wait_for_function("document.querySelector('#attention-html').innerText.includes('.html')", timeout=30_000)
    page.get_by_role("tab", name="Model view (all layers × heads)").click()
    page.locator("#attention-grid button.thumbnail-item").nth(12 * 3 + 4).click()  # layer 3, head 4
    page.wait_for_function("document.querySelector('#attention-heatmap').innerText.includes('Layer 3, head 4')",
                           timeout=30_000)


def test_vit_patches(page, gradio_url):
    page.goto(f"{gradio_url}/vit_patches")
    page.locator("#vit-gallery button.thumbnail-item").nth(0).click()
    page.wait_for_selector("#vit-split img", timeout=60_000)
    page.wait_for_timeout(800)
    status = page.locator("#vit-status").inner_text()
    assert "tiny ViT" in status and "64 patches" in status
    assert "N = (H/P)·(W/P)" in page.locator("#vit-count").inner_text()
    assert not ERROR_TEXT.search(page.locator("body").inner_text())
    compare_screenshot(page, "gradio_vit", mask=[page.locator("#gb-footer")])
    page.get_by_role("tab", name="4 · Attention").click()
    page.wait_for_selector("#vit-cls img", timeout=30_000)


def test_diffusion_generate_and_scrub(page, gradio_url):
    page.goto(f"{gradio_url}/diffusion")
    page.locator("#diff-generate").click()
    page.wait_for_selector("#diff-final img", timeout=60_000)
    page.wait_for_function("document.querySelector('#diff-timing').innerText.includes('Drag the step slider')",
                           timeout=60_000)
    status = page.locator("#diff-status").inner_text()
    assert "Glassbox digits DDPM" in status and "offline model" in status and "cpu" in status
    assert "DDIM 50 steps" in status and "digit 3" in status
    assert not ERROR_TEXT.search(page.locator("body").inner_text())
    page.evaluate("window.scrollTo(0, 0)")  # the click scrolled down to the button: show title and status
    page.wait_for_timeout(800)
    compare_screenshot(page, "gradio_diffusion", mask=[page.locator("#diff-timing"), page.locator("#gb-footer")])
    # Scrub back to the first step: x_t is then (almost) pure noise, labelled with its timestep.
    box = page.locator("#diff-step input[type=range]")
    box.fill("0")
    box.dispatch_event("input")
    page.wait_for_function("document.querySelector('#diff-xt').innerText.includes('step 1 of 50')", timeout=10_000)
    page.get_by_role("tab", name="2 · Forward process").click()
    page.wait_for_function("document.querySelector('#diff-forward-stats').innerText.includes('t = 250')",
                           timeout=30_000)
