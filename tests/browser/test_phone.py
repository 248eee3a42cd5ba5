"""Every Gradio page on a 390 x 844 phone with touch (issue 24 grows this: tap targets, plots, goldens)."""

from __future__ import annotations

import pytest
from browser.conftest import loaded

from apps.registry import DEMOS

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}

_LAYOUT_JS = """() => {
  const box = (s) => { const e = document.querySelector(s); return e ? e.getBoundingClientRect() : null; };
  const lecture = document.querySelector('.gb-lesson input[type=checkbox]');
  return {scroll: document.documentElement.scrollWidth, text: box('.gb-lesson .prose')?.width ?? 0,
          toggle: lecture ? lecture.closest('label').getBoundingClientRect().right : 0,
          nav: box('.nav-holder')?.height ?? 0};
}"""


@pytest.fixture
def phone(browser):
    ctx = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=1)
    yield ctx.new_page()
    ctx.close()


@pytest.mark.parametrize("slug", [d.slug for d in DEMOS if d.built])
def test_the_lesson_bar_and_the_page_menu_fit_a_phone(phone, gradio_url, slug):
    """Before: the lesson text was squeezed into a column ~20 px wide (two letters a line), the lecture toggle was
    cut off at the right edge and the page menu wrapped to three rows."""
    phone.goto(f"{gradio_url}/{slug}")
    loaded(phone, slug)
    got = phone.evaluate(_LAYOUT_JS)
    assert got["scroll"] <= PHONE["width"], got  # no sideways scroll of the page
    assert got["text"] >= 280, got  # the lesson reads in full lines
    assert 0 < got["toggle"] <= PHONE["width"], got  # the lecture toggle is on screen
    assert got["nav"] <= 60, got  # the page menu is one row (it scrolls sideways)
