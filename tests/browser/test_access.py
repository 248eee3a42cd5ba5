"""Every page of both hubs against WCAG 2.1 AA, as axe-core (pinned in requirements-test.txt) measures it once the
page has computed its opening example: no critical and no serious violation. axe runs once per (page, viewport),
on the pages the other browser tests open anyway: the Gradio hub at 1280 px right before each desktop golden
(test_gradio_hub.py), both hubs on a 390-px phone (test_phone.py) and the Gradio demos in lecture mode at
1024x768 (test_lecture.py). This file checks that none of those is dropped.

Before (axe-core 4, same tags): Gradio 0-5 critical and 12-28 serious per page (the page menu at 1.9:1, white on
orange buttons at 2.8:1, unnamed image buttons, thumbnails named "Thumbnail 1 of 16" under a visible caption);
Streamlit 6-16 images without alt text on a page and captions at 3.9:1."""

from __future__ import annotations

import re
from pathlib import Path

from apps.registry import DEMOS

HERE = Path(__file__).parent
BUILT = [d.slug for d in DEMOS if d.built]


def test_every_desktop_golden_of_the_gradio_hub_is_checked_by_axe_first():
    source = (HERE / "test_gradio_hub.py").read_text()
    axe_then_golden = r"assert serious_violations\(page\) == \[\][^\n]*\n\s+compare_screenshot\(page, \"gradio_(\w+)\""
    checked = re.findall(axe_then_golden, source)
    assert sorted(checked) == sorted(["home", *BUILT]), checked


def test_phone_and_lecture_checks_cover_every_page():
    phone = (HERE / "test_phone.py").read_text()
    assert phone.count("assert serious_violations(phone) == []") == 2  # the Gradio and the Streamlit hub
    assert 'PAGES = ["", *(d.slug for d in DEMOS if d.built)]' in phone
    lecture = (HERE / "test_lecture.py").read_text()
    assert "assert serious_violations(projector) == []" in lecture and '@pytest.mark.parametrize("slug", list(MAIN))' \
        in lecture
