"""The Gradio hub in Chromium: landing page, Grad-CAM on a sample, a bad upload, two sessions."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from browser.conftest import PROJECTOR, compare_screenshot, gradio_idle, loaded, serious_violations
from PIL import Image

pytestmark = pytest.mark.browser
ERROR_TEXT = re.compile(r"Traceback|Error:|Exception|Connection errored", re.I)


def open_gradcam(page, url: str, sample_index: int = 1):
    page.goto(f"{url}/gradcam")
    loaded(page, "gradcam")
    page.locator("#gradcam-gallery button.thumbnail-item").nth(sample_index).click()
    gradio_idle(page)  # the opening view's pictures are there already: wait for the new run, not for them
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
    assert serious_violations(page) == []  # WCAG 2.1 AA at 1280 px (axe-core; test_access.py)
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
    loaded(page, "gradcam")
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
    assert serious_violations(page) == []  # WCAG 2.1 AA at 1280 px (axe-core; test_access.py)
    compare_screenshot(page, "gradio_gradcam", mask=[page.locator("#gradcam-timing"), page.locator("#gb-footer")])


def test_choosing_a_hub_model_offline_runs_a_stand_in_of_the_right_family(page, gradio_url):
    """Offline, ResNet-50 on the Grad-CAM page and ViT-B/16 on the ViT page cannot be had: the page
    runs the bundled model of the same family, with its own layer or grid, and says so once."""
    open_gradcam(page, gradio_url, 1)
    page.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name="ResNet-50 (torchvision, ImageNet-1k)").click()
    page.wait_for_function("document.querySelector('#gradcam-status').innerText.includes('unavailable')",
                           timeout=60_000)
    status = page.locator("#gradcam-status").inner_text()
    assert "stand-in for ResNet-50" in status and "running EfficientNet-Lite0" in status
    assert status.count("unavailable") == 1  # one notice says why, the model line only names it
    assert "Unknown layer" not in page.locator("body").inner_text()
    assert "Egyptian cat" in page.locator("#gradcam-top5").inner_text()

    page.goto(f"{gradio_url}/vit_patches")
    loaded(page, "vit_patches")
    page.locator("#vit-gallery button.thumbnail-item").nth(0).click()
    page.wait_for_selector("#vit-split img", timeout=60_000)
    page.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name="ViT-B/16 (timm, ImageNet-21k -> 1k)").click()
    page.wait_for_function("document.querySelector('#vit-status').innerText.includes('unavailable')", timeout=60_000)
    status = page.locator("#vit-status").inner_text()
    assert "ViT-B/16" in status and "tiny ViT" in status and "64 patches" in status
    assert "is not a Vision Transformer" not in page.locator("body").inner_text()


def test_bad_upload_shows_a_message_and_the_page_keeps_working(page, gradio_url, tmp_path):
    bad = tmp_path / "holiday.png"
    bad.write_text("not really a png")
    page.goto(f"{gradio_url}/gradcam")
    loaded(page, "gradcam")
    page.locator("#gradcam-upload input[type=file]").set_input_files(str(bad))
    page.wait_for_function("document.querySelector('#gradcam-status').innerText.includes('not an image')",
                           timeout=30_000)
    # the refused file leaves the upload box (it stayed there as if accepted)
    page.wait_for_function("!document.querySelector('#gradcam-upload').innerText.includes('holiday.png')",
                           timeout=10_000)
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
    loaded(page, "fgsm")
    page.locator("#fgsm-gallery button.thumbnail-item").nth(2).click()  # the coffee cup
    page.wait_for_selector("#fgsm-cam-after img", timeout=60_000)
    page.wait_for_timeout(800)
    status = page.locator("#fgsm-status").inner_text()
    assert "EfficientNet-Lite0" in status and "espresso" in status and "L∞ = 4/255" in status
    assert "espresso" in page.locator("#fgsm-top5-before").inner_text()
    assert not ERROR_TEXT.search(page.locator("body").inner_text())
    assert serious_violations(page) == []  # WCAG 2.1 AA at 1280 px (axe-core; test_access.py)
    compare_screenshot(page, "gradio_fgsm", mask=[page.locator("#gb-footer")])


def test_fgsm_typed_epsilon_shows_that_epsilons_result(page, gradio_url):
    """Typing a value in a slider's box and leaving it must show that value's result: the last change
    wins, even when typed while the previous value is still computing."""
    page.goto(f"{gradio_url}/fgsm")
    loaded(page, "fgsm")
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


def test_a_quick_second_change_wins_over_a_slow_first_one(page, gradio_url):
    """Two controls changed in quick succession, the first starting a slow run (PGD, 100 uncached steps:
    seconds) and the second a fast one (FGSM, already cached): the page must end on the second. With an event
    per control the two ran side by side and, depending on timing, the older one could land last."""
    fgsm = "FGSM (one step) at ε = 6.5/255"
    page.goto(f"{gradio_url}/fgsm?image=astronaut&attack=fgsm&epsilon=6.5")  # computes (and caches) the end view
    loaded(page, "fgsm")
    page.wait_for_function(f"document.querySelector('#fgsm-status').innerText.includes({fgsm!r})", timeout=60_000)
    page.goto(f"{gradio_url}/fgsm?image=astronaut&attack=pgd&epsilon=7.5&steps=100")
    loaded(page, "fgsm")
    page.wait_for_function("document.querySelector('#fgsm-status').innerText.includes('PGD (iterative, random start) "
                           "at ε = 7.5')", timeout=90_000)
    box = page.locator("#fgsm-eps input[type=number]")
    box.fill("6.5")
    box.press("Tab")  # PGD-100 at a new ε: a slow run starts
    page.get_by_role("radio", name="FGSM (one step)").check()  # straight away: a view already in the cache
    page.wait_for_function(f"document.querySelector('#fgsm-status').innerText.includes({fgsm!r})", timeout=120_000)
    page.wait_for_timeout(10_000)  # longer than the PGD run: a stale result would have landed by now
    gradio_idle(page, timeout=120_000)
    status = page.locator("#fgsm-status").inner_text()
    assert fgsm in status, status


def test_attention_heatmap(page, gradio_url):
    page.goto(f"{gradio_url}/attention")
    loaded(page, "attention")
    page.get_by_role("button", name="Show attention").click()
    page.wait_for_selector("#attention-heatmap .js-plotly-plot", timeout=60_000)
    page.wait_for_timeout(1000)
    status = page.locator("#attention-status").inner_text()
    assert "all-MiniLM-L6-v2" in status and "14 tokens" in status and "6 layers × 12 heads" in status
    assert not ERROR_TEXT.search(page.locator("body").inner_text())
    assert serious_violations(page) == []  # WCAG 2.1 AA at 1280 px (axe-core; test_access.py)
    compare_screenshot(page, "gradio_attention", mask=[page.locator("#gb-footer")])
    page.get_by_role("button", name="Prepare the interactive HTML").click()
    page.wait_for_function("document.querySelector('#attention-html').innerText.includes('.html')", timeout=30_000)
    page.get_by_role("tab", name="Model view (all layers × heads)").click()
    sheet = page.locator("#attention-grid img")
    sheet.scroll_into_view_if_needed()
    box = sheet.bounding_box()
    natural = sheet.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    scale = box["width"] / natural[0]
    assert box["x"] + box["width"] <= page.viewport_size["width"]  # all twelve heads on screen
    from apps.attention import logic

    left, top = logic.GRID_MARGIN
    x, y = left + 4.5 * logic.GRID_CELL, top + 3.5 * logic.GRID_CELL  # the middle of layer 3, head 4
    page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)
    page.wait_for_function("document.querySelector('#attention-heatmap').innerText.includes('Layer 3, head 4')",
                           timeout=30_000)


def test_vit_patches(page, gradio_url):
    page.goto(f"{gradio_url}/vit_patches")
    loaded(page, "vit_patches")
    page.locator("#vit-gallery button.thumbnail-item").nth(0).click()
    page.wait_for_selector("#vit-split img", timeout=60_000)
    page.wait_for_timeout(800)
    status = page.locator("#vit-status").inner_text()
    assert "tiny ViT" in status and "64 patches" in status
    assert "N = (H/P)·(W/P)" in page.locator("#vit-count").inner_text()
    assert not ERROR_TEXT.search(page.locator("body").inner_text())
    assert serious_violations(page) == []  # WCAG 2.1 AA at 1280 px (axe-core; test_access.py)
    compare_screenshot(page, "gradio_vit_patches", mask=[page.locator("#gb-footer")])
    page.get_by_role("tab", name="4 · Attention").click()
    page.wait_for_selector("#vit-cls img", timeout=30_000)


def test_diffusion_generate_and_scrub(page, gradio_url):
    page.goto(f"{gradio_url}/diffusion")
    loaded(page, "diffusion")
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
    assert serious_violations(page) == []  # WCAG 2.1 AA at 1280 px (axe-core; test_access.py)
    compare_screenshot(page, "gradio_diffusion", mask=[page.locator("#diff-timing"), page.locator("#gb-footer")])
    # Scrub back to the first step: x_t is then (almost) pure noise, labelled with its timestep.
    box = page.locator("#diff-step input[type=range]")
    box.fill("0")
    box.dispatch_event("input")
    page.wait_for_function("document.querySelector('#diff-xt').innerText.includes('step 1 of 50')", timeout=10_000)
    page.get_by_role("tab", name="2 · Forward process").click()
    page.wait_for_function("document.querySelector('#diff-forward-stats').innerText.includes('t = 250')",
                           timeout=30_000)


# --- a 1024x768 projector -------------------------------------------------------------------------

OVERFLOW_JS = """sel => Array.from(document.querySelectorAll(sel)).filter(e => e.offsetParent !== null)
    .filter(e => e.scrollWidth > e.clientWidth + 2 || e.scrollHeight > e.clientHeight + 2)
    .map(e => (e.closest('[id]') || e).id + ' ' + e.className + ' ' + e.scrollWidth + '>' + e.clientWidth
              + ' / ' + e.scrollHeight + '>' + e.clientHeight)"""
# Gallery thumbnails are cropped squares on purpose; any other picture must show all of itself: either its
# box keeps the picture's shape, or it is scaled to fit inside the box (object-fit: contain).
CUT_IMAGES_JS = """() => Array.from(document.querySelectorAll('main img'))
    .filter(i => i.offsetParent !== null && i.naturalWidth)
    .filter(i => !i.closest('.thumbnail-item'))
    .filter(i => { const r = i.getBoundingClientRect(), p = i.parentElement.getBoundingClientRect();
                   const fit = getComputedStyle(i).objectFit;
                   const reshaped = Math.abs(r.width / r.height - i.naturalWidth / i.naturalHeight) > 0.05;
                   return r.right > p.right + 2 || r.left < p.left - 2
                          || (reshaped && !['contain', 'scale-down'].includes(fit)); })
    .map(i => (i.closest('[id]') || i).id + ' ' + i.naturalWidth + 'x' + i.naturalHeight)"""


def assert_fits(page, what: str) -> None:
    """Nothing cut off: galleries show every column and row, images keep their whole picture, dropdown
    text stops before its arrow, and the page never scrolls sideways."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PROJECTOR["width"], f"{what}: scrolls sideways"
    assert page.evaluate(OVERFLOW_JS, ".grid-wrap, .grid-container") == [], f"{what}: a gallery is cut off"
    assert page.evaluate(CUT_IMAGES_JS) == [], f"{what}: an image is cropped"
    pads = page.evaluate("() => Array.from(document.querySelectorAll('.secondary-wrap input'))"
                         ".filter(e => e.offsetParent !== null).map(e => parseFloat(getComputedStyle(e).paddingRight))")
    assert all(p >= 24 for p in pads), f"{what}: dropdown text runs under its arrow"


