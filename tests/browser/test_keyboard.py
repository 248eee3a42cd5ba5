"""Three demos walked by keyboard alone (issue 24): Tab to a control, arrows and Enter to use it, and every stop on
the way shows where the focus is. Before: radios ignored the arrow keys (each option had a name of its own), the
clickable pictures could not be clicked without a mouse, and checkboxes and radios showed no focus at all."""

from __future__ import annotations

import re

import pytest
from browser.conftest import loaded, settle
from browser.test_classroom import st_link

pytestmark = pytest.mark.browser

# What the focused element looks like: its selector-ish name and whether a focus ring of 2 px or more is drawn.
_FOCUS_JS = """() => {
  const e = document.activeElement;
  const s = getComputedStyle(e);
  const ring = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  return {tag: e.tagName, text: (e.getAttribute('aria-label') || e.innerText || e.value || '').slice(0, 40), ring};
}"""


def tab_to(page, selector: str, backwards: bool = False, limit: int = 120, text: str = "") -> list[dict]:
    """Press Tab (or Shift+Tab) until the focus is on `selector` (showing `text`); every stop on the way, with its
    focus ring."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        stops.append(page.evaluate(_FOCUS_JS))
        if page.evaluate("([s, t]) => document.activeElement.matches(s) && document.activeElement.innerText"
                         ".includes(t)", [selector, text]):
            return stops
    raise AssertionError(f"{selector} never took the focus; stops: {stops[-10:]}")


def unringed(stops: list[dict]) -> list[dict]:
    return [s for s in stops if not s["ring"] and s["tag"] != "BODY"]


def link(page, slug: str) -> str:
    return page.locator(f"#{slug}-link textarea, #{slug}-link input").first.input_value()


def wait_link(page, slug: str, pattern: str) -> str:
    page.wait_for_function(f"(document.querySelector('#{slug}-link textarea, #{slug}-link input')?.value || '')"
                           f".match({pattern!r})", timeout=60_000)
    return link(page, slug)


def test_sam_by_keyboard_alone(page, gradio_url):
    page.goto(f"{gradio_url}/sam")
    loaded(page, "sam")
    before = re.search(r"prompt=([^&]*)", link(page, "sam")).group(1)
    stops = tab_to(page, "#sam-canvas .image-container > button")
    for key in ["ArrowLeft"] * 5 + ["Shift+ArrowUp"]:  # aim: 10% left, then 10% up (Shift moves 5x further)
        page.keyboard.press(key)
    assert "40% across, 40% down" in page.evaluate("document.activeElement.getAttribute('aria-description')")
    page.keyboard.press("Enter")
    added = wait_link(page, "sam", rf"prompt={re.escape(before)}(%3B|;)\d+,\d+,1")
    # The click mode is a radio group: back to it, one arrow to "leave out", then a negative click.
    stops += tab_to(page, "#sam-mode input[type=radio]", backwards=True)
    page.keyboard.press("ArrowRight")
    assert page.locator("#sam-mode input[value=neg]").is_checked()
    stops += tab_to(page, "#sam-canvas .image-container > button")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    assert re.search(r",0(&|$)", wait_link(page, "sam", r"\d+,0(&|$)")), added
    assert unringed(stops) == []


def test_clip_by_keyboard_alone(page, gradio_url):
    page.goto(f"{gradio_url}/clip_zero_shot")
    loaded(page, "clip_zero_shot")
    stops = tab_to(page, "input[type=radio][value=softmax]")
    page.keyboard.press("ArrowDown")  # before: the arrow did nothing
    wait_link(page, "clip_zero_shot", "mode=independent")
    stops += tab_to(page, "button.thumbnail-item[aria-label^=coffee]", backwards=True)  # the sample gallery
    page.keyboard.press("Enter")
    wait_link(page, "clip_zero_shot", "image=coffee")
    assert unringed(stops) == []


def test_vit_patch_grid_by_keyboard_alone(page, gradio_url):
    page.goto(f"{gradio_url}/vit_patches")
    loaded(page, "vit_patches")
    stops = tab_to(page, "#vit-split .image-container > button")
    for key in ["Shift+ArrowLeft", "Shift+ArrowLeft", "Shift+ArrowUp", "Shift+ArrowUp"]:
        page.keyboard.press(key)
    page.keyboard.press("Enter")  # aimed at 30% across, 30% down: a patch in the upper left, not the middle one
    patch = int(re.search(r"patch=(\d+)", wait_link(page, "vit_patches", r"patch=(?!32\b)\d+")).group(1))
    assert 0 <= patch < 32
    assert unringed(stops) == []


def test_streamlit_sam_clicks_by_keyboard(page, streamlit_url):
    """Streamlit's clickable picture is a plotly chart that no key can click: the page takes a typed point."""
    page.goto(f"{streamlit_url}/sam")
    settle(page)
    stops = tab_to(page, "summary", text="Click without a mouse")
    page.keyboard.press("Enter")
    stops += tab_to(page, "input[aria-label^='x (pixels']")
    page.keyboard.type("100")
    stops += tab_to(page, "input[aria-label^='y (pixels']")
    page.keyboard.type("50")
    settle(page)
    stops += tab_to(page, "button", text="Click there")
    page.keyboard.press("Enter")
    settle(page)
    assert "100,50,1" in st_link(page)
    assert unringed(stops) == []
