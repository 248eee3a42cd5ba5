"""Browser fixtures: real hub processes on free loopback ports, Debian's Chromium through Playwright."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import CHROMIUM, CHROMIUM_ARGS, free_port, start_server, stop, streamlit_command

GOLDEN = Path(__file__).parent / "golden"
TAKEN_WITH = GOLDEN / "TAKEN_WITH.json"  # the Chromium the goldens were taken with (make golden writes it)
NEW = Path(__file__).parent / "__screenshots_new__"
VIEWPORT = {"width": 1280, "height": 900}
# Screens differ by anti-aliasing and by the odd live number; a layout or colour change
# moves far more than this.
MEAN_TOLERANCE = 4.0  # mean absolute difference, 0..255
BIG_DIFF_FRACTION = 0.03  # share of pixels allowed to differ by more than 48 levels


def _no_browser(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}. Browser tests are required under CI.")
    pytest.skip(f"{reason} (install it with: sudo apt-get install -y chromium fonts-noto-color-emoji)")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        _no_browser(f"{CHROMIUM} not found")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


PROJECTOR = {"width": 1024, "height": 768}


def _context_page(browser, viewport):
    ctx = browser.new_context(viewport=viewport, device_scale_factor=1)
    pg = ctx.new_page()
    yield pg
    ctx.close()


@pytest.fixture
def page(browser):
    yield from _context_page(browser, VIEWPORT)


@pytest.fixture
def projector(browser):
    """A page the size of a 1024x768 lecture-hall projector."""
    yield from _context_page(browser, PROJECTOR)


@pytest.fixture(scope="session")
def gradio_url():
    port = free_port()
    # Warm-up on, as a lecturer runs it: the first click should not wait for the model.
    proc, log = start_server([sys.executable, "app.py"], port, "glassbox-gradio.log", {"GLASSBOX_WARMUP": "1"})
    yield f"http://127.0.0.1:{port}"
    stop(proc)
    log.close()


@pytest.fixture(scope="session")
def streamlit_url():
    port = free_port()
    proc, log = start_server(streamlit_command(port), port, "glassbox-streamlit.log")
    yield f"http://127.0.0.1:{port}"
    stop(proc)
    log.close()


# A Gradio status tracker that is showing (a spinner or progress over an output) has one of these classes;
# an idle one is hidden. Clicks on an output that is still computing land on its overlay, not on the image.
BUSY_TRACKERS = ".wrap.default:not(.hide), .wrap.center:not(.hide)"


def gradio_idle(page, timeout: int = 90_000) -> None:
    """Wait until every event the last action started has finished (no output shows a spinner)."""
    page.wait_for_timeout(300)  # the queued event has had time to show its tracker
    page.wait_for_function(f"document.querySelectorAll({BUSY_TRACKERS!r}).length === 0", timeout=timeout)


def loaded(page, slug: str) -> None:
    """Wait for a Gradio page's opening view (computed when it loads, the link box filled), so that a click
    after it is not overtaken by the opening."""
    page.wait_for_function(f"(document.querySelector('#{slug}-link textarea, #{slug}-link input')?.value || '')"
                           ".includes('?')", timeout=90_000)


def open_computed(page, gradio_url: str, slug: str, query: str = "") -> None:
    """Open a Gradio page (the landing page for slug "") and wait until its opening view is computed and drawn:
    the pictures painted, the names mended and the plots fitted by the head script."""
    page.goto(f"{gradio_url}/{slug}{query}")
    if slug:
        loaded(page, slug)
    page.wait_for_timeout(1000)


def settle(page) -> None:
    """Wait for a Streamlit script (or fragment) run to finish: Streamlit shows its status widget while running."""
    page.wait_for_timeout(800)
    page.wait_for_selector("[data-testid=stStatusWidget]", state="detached", timeout=90_000)
    page.wait_for_timeout(600)


# Each demo's main picture or plot (the first image or plot inside it is measured), and its key control.
MAIN = {"gradcam": ("#gradcam-overlay-a", None), "fgsm": ("#fgsm-adversarial", "#fgsm-eps"),
        "attention": ("#attention-heatmap", None), "vit_patches": ("#vit-split", None),
        "clip_zero_shot": ("#clip-bars", None), "sam": ("#sam-canvas", "#sam-mode"),
        "gan_latent": ("#gan-grid", None), "diffusion": ("#diff-xt", None)}

# A script listing every text of a visible plot that reaches past the plot's edge (a cut-off label).
CLIPPED_PLOT_TEXT_JS = """() => {
  const out = [];
  document.querySelectorAll('.js-plotly-plot').forEach((gd) => {
    const r = gd.getBoundingClientRect();
    if (!r.width) return;
    gd.querySelectorAll('.main-svg text').forEach((t) => {
      const b = t.getBoundingClientRect();
      if (!b.width || !t.textContent.trim()) return;
      if (b.left < r.left - 1 || b.right > r.right + 1 || b.top < r.top - 1 || b.bottom > r.bottom + 1) {
        out.push(`${gd.closest('[id]')?.id}: ${t.textContent.slice(0, 40)}`);
      }
    });
  });
  return out;
}"""


# WCAG 2.1 A and AA, as axe-core tags them; "experimental" switches on the WCAG rules axe still calls that
# (label-content-name-mismatch, WCAG 2.5.3), and `serious_violations` keeps only rules with a WCAG tag.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def serious_violations(page) -> list[str]:
    """axe-core's critical and serious WCAG 2.1 AA violations on the page as it is now: one line per rule, with
    how many elements break it and the first two of them."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": [*WCAG_TAGS, "experimental"]}, "resultTypes": ["violations"]}
    found = Axe().run(page, options=options).response["violations"]
    return [f"{v['impact']} {v['id']} × {len(v['nodes'])}: "
            + " | ".join(f"{n['target']} {n.get('failureSummary', '')[:160]!r}" for n in v["nodes"][:2])
            for v in found if v["impact"] in ("critical", "serious") and set(v["tags"]) & set(WCAG_TAGS)]