def in_first_screen(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PROJECTOR["height"]


def test_pages_fit_a_1024x768_projector(projector, gradio_url):
    page = projector
    page.goto(f"{gradio_url}/gradcam")
    loaded(page, "gradcam")
    page.locator("#gradcam-gallery button.thumbnail-item").nth(1).click()
    page.wait_for_selector("#gradcam-overlay-b img", timeout=60_000)
    assert in_first_screen(page, "#gradcam-gallery button.thumbnail-item >> nth=5")  # every sample in view
    assert_fits(page, "gradcam")

    page.goto(f"{gradio_url}/fgsm")
    loaded(page, "fgsm")
    page.locator("#fgsm-gallery button.thumbnail-item").nth(2).click()
    page.wait_for_selector("#fgsm-adversarial img", timeout=60_000)
    assert in_first_screen(page, "#fgsm-gallery button.thumbnail-item >> nth=5")
    assert_fits(page, "fgsm")

    page.goto(f"{gradio_url}/vit_patches")
    loaded(page, "vit_patches")
    page.locator("#vit-gallery button.thumbnail-item").nth(0).click()
    page.wait_for_selector("#vit-split img", timeout=60_000)
    assert in_first_screen(page, "#vit-gallery button.thumbnail-item >> nth=7")
    assert_fits(page, "vit")
    gradio_idle(page)  # a click while the gallery's image is computing lands on the spinner, not the grid
    before = page.locator("#vit-split img").get_attribute("src")
    box = page.locator("#vit-split img").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.1)  # patch (0, 0)
    page.wait_for_function("before => document.querySelector('#vit-split img').src !== before", arg=before,
                           timeout=30_000)  # the clicked patch is outlined

    page.goto(f"{gradio_url}/attention")
    loaded(page, "attention")
    page.get_by_role("button", name="Show attention").click()
    page.wait_for_selector("#attention-heatmap .js-plotly-plot", timeout=60_000)
    page.get_by_role("tab", name="Model view (all layers × heads)").click()
    sheet = page.locator("#attention-grid img")
    sheet.wait_for()
    box = sheet.bounding_box()
    assert box["x"] + box["width"] <= PROJECTOR["width"]  # twelve heads across, six layers down, no scrolling box
    assert_fits(page, "attention model view")
    page.get_by_role("tab", name="Head view").click()
    page.wait_for_timeout(1500)
    plot = page.locator("#attention-headview .main-svg").first.bounding_box()
    panel = page.locator("#attention-headview").bounding_box()
    assert plot["width"] > 0.9 * panel["width"], "the head view is squeezed"

    page.goto(f"{gradio_url}/diffusion")
    loaded(page, "diffusion")
    page.locator("#diff-generate").wait_for()
    assert in_first_screen(page, "#diff-generate"), "Generate is below the fold"
    page.get_by_role("tab", name="2 · Forward process").click()
    page.wait_for_selector("#diff-strip img", timeout=30_000)
    assert_fits(page, "forward process")  # the strip ends with t = 999, whole
    page.get_by_role("tab", name="4 · 2-D toy").click()
    pad = page.locator("#diff-toy-pad img")
    pad.wait_for()
    box = pad.bounding_box()
    for fx, fy in ((0.25, 0.25), (0.75, 0.25), (0.5, 0.75)):  # three clicks, no tool to pick first
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        gradio_idle(page)  # the pad redraws with the point; the next click must land on the new picture
    page.wait_for_function("document.querySelector('#diff-toy-points textarea').value.split('\\n').length === 3",
                           timeout=10_000)
    first = [float(v) for v in page.locator("#diff-toy-points textarea").input_value().splitlines()[0].split(",")]
    assert first == pytest.approx([-1.5, 1.5], abs=0.1)  # a quarter in from the top left of a -3..3 pad
    page.locator("#diff-toy-go").click()
    page.wait_for_function("document.querySelector('#diff-toy-status').innerText.includes('exact denoiser')",
                           timeout=30_000)


