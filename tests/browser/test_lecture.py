"""Lecture mode on a 1024 x 768 projector: the first screen is the picture (issue 24).

Each demo's main picture or plot starts in the top half of the screen, its key control (where a demo has one the
lecturer keeps using) sits on the same screen right above it, no plot label is cut off, and axe-core finds no
critical or serious WCAG violation at lecture size. Before: the SAM picture started at y = 660, Grad-CAM's at 441,
attention's at 846, SAM's click mode sat below the results, and plot labels enlarged by CSS were cut off."""

from __future__ import annotations

import pytest
from browser.conftest import (
    CLIPPED_PLOT_TEXT_JS,
    MAIN,
    PROJECTOR,
    compare_screenshot,
    open_computed,
    serious_violations,
)

pytestmark = pytest.mark.browser

_BOXES_JS = """([main, key]) => {
  const box = (e) => {
    if (!e) return null;
    const r = e.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom};
  };
  const picture = document.querySelector(`${main} img, ${main} .js-plotly-plot`);
  return {main: box(picture), key: key ? box(document.querySelector(key)) : null, scrolled: window.scrollY};
}"""

def test_every_built_demo_has_a_first_screen_entry():
    from apps.registry import DEMOS

    assert set(MAIN) == {d.slug for d in DEMOS if d.built}


@pytest.mark.parametrize("slug", list(MAIN))
def test_lecture_mode_opens_on_the_picture(projector, gradio_url, slug):
    main, key = MAIN[slug]
    open_computed(projector, gradio_url, slug, "?lecture=1")
    assert projector.evaluate("document.documentElement.classList.contains('gb-lecture')")
    assert projector.evaluate("document.documentElement.scrollWidth") <= PROJECTOR["width"]  # no sideways scroll
    got = projector.evaluate(_BOXES_JS, [main, key])
    assert got["scrolled"] == 0 and got["main"], got
    assert got["main"]["top"] < PROJECTOR["height"] / 2, got  # the picture starts in the top half
    if key:  # on the first screen, just above the picture
        assert got["key"]["bottom"] <= got["main"]["top"] and got["main"]["top"] - got["key"]["bottom"] < 120, got
    assert projector.evaluate(CLIPPED_PLOT_TEXT_JS) == []
    assert serious_violations(projector) == []
    if slug == "diffusion":  # the golden of a lecture page (Grad-CAM's is in test_classroom.py, beside its sizes)
        compare_screenshot(projector, "gradio_lecture_diffusion", mask=[projector.locator("#gb-footer"),
                                                                        projector.locator("#diff-timing")])
