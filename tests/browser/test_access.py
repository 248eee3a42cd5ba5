"""Every page of both hubs against WCAG 2.1 AA, as axe-core (pinned in requirements-test.txt) measures it once the
page has computed its opening example: no critical and no serious violation. Here the Gradio hub at 1280 px; the
same check runs on both hubs at phone size (test_phone.py) and on the Gradio demos in lecture mode
(test_lecture.py), on the pages those tests open anyway.

Before (axe-core 4, same tags): Gradio 0-5 critical and 12-28 serious per page (the page menu at 1.9:1, white on
orange buttons at 2.8:1, unnamed image buttons, thumbnails named "Thumbnail 1 of 16" under a visible caption);
Streamlit 6-16 images without alt text on a page and captions at 3.9:1."""

from __future__ import annotations

import pytest
from browser.conftest import open_computed, serious_violations

from apps.registry import DEMOS

pytestmark = pytest.mark.browser
PAGES = ["", *(d.slug for d in DEMOS if d.built)]


@pytest.mark.parametrize("slug", PAGES, ids=lambda s: s or "landing")
def test_gradio_page_meets_wcag_aa(page, gradio_url, slug):
    open_computed(page, gradio_url, slug)
    assert serious_violations(page) == []