def test_clip_zero_shot(page, gradio_url):
    page.goto(f"{gradio_url}/clip_zero_shot")
    loaded(page, "clip_zero_shot")
    page.locator("#clip-gallery button.thumbnail-item").nth(1).click()  # the cat
    page.wait_for_function("document.querySelector('#clip-status').innerText.includes('Best label')", timeout=90_000)
    page.wait_for_selector("#clip-bars .js-plotly-plot", timeout=30_000)
    page.wait_for_timeout(1000)
    status = page.locator("#clip-status").inner_text()
    assert "Best label: a cat" in status and "not CLIP" in status and "ConSE" in status
    assert not ERROR_TEXT.search(page.locator("body").inner_text())
    assert serious_violations(page) == []  # WCAG 2.1 AA at 1280 px (axe-core; test_access.py)
    compare_screenshot(page, "gradio_clip_zero_shot", mask=[page.locator("#gb-footer")])
    # Labels that do not fit: softmax still crowns one, each-on-its-own says none of these.
    page.locator("#clip-labels textarea").fill("a car\na bus\na sailing boat")
    page.get_by_text("each label on its own (0 to 1)").click()
    page.wait_for_function("document.querySelector('#clip-status').innerText.includes('None of these')",
                           timeout=30_000)
    page.get_by_role("tab", name="Text → image search").click()
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("#clip-found button.thumbnail-item", timeout=30_000)
    assert page.locator("#clip-found button.thumbnail-item").first.inner_text().startswith("1. coffee")
    page.get_by_role("tab", name="How CLIP learns").click()
    page.wait_for_selector("#clip-learn-matrix .js-plotly-plot", timeout=30_000)
    page.wait_for_selector("#clip-learn-space .js-plotly-plot", timeout=30_000)
    assert "never saw" in page.locator("#clip-learn-text").inner_text()
    box = page.locator("#clip-learn-step input[type=number]")
    box.fill("0")
    box.press("Enter")
    page.wait_for_function("document.querySelector('#clip-learn-matrix').innerText.includes('Step 0:')",
                           timeout=30_000)


