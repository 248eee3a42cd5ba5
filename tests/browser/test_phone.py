"""Every page of both hubs on a 390 x 844 phone with touch (issue 24), axe-core's WCAG 2.1 AA check included.

Before: the lesson text was squeezed into a column ~20 px wide (two letters a line), the lecture toggle was cut off,
the page menu wrapped to three rows, buttons, fields and the menu's links were 18-34 px tall, plot titles ran off
the plot, and the GAN's samples were 42 px wide, eight to a row.

A phone page is checked by its geometry, not by a screenshot: the goldens are the desktop views.
"""

from __future__ import annotations

import pytest
from browser.conftest import CLIPPED_PLOT_TEXT_JS, MAIN, open_computed, serious_violations, settle

from apps.registry import DEMOS

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
TAP = 44  # px, the smallest tap target (WCAG 2.5.5)

_LAYOUT_JS = """(main) => {
  const box = (s) => { const e = document.querySelector(s); return e ? e.getBoundingClientRect() : null; };
  const lecture = document.querySelector('.gb-lesson input[type=checkbox]');
  return {scroll: document.documentElement.scrollWidth, text: box('.gb-lesson .prose')?.width ?? 0,
          toggle: lecture ? lecture.closest('label').getBoundingClientRect().right : 0,
          nav: box('.nav-holder')?.height ?? 0, main: main ? box(main)?.width ?? 0 : null};
}"""

# Every visible thing a finger can tap that is smaller than TAP in either direction. A radio or checkbox counts
# by its label (the whole row is the target); a link inside running text is exempt, as WCAG's size rule allows.
_SMALL_TARGETS_JS = """(tap) => {
  const small = [];
  const targets = 'button, a[href], input:not([type=hidden]):not([type=radio]):not([type=checkbox]), select, '
    + 'textarea, [role=tab], label:has(> input[type=radio]), label:has(> input[type=checkbox])';
  document.querySelectorAll(targets).forEach((e) => {
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height || e.closest('[aria-hidden=true]') || getComputedStyle(e).visibility === 'hidden') return;
    if (e.matches('.prose p a, .prose li a')) return;
    if (r.right <= 0 || r.left >= innerWidth || (r.width <= 1 && r.height <= 1)) return;  // off screen or a skip link
    const holder = e.parentElement.getBoundingClientRect();  // an input hidden behind its own widget (a slider's)
    if (holder.width <= 1 && holder.height <= 1) return;
    if (r.width < tap - 0.5 || r.height < tap - 0.5) {
      const name = (e.getAttribute('aria-label') || e.innerText || e.value || '').slice(0, 30);
      small.push(`${e.tagName} "${name}" ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  });
  return small;
}"""


@pytest.fixture
def phone(browser):
    ctx = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=1)
    yield ctx.new_page()
    ctx.close()


PAGES = ["", *(d.slug for d in DEMOS if d.built)]


@pytest.mark.parametrize("slug", PAGES, ids=lambda s: s or "landing")
def test_every_page_fits_a_phone(phone, gradio_url, slug):
    open_computed(phone, gradio_url, slug)
    got = phone.evaluate(_LAYOUT_JS, MAIN[slug][0] if slug else None)
    assert got["scroll"] <= PHONE["width"], got  # no sideways scroll of the page
    assert got["nav"] < 2 * TAP, got  # the page menu is one row (it scrolls sideways)
    if slug:
        assert got["text"] >= 280, got  # the lesson reads in full lines
        assert 0 < got["toggle"] <= PHONE["width"], got  # the lecture toggle is on screen
        assert got["main"] >= 300, got  # the main picture or plot takes the width of the screen
    assert phone.evaluate(_SMALL_TARGETS_JS, TAP) == []
    assert phone.evaluate(CLIPPED_PLOT_TEXT_JS) == []
    assert serious_violations(phone) == []  # WCAG 2.1 AA at phone size too


@pytest.mark.parametrize("slug", PAGES, ids=lambda s: s or "landing")
def test_every_streamlit_page_fits_a_phone(phone, streamlit_url, slug):
    """Before: buttons, fields and page links 28-40 px tall, 16-px heading anchors, a Deploy button."""
    phone.goto(f"{streamlit_url}/{slug}")
    settle(phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert phone.evaluate(_SMALL_TARGETS_JS, TAP) == []
    assert phone.locator("[data-testid=stException]").count() == 0
    assert serious_violations(phone) == []  # WCAG 2.1 AA (axe-core; see test_access.py)
