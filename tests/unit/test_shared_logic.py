"""What both hubs share, written once: SAM's prompt editing and scene names, GAN Lab's stepping, a page's named
outputs, and the one way a demo runs its model."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from apps.sam import editing, scenes


def test_a_click_adds_a_point_and_two_corner_clicks_make_a_box():
    p = editing.empty()
    p, refused = editing.click(p, 10, 20, "pos")
    p, _ = editing.click(p, 30, 40, "neg")
    assert refused is None and p["points"] == [(10, 20, 1), (30, 40, 0)]
    p, _ = editing.click(p, 200, 50, "box")  # the first corner...
    assert p["corner"] == (200, 50) and p["box"] is None
    p, _ = editing.click(p, 100, 150, "box")  # ...then the opposite one, in any order
    assert p["box"] == (100, 50, 200, 150) and p["corner"] is None


def test_a_thin_box_is_refused_and_the_prompt_stays_as_it_was():
    half = editing.click(editing.empty(), 100, 100, "box")[0]
    after, refused = editing.click(half, 101, 180, "box")  # one pixel wide: a slip of the mouse
    assert refused == editing.THIN_BOX and after == half and after is not half
    assert half["corner"] == (100, 100)  # the caller's prompt is never changed in place


def test_undo_takes_back_a_corner_then_the_last_click_then_the_box():
    p = {"points": [(1, 2, 1), (3, 4, 0)], "box": (0, 0, 9, 9), "corner": (5, 5)}
    p = editing.undo(p)
    assert p["corner"] is None and len(p["points"]) == 2
    p = editing.undo(editing.undo(p))
    assert p["points"] == [] and p["box"] == (0, 0, 9, 9)
    assert editing.is_empty(editing.undo(p))


def test_a_prompt_round_trips_through_a_link():
    p = {"points": [(120.0, 80.0, 1), (10.5, 3.0, 0)], "box": (1.0, 2.0, 30.0, 40.0), "corner": None}
    assert editing.from_link(editing.to_link(p)) == p


@pytest.mark.parametrize("name, seed", [("scene:7", 7), ("scene-7", 7), ("scene-0", 0), ("cat", None),
                                        ("scene-x", None), (f"scene-{2**31}", None), (None, None)])
def test_scene_names_are_read_in_one_place(name, seed):
    assert scenes.seed_of(name) == seed
    if seed is not None:
        assert scenes.seed_of(scenes.source_name(seed)) == scenes.seed_of(scenes.link_name(seed)) == seed


def test_the_lab_steps_and_plays_up_to_its_limit(monkeypatch):
    from apps.gan_latent import lab

    monkeypatch.setattr(lab, "MAX_STEPS", 30)
    run = lab.current(None, "standard", 0)
    assert lab.current(run, "standard", 0) is run and lab.current(run, "standard", 1) is not run
    lab.step(run, 20)
    assert run.step == 20
    chunks = list(lab.play(run))  # a play stops at MAX_STEPS, whatever is left of it
    assert run.step == 30 and chunks and chunks[-1][1] == lab.PLAY_CHUNKS
    assert lab.step(run).step == 30
    assert f"Step {run.step}" in lab.status_text(run)


def test_outputs_are_set_by_name_and_a_wrong_name_fails_at_once():
    from apps.gradio_common.widgets import Outputs

    a, b = object(), object()
    outs = Outputs(status=a, grid=b)
    assert outs.list() == [a, b] and outs.list("grid") == [b]

    def handler(x, evt=None) -> dict:
        return {"grid": x}

    def stream(x):
        yield {"status": x}
        yield {"grid": x}

    assert outs.fn(handler)(1) == {b: 1}  # the others are left as they were
    assert list(outs.fn(stream)(2)) == [{a: 2}, {b: 2}] and inspect.isgeneratorfunction(outs.fn(stream))
    assert inspect.signature(outs.fn(handler)) == inspect.signature(handler)  # Gradio reads it
    with pytest.raises(KeyError, match="grib"):
        outs.keyed({"grib": 1})


def test_run_noted_puts_the_callers_notes_and_the_gpu_notice_first():
    from dataclasses import dataclass, field

    from core import device

    @dataclass
    class Result:
        notices: list[str] = field(default_factory=list)

    r = device.run_noted(lambda dev: Result(["the model's own", ""]), "cpu", ("steps capped", "the model's own"))
    assert r.notices == ["steps capped", "the model's own"]


def test_peek_looks_up_a_loaded_model_and_never_loads_one():
    from core import lane, models

    models.clear_cache()
    assert models.peek("tiny_clip") is None and models.loaded_names() == []  # a miss loads nothing
    loaded = lane.run(lambda: models.load("tiny_clip", "cpu"))
    assert models.peek("tiny_clip") is loaded


# --- exports meant for slides ----------------------------------------------------------------------------------

def _first_text_line_height(region: np.ndarray) -> int:
    """Rows spanned by the first run of rows with dark pixels (a line of text) in an HWC picture region."""
    dark = (region.min(axis=2) < 100).any(axis=1)  # (H,) rows with ink
    rows = np.flatnonzero(dark)
    if not len(rows):
        return 0
    end = rows[0]
    while end + 1 < len(dark) and dark[end + 1]:
        end += 1
    return int(end - rows[0] + 1)


def test_every_slide_export_is_1600_wide_with_text_at_least_24_pixels():
    """Before, the CLIP PNG was 660 x 224 with 10-pixel text, and the Grad-CAM, FGSM and attention sheets used
    the same 10-pixel font. A 24-pixel font spans about 20 rows from cap to descender; the old one 11."""
    import io

    from PIL import Image

    from apps.attention import logic as attention
    from apps.clip_zero_shot import logic as clip
    from apps.fgsm import logic as fgsm
    from apps.gradcam import logic as gradcam
    from core import vision

    cat = vision.SAMPLES["cat"]
    r = clip.classify(cat, clip.DEFAULT_LABELS)
    sheets = {
        "clip": (clip.result_png(r), lambda a: a[:60, 600:]),  # the title line, right of the picture
        "fgsm": (fgsm.compare_png(fgsm.attack(cat, epsilon=2)), lambda a: a[:60]),  # the captions' band
        "gradcam": (gradcam.compare_png([gradcam.explain(cat)]), lambda a: a[:60]),
        "attention": (attention.heatmap_png(attention.attend(list(attention.PRESETS.values())[0], "minilm"), 3, 1),
                      lambda a: a[-60:]),  # the line under the map
    }
    for name, (png, text_region) in sheets.items():
        arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        assert arr.shape[1] >= 1600, (name, arr.shape)
        assert _first_text_line_height(text_region(arr)) >= 18, name
