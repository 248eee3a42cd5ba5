"""The Streamlit hub in Chromium: every page on its default example, thumbnails, clicks on pictures,
scrubbing in a fragment, drawing with the lasso, and an error that keeps the last result."""

from __future__ import annotations

import math
import time

import pytest
from browser.conftest import compare_screenshot, settle

pytestmark = pytest.mark.browser


def click_on_picture(page, key: str, fx: float, fy: float) -> None:
    """Click at a fraction (fx, fy) of a clickable picture (a plotly chart keyed `key`)."""
    picture = page.locator(f".st-key-{key} .js-plotly-plot image").first
    picture.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box = picture.bounding_box()
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


def test_streamlit_home(page, streamlit_url):
    page.goto(streamlit_url)
    page.get_by_text("Glassbox", exact=False).first.wait_for(timeout=60_000)
    from apps.registry import DEMOS

    page.get_by_role("link", name="Open").first.wait_for()
    assert page.get_by_role("link", name="Open").count() == sum(d.built for d in DEMOS)
    assert page.get_by_text("coming soon").count() == sum(not d.built for d in DEMOS)
    assert page.locator("[data-testid=stException]").count() == 0


def test_streamlit_gradcam(page, streamlit_url):
    page.goto(f"{streamlit_url}/gradcam")
    page.get_by_text("Explaining").wait_for(timeout=90_000)
    page.get_by_text("Grad-CAM++ · Egyptian cat").wait_for(timeout=60_000)
    settle(page)
    page.wait_for_timeout(800)  # the chart and images finish painting
    body = page.locator("body").inner_text()
    assert "Egyptian cat" in body and "EfficientNet-Lite0" in body
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.locator("[data-testid=stAlert]").count() == 0
    compare_screenshot(page, "streamlit_gradcam", mask=[page.locator(".st-key-gc-timing")])


def test_streamlit_fgsm(page, streamlit_url):
    page.goto(f"{streamlit_url}/fgsm")
    page.get_by_text("Grad-CAM after").wait_for(timeout=90_000)
    settle(page)
    page.wait_for_timeout(800)
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
    settle(page)
    # The text arrives before the widgets and charts are drawn: wait for the two clickable pictures.
    page.wait_for_selector(".st-key-vit_pick_sheet .js-plotly-plot image", timeout=60_000)
    page.wait_for_selector(".st-key-vit_grid .js-plotly-plot image", timeout=60_000)
    page.wait_for_timeout(800)
    assert page.locator("[data-testid=stException]").count() == 0
    compare_screenshot(page, "streamlit_vit_patches")


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


def test_streamlit_thumbnails_pick_a_sample_and_an_error_keeps_the_page(page, streamlit_url, tmp_path):
    page.goto(f"{streamlit_url}/gradcam")
    page.get_by_text("Explaining").wait_for(timeout=90_000)
    settle(page)
    page.get_by_role("button", name="coffee", exact=True).click()
    page.get_by_text("Explaining espresso").wait_for(timeout=90_000)
    settle(page)
    bad = tmp_path / "holiday.png"
    bad.write_text("not really a png")
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(bad))
    page.locator("[data-testid=stAlert]").filter(has_text="not an image").wait_for(timeout=60_000)
    settle(page)
    body = page.locator("body").inner_text()
    assert "Explaining espresso" in body  # the last good result stays beside the message
    assert "How Grad-CAM works" in body and "Device:" in body  # explainer and footer still there
    assert page.locator("[data-testid=stException]").count() == 0


def test_streamlit_clicks_on_patches_and_heads(page, streamlit_url):
    page.goto(f"{streamlit_url}/vit_patches")
    page.get_by_text("The model's patch grid").wait_for(timeout=90_000)
    settle(page)
    for fx, fy, text in ((1.5 / 8, 0.5 / 8, "Patch 1 (row 0, col 1)"), (7.9 / 8, 7.9 / 8, "Patch 63 (row 7, col 7)"),
                         (3.1 / 8, 5.9 / 8, "Patch 43 (row 5, col 3)")):  # near corners too: no dead or wrong spots
        click_on_picture(page, "vit_grid", fx, fy)
        page.get_by_text(text).wait_for(timeout=30_000)
        settle(page)
    before = page.locator("body").inner_text()
    click_on_picture(page, "vit_pick_sheet", 2.5 / 4, 1.5 / 2)  # the seventh test image
    settle(page)
    assert page.locator("body").inner_text() != before and page.locator("[data-testid=stException]").count() == 0
    page.get_by_role("tab", name="Positions").click()
    click_on_picture(page, "vit_pos_grid", 2.5 / 8, 3.5 / 8)  # the tile of position (3, 2)
    page.get_by_text("Position (3, 2) vs every position").wait_for(timeout=30_000)

    from apps.attention import logic

    page.goto(f"{streamlit_url}/attention")
    page.get_by_text("14 tokens").wait_for(timeout=90_000)
    settle(page)
    page.get_by_role("tab", name="Model view").click()
    left, top = logic.GRID_MARGIN
    width, height = left + 12 * logic.GRID_CELL, top + 6 * logic.GRID_CELL
    click_on_picture(page, "at_sheet", (left + 4.5 * logic.GRID_CELL) / width, (top + 3.5 * logic.GRID_CELL) / height)
    settle(page)
    assert page.locator(".st-key-at_head input").input_value() == "head 4"
    page.get_by_role("tab", name="Heatmap").click()
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot .gtitle'))"
                           ".some(t => t.textContent.startsWith('Layer 3, head 4'))", timeout=30_000)


