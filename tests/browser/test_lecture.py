"""Lecture mode on a 1024 x 768 projector: the first screen is the picture (issue 24).

Each demo's main picture or plot starts in the top half of the screen, its key control (where a demo has one the
lecturer keeps using) sits on the same screen right above it, no plot label is cut off, and axe-core finds no
critical or serious WCAG violation at lecture size. Before: the SAM picture started at y = 660, Grad-CAM's at 441,
attention's at 846, SAM's click mode sat below the results, and plot labels enlarged by CSS were cut off."""

from __future__ import annotations

import pytest
from browser.conftest import PROJECTOR, loaded, serious_violations

pytestmark = pytest.mark.browser

# The demo's main picture or plot (the first image or plot inside it is measured), and its key control.
MAIN = {"gradcam": ("#gradcam-overlay-a", None), "fgsm": ("#fgsm-adversarial", "#fgsm-eps"),
        "attention": ("#attention-heatmap", None), "vit_patches": ("#vit-split", None),
        "clip_zero_shot": ("#clip-bars", None), "sam": ("#sam-canvas", "#sam-mode"),
        "gan_latent": ("#gan-grid", None), "diffusion": ("#diff-xt", None)}

_BOXES_JS = """([main, key]) => {
  const box = (e) => {
    if (!e) return null;
    const r = e.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom};
  };
  const picture = document.querySelector(`${main} img, ${main} .js-plotly-plot`);
  return {main: box(picture), key: key ? box(document.querySelector(key)) : null, scrolled: window.scrollY};
}"""

# Every text of every visible plot lies inside its plot (a cut-off label reaches past the edge).
_CLIPPED_JS = """() => {
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


def test_every_built_demo_has_a_first_screen_entry():
    from apps.registry import DEMOS

    assert set(MAIN) == {d.slug for d in DEMOS if d.built}


@pytest.mark.parametrize("slug", list(MAIN))
def test_lecture_mode_opens_on_the_picture(projector, gradio_url, slug):
    main, key = MAIN[slug]
    projector.goto(f"{gradio_url}/{slug}?lecture=1")
    loaded(projector, slug)
    projector.wait_for_timeout(1000)  # the pictures paint and the plots take their lecture size
    got = projector.evaluate(_BOXES_JS, [main, key])
    assert got["scrolled"] == 0 and got["main"], got
    assert got["main"]["top"] < PROJECTOR["height"] / 2, got  # the picture starts in the top half
    if key:  # on the first screen, just above the picture
        assert got["key"]["bottom"] <= got["main"]["top"] and got["main"]["top"] - got["key"]["bottom"] < 120, got
    assert projector.evaluate(_CLIPPED_JS) == []
    assert serious_violations(projector) == []