def test_clip_links_to_gradcam_on_the_same_image(page, gradio_url):
    page.goto(f"{gradio_url}/clip_zero_shot")
    loaded(page, "clip_zero_shot")
    page.locator("#clip-gallery button.thumbnail-item").nth(2).click()  # the coffee cup
    page.wait_for_function("document.querySelector('#clip-status').innerText.includes('Best label')", timeout=90_000)
    page.wait_for_function("document.querySelector('#clip_zero_shot-crosslinks a')?.getAttribute('href') === "
                           "'gradcam?image=coffee'", timeout=30_000)  # the cross-links follow the picked image
    href = page.get_by_role("link", name="Where does the classifier look?").get_attribute("href")
    page.goto(f"{gradio_url}/{href}")
    page.wait_for_selector("#gradcam-status", timeout=60_000)
    page.wait_for_function("(document.querySelector('#gradcam-status')?.innerText || '')"
                           ".includes('Explaining espresso')", timeout=90_000)
    page.wait_for_selector("#gradcam-overlay-a img", timeout=30_000)


def test_sam_opens_computed_and_takes_clicks_and_a_box(page, gradio_url):
    page.goto(f"{gradio_url}/sam")
    loaded(page, "sam")
    page.wait_for_function("(document.querySelector('#sam-status')?.innerText || '').includes('Best mask')",
                           timeout=90_000)
    assert "not SAM" in page.locator("#sam-status").inner_text()
    page.wait_for_selector("#sam-candidates button.thumbnail-item", timeout=30_000)
    assert serious_violations(page) == []  # WCAG 2.1 AA at 1280 px (axe-core; test_access.py)
    compare_screenshot(page, "gradio_sam", mask=[page.locator("#gb-footer"), page.locator("#sam-timing")])
    canvas = page.locator("#sam-canvas img")
    gradio_idle(page)
    box = canvas.bounding_box()
    page.get_by_label("➖ leave out (negative)").check()
    page.mouse.click(box["x"] + 0.5 * box["width"], box["y"] + 0.12 * box["height"])
    page.wait_for_function("(document.querySelector('#sam-timing')?.innerText || '').includes('2 point(s)')",
                           timeout=30_000)
    assert "cache hit" in page.locator("#sam-timing").inner_text()  # only the decoder ran for this click
    page.locator("#sam-undo").click()
    page.wait_for_function("(document.querySelector('#sam-timing')?.innerText || '').includes('1 point(s)')",
                           timeout=30_000)
    page.locator("#sam-clear").click()
    page.wait_for_function("(document.querySelector('#sam-status')?.innerText || '').includes('Click on an object')",
                           timeout=30_000)
    page.get_by_label("🔲 box: two corners").check()
    box = canvas.bounding_box()  # the shorter message above moved the picture up
    for fx, fy in ((0.2, 0.05), (0.7, 0.62)):  # the cup, corner to corner
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        gradio_idle(page)
    page.wait_for_function("(document.querySelector('#sam-timing')?.innerText || '').includes('+ box')", timeout=30_000)
    page.get_by_role("tab", name="Everything mode").click()
    page.locator("#sam-everything").click()
    page.wait_for_selector("#sam-everything-image img", timeout=60_000)