def test_streamlit_diffusion_scrubs_in_a_fragment_and_draws_with_the_lasso(page, streamlit_url):
    page.goto(f"{streamlit_url}/diffusion")
    page.get_by_text("DDIM 50 steps").first.wait_for(timeout=90_000)
    page.get_by_text("x_t at t = 0", exact=True).wait_for(timeout=90_000)  # the finished run, last step
    settle(page)
    slider = page.locator(".st-key-diff_step input[type=range]")
    slider.focus()
    t0 = time.perf_counter()
    for _ in range(10):
        slider.press("ArrowLeft")
    page.wait_for_function("() => Array.from(document.querySelectorAll('[data-testid=stImageCaption]'))"
                           ".some(e => e.innerText === 'x_t at t = 200')", timeout=30_000)
    # Ten steps of scrubbing: look-ups in a fragment, not ten runs of the page (which took 4.4 s).
    assert time.perf_counter() - t0 < 4.0

    page.get_by_role("tab", name="Forward process").click()
    seed = page.locator(".st-key-fwd_seed input")
    seed.fill("7")
    seed.press("Enter")
    settle(page)

    page.get_by_role("tab", name="2-D toy").click()
    canvas = page.locator(".st-key-toy_canvas .js-plotly-plot .nsewdrag").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"]) * 0.3
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    for k in range(1, 41):  # a circle, drawn with the lasso
        a = 2 * math.pi * k / 40
        page.mouse.move(cx + r * math.cos(a), cy + r * math.sin(a), steps=2)
    page.mouse.up()
    settle(page)
    lines = page.locator(".st-key-toy_pts textarea").input_value().splitlines()
    points = [[float(v) for v in line.split(",")] for line in lines]
    assert len(points) >= 50
    radii = [math.hypot(x - sum(p[0] for p in points) / len(points), y - sum(p[1] for p in points) / len(points))
             for x, y in points]
    assert max(radii) < 1.3 * min(radii)  # the outline of a circle, evenly spaced
    chosen = page.locator(".st-key-toy_set label").filter(has=page.locator("input:checked"))
    assert chosen.inner_text().startswith("your points")  # the drawing switched the data to it
    assert page.locator("[data-testid=stException]").count() == 0


def test_streamlit_clip(page, streamlit_url):
    page.goto(f"{streamlit_url}/clip_zero_shot")
    page.get_by_text("Best label:").wait_for(timeout=90_000)
    settle(page)
    body = page.locator("body").inner_text()
    assert "Best label: a cat" in body and "not CLIP" in body
    assert page.locator("[data-testid=stException]").count() == 0
    compare_screenshot(page, "streamlit_clip_zero_shot")
    page.get_by_role("tab", name="How CLIP learns").click()
    page.get_by_text("A tiny CLIP trained here in").wait_for(timeout=30_000)
    settle(page)
    assert page.locator("[data-testid=stException]").count() == 0


def test_streamlit_clip_links_to_gradcam_on_the_same_image(page, streamlit_url):
    page.goto(f"{streamlit_url}/clip_zero_shot")
    page.get_by_text("Best label:").wait_for(timeout=90_000)
    settle(page)
    page.get_by_role("button", name="coffee", exact=True).click()
    page.get_by_text("Best label: a cup of coffee").wait_for(timeout=60_000)
    settle(page)
    page.get_by_role("link", name="Where does the classifier look?").click()
    page.get_by_text("Explaining espresso").wait_for(timeout=90_000)
    assert "image=coffee" in page.url


def test_streamlit_sam_clicks_on_the_picture(page, streamlit_url):
    page.goto(f"{streamlit_url}/sam")
    page.get_by_text("Encode:").wait_for(timeout=90_000)  # opens on the coffee, one click computed
    settle(page)
    body = page.locator("body").inner_text()
    assert "not SAM" in body and "1 point(s)" in body
    assert page.locator("[data-testid=stException]").count() == 0
    compare_screenshot(page, "streamlit_sam")
    # the three Choose buttons in one row (#1 sat lower, under a longer caption)
    tops = {round(page.get_by_role("button", name=f"Choose #{i}").bounding_box()["y"]) for i in (1, 2, 3)}
    assert len(tops) == 1, tops
    page.get_by_text("➖ leave out (negative)").click()
    settle(page)
    click_on_picture(page, "sam_canvas", 0.5, 0.12)  # a negative click on the table above the cup
    page.get_by_text("2 point(s)").wait_for(timeout=30_000)
    assert "cache hit" in page.locator("body").inner_text()  # the second click reused the encoding
    page.get_by_role("button", name="Undo").click()
    page.get_by_text("1 point(s)").wait_for(timeout=30_000)


def test_streamlit_gradcam_links_to_sam_at_the_heat_peak(page, streamlit_url):
    page.goto(f"{streamlit_url}/gradcam?image=coffee")
    page.get_by_text("Explaining espresso").wait_for(timeout=90_000)
    settle(page)
    page.get_by_role("link", name="Segment what the network looks at").click()
    page.get_by_text("Encode:").wait_for(timeout=90_000)
    assert "image=coffee" in page.url and "prompt=" in page.url
    assert "1 point(s) + box" in page.locator("body").inner_text()  # the link's click and box, not the default
    assert page.locator("[data-testid=stException]").count() == 0


def test_streamlit_gan(page, streamlit_url):
    page.goto(f"{streamlit_url}/gan_latent")
    page.get_by_text("seed 15").wait_for(timeout=90_000)
    settle(page)
    assert page.locator("[data-testid=stException]").count() == 0
    compare_screenshot(page, "streamlit_gan_latent")
    page.get_by_role("tab", name="GAN Lab lite (2-D)").click()
    page.get_by_role("button", name="Step (+100)").click()
    settle(page)
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot .gtitle'))"
                           ".some(t => t.textContent.includes('step 100'))", timeout=60_000)
    assert page.locator("[data-testid=stException]").count() == 0