EMOJI_FONTS = ("Noto Color Emoji",)
HEADINGS = "h1, h2, h3, h4, button, label"


def mixed_font_text(page, selector: str = HEADINGS) -> list[str]:
    """Texts that Chromium drew with glyphs from more than one (non-emoji) font.

    A font file missing some letters makes the browser take those from a fallback font: the text
    then mixes shapes and sizes ("Grad-CᴀM"). The DevTools protocol reports, per node, which
    platform fonts actually drew its glyphs, which catches what a pixel tolerance would not.
    """
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        mixed = []
        for node in cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})["nodeIds"]:
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            families = {f["familyName"] for f in fonts if f["familyName"] not in EMOJI_FONTS}
            text_fonts = [f for f in fonts if f["familyName"] not in EMOJI_FONTS]
            # A lone symbol (an arrow on a reset button) may come from a symbol font; letters may not.
            if len(families) > 1 and sum(f["glyphCount"] for f in text_fonts) > 2:
                html = cdp.send("DOM.getOuterHTML", {"nodeId": node})["outerHTML"]
                mixed.append(f"{sorted(families)}: {html[:120]}")
        return mixed
    finally:
        cdp.detach()


def compare_screenshot(page, name: str, mask=()) -> None:
    """Screenshot the viewport and compare with tests/browser/golden/<name>.webp under a tolerance.

    Goldens are lossless WebP: the same pixels as a PNG in about 60% of the bytes. Every screenshot also checks
    that headings, buttons and labels are drawn in one font. GLASSBOX_UPDATE_GOLDEN=1 (make golden) rewrites
    the golden instead.
    """
    mixed = mixed_font_text(page)
    assert not mixed, f"{name}: text drawn from more than one font (a font file lacks glyphs): {mixed}"
    NEW.mkdir(exist_ok=True)
    new_path = NEW / f"{name}.png"
    page.mouse.move(1, 1)  # no hover highlight on whatever was clicked last
    page.wait_for_timeout(300)
    page.screenshot(path=str(new_path), mask=list(mask), mask_color="#ffffff", animations="disabled")
    golden = GOLDEN / f"{name}.webp"
    browser_version = page.context.browser.version if page.context.browser else "unknown"
    if os.environ.get("GLASSBOX_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        Image.open(new_path).convert("RGB").save(golden, "WEBP", lossless=True, method=6)
        TAKEN_WITH.write_text(json.dumps({"chromium": browser_version}, indent=2) + "\n")
        return
    assert golden.exists(), f"no golden {golden.name}: run `make golden`, review and commit it"
    a = np.asarray(Image.open(golden).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(new_path).convert("RGB"), dtype=np.int16)
    assert a.shape == b.shape, f"{name}: size {b.shape} differs from golden {a.shape}"
    diff = np.abs(a - b).max(axis=2)
    mean, big = float(diff.mean()), float((diff > 48).mean())
    taken = json.loads(TAKEN_WITH.read_text()).get("chromium", "?") if TAKEN_WITH.exists() else "?"
    other = (f" The goldens were taken with Chromium {taken}, this is {browser_version}: if only the browser "
             "differs, compare the two images, then `make golden`."
             if taken != "?" and taken.split(".")[0] != browser_version.split(".")[0] else "")
    assert mean <= MEAN_TOLERANCE and big <= BIG_DIFF_FRACTION, (
        f"{name}: screenshot differs from golden (mean {mean:.2f}, {big:.1%} pixels changed a lot); "
        f"see {new_path}. If the change is intended: make golden.{other}")