def test_gradcam_links_to_sam_with_a_click_at_the_heat_peak(page, gradio_url):
    page.goto(f"{gradio_url}/gradcam?image=coffee")
    page.wait_for_function("(document.querySelector('#gradcam-status')?.innerText || '').includes('Explaining')",
                           timeout=90_000)
    link = page.get_by_role("link", name="Segment what the network looks at")
    href = link.get_attribute("href")
    assert "image=coffee" in href and "prompt=" in href
    page.goto(f"{gradio_url}/{href}")  # the link opens a new tab; the same address here
    page.wait_for_selector("#sam-status", timeout=60_000)
    page.wait_for_function("(document.querySelector('#sam-status')?.innerText || '').includes('Best mask')",
                           timeout=90_000)
    x, y, label = (int(v) for v in re.search(r"prompt=(\d+),(\d+),(\d)", href).groups())
    assert "1 point(s) + box" in page.locator("#sam-timing").inner_text()  # the peak, and a box round the heat
    assert 0 < x < 600 and 0 < y < 400 and label == 1  # a positive click inside the coffee picture


def test_gan_page_opens_computed_and_the_lab_trains(page, gradio_url):
    page.goto(f"{gradio_url}/gan_latent")
    loaded(page, "gan_latent")
    page.wait_for_function("(document.querySelector('#gan-status')?.innerText || '').includes('Model:')",
                           timeout=90_000)
    page.wait_for_selector("#gan-grid button.thumbnail-item", timeout=30_000)
    assert page.locator("#gan-grid button.thumbnail-item").count() == 16
    assert serious_violations(page) == []  # WCAG 2.1 AA at 1280 px (axe-core; test_access.py)
    compare_screenshot(page, "gradio_gan_latent", mask=[page.locator("#gb-footer")])
    page.get_by_role("tab", name="Interpolate").click()
    page.wait_for_selector("#gan-norms .js-plotly-plot", timeout=30_000)
    assert page.locator("#gan-slerp button.thumbnail-item").count() == 9
    page.get_by_role("tab", name="Attributes").click()
    page.get_by_role("radio", name="hat").check()
    page.wait_for_function("(document.querySelector('#gan-edit-text')?.innerText || '').includes('hat')",
                           timeout=30_000)
    assert "switches it on for" in page.locator("#gan-edit-text").inner_text()
    page.get_by_role("tab", name="GAN Lab lite (2-D)").click()
    page.locator("#gan-lab-step").click()
    page.wait_for_function("(document.querySelector('#gan-lab-text')?.innerText || '').includes('Step 100')",
                           timeout=60_000)
    assert "blobs" in page.locator("#gan-lab-text").inner_text()


def test_gan_numbers_typed_into_a_slider_change_the_picture_not_only_the_link(page, gradio_url):
    """Typing a value into a slider's box and pressing Enter recomputes the view (before, only the link
    followed it, so a link copied then opened another view than the one on screen)."""
    page.goto(f"{gradio_url}/gan_latent")
    loaded(page, "gan_latent")
    page.wait_for_selector("#gan-grid button.thumbnail-item", timeout=60_000)
    first = "document.querySelector('#gan-grid button.thumbnail-item img')?.getAttribute('src')"
    before = page.evaluate(first)
    box = page.locator("#gan-trunc input[type=number]")
    box.fill("0.2")
    box.press("Enter")
    page.wait_for_function(f"{first} && {first} !== {json.dumps(before)}", timeout=60_000)  # new samples
    page.get_by_role("tab", name="Attributes").click()
    box = page.locator("#gan-strength input[type=number]")
    box.fill("-3")
    box.press("Enter")
    page.wait_for_function("(document.querySelector('#gan-edit-text')?.innerText || '').includes('× -3')",
                           timeout=60_000)
    link = "(document.querySelector('#gan_latent-link textarea, #gan_latent-link input')?.value || '')"
    page.wait_for_function(f"{link}.includes('truncation=0.2') && {link}.includes('strength=-3')", timeout=30_000)


def test_a_first_visits_footer_names_the_model_that_made_the_view(page):
    """On a fresh hub (nothing loaded, no warm-up) the footer is filled again once the page's view is computed:
    it names the model that ran instead of saying that none is loaded yet beside the results."""
    import sys

    from conftest import free_port, start_server, stop

    port = free_port()
    proc, log = start_server([sys.executable, "app.py"], port, "glassbox-footer.log", {"GLASSBOX_WARMUP": "0"})
    try:
        page.goto(f"http://127.0.0.1:{port}/attention")
        loaded(page, "attention")
        page.wait_for_function("(document.querySelector('#gb-footer')?.innerText || '').includes('MiniLM')",
                               timeout=30_000)
        assert "none loaded yet" not in page.locator("#gb-footer").inner_text()
    finally:
        stop(proc)
        log.close()


def test_gan_link_follows_the_lesson_step_on_screen(page, gradio_url):
    """A lesson step's link names the step and the strength the page shows, and so does the next step's
    (before, ?lesson=4 showed hat × 2 under a link that said strength=1.5 without the step)."""
    link = "(document.querySelector('#gan_latent-link textarea, #gan_latent-link input')?.value || '')"
    edit = "(document.querySelector('#gan-edit-text')?.innerText || '')"

    def shown_and_linked(attribute: str, step: int) -> None:
        page.wait_for_function(f"{edit}.includes('{attribute} ×') && {link}.includes('lesson={step}')",
                               timeout=60_000)
        strength = re.search(r"× (-?\d+(?:\.\d+)?)", page.evaluate(edit)).group(1)
        page.wait_for_function(f"{link}.includes('attribute={attribute}&strength={strength}&')", timeout=30_000)
        assert page.locator("#gan-strength input[type=number]").input_value() == strength

    page.goto(f"{gradio_url}/gan_latent?lesson=4")
    loaded(page, "gan_latent")
    page.get_by_role("tab", name="Attributes").click()
    shown_and_linked("hat", 4)
    page.locator("#gan_latent-lesson-next").click()
    shown_and_linked("glasses", 5)


def test_sam_shows_a_new_uploads_encode_with_its_time_then_the_hit(page, gradio_url, tmp_path):
    """The first view of a new upload names the encode and its real time (before, the link export encoded it a
    moment earlier and the page said 'cache hit … 0 ms'); the next click reuses it."""
    rng = np.random.default_rng()
    photo = tmp_path / "new-photo.png"  # a picture no one has encoded: random blocks, a new one every run
    Image.fromarray(np.kron(rng.integers(0, 255, (12, 16, 3)), np.ones((40, 40, 1))).astype(np.uint8)).save(photo)
    page.goto(f"{gradio_url}/sam")
    loaded(page, "sam")
    page.wait_for_function("(document.querySelector('#sam-status')?.innerText || '').includes('Best mask')",
                           timeout=90_000)
    page.locator("#sam-upload input[type=file]").set_input_files(str(photo))
    timing = "(document.querySelector('#sam-timing')?.innerText || '')"
    page.wait_for_function(f"{timing}.includes('encoded') && {timing}.includes('1 point(s)')", timeout=60_000)
    text = page.evaluate(timing)
    assert "cache hit" not in text and int(re.search(r"(\d+) ms →", text).group(1)) > 0, text
    gradio_idle(page)
    box = page.locator("#sam-canvas img").bounding_box()
    page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + 0.3 * box["height"])
    page.wait_for_function(f"{timing}.includes('2 point(s)')", timeout=30_000)
    assert "cache hit" in page.evaluate(timing)


def test_sam_scene_lesson_step_scores_the_mask_and_shows_its_seed(page, gradio_url):
    """Lesson step 5 opens scene 8: the status scores the mask against the scene's true masks and the seed box
    says 8 (before: no score, and the box stayed at 0)."""
    page.goto(f"{gradio_url}/sam?lesson=5")
    loaded(page, "sam")
    status = "(document.querySelector('#sam-status')?.innerText || '')"
    page.wait_for_function(f"{status}.includes('IoU')", timeout=90_000)
    assert re.search(r"IoU 0\.[456]\d", page.evaluate(status))  # one click takes both twins
    assert page.get_by_label("Scene seed").input_value() == "8"
    page.locator("#sam-lesson-next").click()
    page.wait_for_function(f"{status}.includes('IoU 1.00')", timeout=60_000)


# Pairs of boxes in a plot's SVG that overlap, of texts and bars (a label on a bar or on its value, an axis
# title on the legend); two bars never count.
_OVERLAPS_JS = """(sel) => {
  const texts = [...document.querySelectorAll(sel + ' svg text')].filter(t => t.textContent.trim())
    .map(t => [t.textContent.trim(), t.getBoundingClientRect()]);
  const bars = [...document.querySelectorAll(sel + ' svg .bars .point path')]
    .map(b => ['bar', b.getBoundingClientRect()]);
  const boxes = [...texts, ...bars].filter(([, r]) => r.width > 0 && r.height > 0);
  const hits = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, p] = boxes[i], [b, q] = boxes[j];
    if (a === 'bar' && b === 'bar') continue;
    const dx = Math.min(p.right, q.right) - Math.max(p.left, q.left);
    const dy = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
    if (dx > 2 && dy > 2) hits.push(a + ' / ' + b);
  }
  return hits;
}"""


def test_clip_plots_keep_their_labels_apart(page, gradio_url):
    """Each label on its own with a winner: the none-of-these line's label sat on the winning bar's value; in
    How CLIP learns the step axis title sat on the legend and the picture's label covered columns 1 to 4."""
    page.goto(f"{gradio_url}/clip_zero_shot?image=cat&mode=independent")
    loaded(page, "clip_zero_shot")
    page.wait_for_function("(document.querySelector('#clip-status')?.innerText || '').includes('fit on their own')",
                           timeout=90_000)
    page.wait_for_selector("#clip-bars .js-plotly-plot .bartext", timeout=30_000)
    assert page.evaluate(_OVERLAPS_JS, "#clip-bars") == []
    page.get_by_role("tab", name="How CLIP learns").click()
    page.wait_for_selector("#clip-learn-loss .js-plotly-plot .legendtext", timeout=30_000)
    assert page.evaluate(_OVERLAPS_JS, "#clip-learn-loss") == []
    assert page.locator("#clip-probe [data-testid=block-label]:not(.sr-only)").count() == 0  # no label on it


def test_a_colour_bar_keeps_its_gradient_when_the_address_changes(page, gradio_url):
    """Plotly names a colour bar's gradient by the page's address; the link rewrites the address on every setting,
    so a matrix drawn before (not redrawn by a threshold move) pointed at another document: a blank colour bar.
    The references follow the address."""
    page.goto(f"{gradio_url}/clip_zero_shot")
    loaded(page, "clip_zero_shot")
    page.wait_for_selector("#clip-matrix .colorbar .cbfill", timeout=90_000)
    gradio_idle(page)
    box = page.locator("#clip-threshold input[type=number]")
    box.fill("0.4")
    box.press("Enter")
    page.wait_for_function("location.href.includes('threshold=0.4')", timeout=30_000)
    page.wait_for_timeout(500)
    fill = page.evaluate("document.querySelector('#clip-matrix .colorbar .cbfill').style.fill")
    here = page.evaluate("location.href.split('#')[0]")
    assert fill.startswith(f'url("{here}#'), fill
    assert page.evaluate(f"!!document.getElementById({json.dumps(fill.split('#')[1][:-2])})")
