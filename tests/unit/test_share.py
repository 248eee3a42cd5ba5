"""Links that reproduce a view (core.share) and every demo's settings, lesson and export names."""

from __future__ import annotations

from urllib.parse import parse_qsl

import numpy as np
import pytest

from apps import registry
from apps.registry import DEMOS
from core import images, share, vision

# Numbers from models: run again under another CPU kernel set (scripts/dev.sh).
pytestmark = pytest.mark.kernels

VIEWS = {d.slug: registry.view(d.slug) for d in DEMOS if d.built}


def query_dict(url: str) -> dict:
    return dict(parse_qsl(url.split("?", 1)[1], keep_blank_values=True))


def test_every_built_demo_declares_its_settings_and_a_lesson():
    assert set(VIEWS) == {d.slug for d in DEMOS if d.built}
    for slug, view in VIEWS.items():
        assert view.slug == slug
        assert 3 <= len(view.lesson) <= 6, slug
        assert len(set(view.names)) == len(view.names), slug
        assert not set(view.names) & set(share.RESERVED), slug


@pytest.mark.parametrize("slug", sorted(VIEWS))
def test_defaults_and_every_lesson_step_survive_a_round_trip_through_a_link(slug):
    view = VIEWS[slug]
    for values in [view.defaults()] + [view.beat_values(i) for i in range(len(view.lesson))]:
        url = view.url(values)
        assert url.startswith(f"/{slug}?")
        back, notices = view.parse(query_dict(url))
        assert notices == [], (slug, notices)
        assert back == values, slug


@pytest.mark.parametrize("slug", sorted(VIEWS))
def test_a_lesson_step_link_names_its_step_and_opens_it(slug):
    view = VIEWS[slug]
    last = len(view.lesson) - 1
    q = query_dict(view.url(view.beat_values(last), lecture=True, beat=last + 1))
    assert view.beat_index(q) == last and share.lecture_on(q)
    assert view.current_beat(view.beat_values(last), last) == last
    assert view.beat_index({"lesson": "0"}) is None and view.beat_index({"lesson": "99"}) is None
    assert view.lesson_text(last).startswith(f"📖 **Step {last + 1} of {last + 1}:")


def test_bad_and_stale_values_fall_back_to_defaults_with_a_notice():
    view = VIEWS["fgsm"]
    values, notices = view.parse({"epsilon": "999", "steps": "2.5", "model": "../../etc/passwd", "image": "dog",
                                  "attack": "pgd", "unknown": "x", "lecture": "1"})
    d = view.defaults()
    assert values == {**d, "attack": "pgd"}
    assert len(notices) == 4 and all("showing the default" in n for n in notices)
    assert any("epsilon='999'" in n and "from 0 to 32" in n for n in notices)
    values, notices = view.parse({"epsilon": "nan"})
    assert values["epsilon"] == d["epsilon"] and notices
    # An image handed over by another page and then forgotten by the server: the default, said so.
    values, notices = VIEWS["gradcam"].parse({"image": "adv-000000000000"})
    assert values["image"] == "cat" and "adv-000000000000" in notices[0]


def test_a_gradcam_link_can_name_an_image_another_page_handed_over():
    rgb = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    key = share.SHELF.put(rgb, "adv")
    values, notices = VIEWS["gradcam"].parse({"image": key})
    assert notices == [] and values["image"] == key
    assert np.array_equal(share.SHELF.get(key), rgb)


def test_the_shelf_keeps_only_its_newest_images():
    shelf = share.Shelf(size=3)
    keys = [shelf.put(np.full((4, 4, 3), i, np.uint8), "t") for i in range(5)]
    assert shelf.keys() == keys[2:] and shelf.get(keys[0]) is None
    assert shelf.put(np.full((4, 4, 3), 4, np.uint8), "t") == keys[4]  # a content key: the same pixels, one entry
    assert len(shelf.keys()) == 3


def test_an_uploaded_copy_of_a_gallery_image_is_recognised_and_anything_else_is_not():
    rgb = images.load_image(vision.SAMPLES["coffee"])
    assert share.sample_name(rgb) == "coffee"
    assert share.sample_name(rgb[:, :-1]) is None
    assert share.sample_name(None) is None


def test_settings_a_link_cannot_hold_are_left_out_and_said_so():
    view = VIEWS["clip_zero_shot"]
    values = {**view.defaults(), "image": None}
    assert "image=" not in view.url(values)
    assert view.missing_notes(values) == [share.UPLOAD_NOTE]
    assert view.missing_notes(view.defaults()) == []


def test_sam_prompts_in_links_are_normalised_and_checked():
    from apps.sam import logic

    assert logic.parse_prompt("10,20,1;30.04,40,0;1,2,50,60") == ([(10, 20, 1), (30.0, 40, 0)], (1, 2, 50, 60))
    assert logic.format_prompt([(10.0, 20.0, 1)], (1, 2, 50, 60)) == "10,20,1;1,2,50,60"
    for bad in ("10,20", "10,20,2", "1,2,3,4;5,6,7,8", "a,b,1", "nan,1,1"):
        with pytest.raises(ValueError):
            logic.parse_prompt(bad)
    values, notices = VIEWS["sam"].parse({"prompt": "10,20,7", "image": "scene-12"})
    assert values["image"] == "scene-12" and values["prompt"] == "" and len(notices) == 1


def test_export_names_say_demo_model_and_settings_and_differ_per_view():
    view = VIEWS["fgsm"]
    a = share.export_name("fgsm", view.defaults(), ".json")
    b = share.export_name("fgsm", {**view.defaults(), "epsilon": 1.0}, ".json")
    assert a.startswith("fgsm-efficientnet_lite0-coffee-fgsm-4") and a.endswith(".json") and a != b
    assert "/" not in share.export_name("attention", VIEWS["attention"].defaults(), ".png")


def test_an_export_document_holds_the_link_settings_and_results():
    import json

    view = VIEWS["diffusion"]
    doc = json.loads(share.export_doc(view, view.defaults(), True, {"model": "ddpm_digits", "arr": np.arange(3),
                                                                     "img": "data:image/png;base64,xx"}))
    assert doc["demo"] == "diffusion" and doc["share_url"] == view.url(view.defaults(), True)
    assert doc["settings"] == view.defaults() and doc["arr"] == [0, 1, 2] and "PNG" not in doc["img"]


def test_an_export_whose_results_fail_still_downloads_with_the_error():
    import json

    view = VIEWS["fgsm"]

    def record():
        raise RuntimeError("model gone")

    doc = json.loads(share.export_view(view, view.defaults(), False, record))
    assert doc["settings"] == view.defaults() and doc["error"] == "model gone"
    ok = json.loads(share.export_view(view, view.defaults(), False, lambda: {"model": "m"}))
    assert ok["model"] == "m" and "error" not in ok


# --- each lesson says what the offline model really does -------------------------------------------------

def test_fgsm_lesson_half_a_grey_level_holds_and_one_flips():
    from apps.fgsm import logic

    v = VIEWS["fgsm"]
    half, one, pgd, targeted = (v.beat_values(i) for i in range(4))
    run = lambda s: logic.attack(logic.SAMPLES[s["image"]], s["model"], s["epsilon"], s["attack"], s["steps"],  # noqa: E731
                                 s["target"] or None)
    assert not run(half).flipped
    r1 = run(one)
    assert r1.flipped and r1.orig_top5[0]["label"] == "espresso"
    assert run(pgd).adv_top5[0]["prob"] > r1.adv_top5[0]["prob"]
    assert run(targeted).adv_top5[0]["label"] == "goldfish"


def test_gradcam_lesson_the_absent_class_scores_almost_nothing():
    from apps.gradcam import logic

    s = VIEWS["gradcam"].beat_values(2)
    r = logic.explain(logic.SAMPLES[s["image"]], s["model"], s["method"], s["target"])
    assert r.target["label"] == "washbasin" and r.cam.max() > 0.99  # normalised to full brightness all the same
    first = logic.explain(logic.SAMPLES["cat"])
    assert first.top5[0]["label"] == "Egyptian cat"
    assert [t["prob"] for t in first.top5 if t["label"] == "washbasin"][0] < 0.01


def test_gradcam_lesson_faithfulness_claims():
    """Step 1: the cat's map fails its own check; step 2 (tiger cat) passes; step 6 (the espresso) passes
    by a wide margin."""
    from apps.gradcam import logic

    def check(i: int) -> dict:
        s = VIEWS["gradcam"].beat_values(i)
        r = logic.explain(logic.SAMPLES[s["image"]], s["model"], s["method"], s["target"] or None)
        return logic.faithfulness(r)

    first, tiger, coffee = check(0), check(1), check(5)
    assert first["drop_hot"] <= 0 < first["drop_random"]
    assert tiger["drop_hot"] > tiger["drop_random"]
    assert coffee["drop_hot"] > coffee["drop_random"] + 0.1


def test_clip_lesson_softmax_picks_a_winner_that_each_on_its_own_rejects():
    from apps.clip_zero_shot import logic

    v = VIEWS["clip_zero_shot"]
    s2, s3 = v.beat_values(1), v.beat_values(2)
    soft = logic.classify(logic.SAMPLES[s2["image"]], s2["labels"], s2["model"], s2["templates"], s2["mode"])
    assert soft.top["prob"] > 0.5
    alone = logic.classify(logic.SAMPLES[s3["image"]], s3["labels"], s3["model"], s3["templates"], s3["mode"])
    assert "None of these" in logic.verdict(alone, s3["threshold"])


def test_attention_lesson_token_7_is_it():
    from apps.attention import logic

    s = VIEWS["attention"].beat_values(1)
    r = logic.attend(s["text"], s["model"])
    assert r.tokens[s["token"]] == "it"


def test_vit_lesson_cls_attention_is_wider_in_the_first_layer():
    from apps.vit_patches import logic

    v = VIEWS["vit_patches"]
    last, first = v.beat_values(3), v.beat_values(4)
    r = logic.inspect(logic.image_source(first["image"]), first["model"])
    assert r.cls_attention(first["layer"], None).max() < r.cls_attention(last["layer"], None).max()
    assert (r.grid, r.patch_size) == ((8, 8), 8)  # the first step's "8·8 = 64 tokens"


def test_a_typed_lesson_link_opens_that_step_and_named_settings_override_it():
    view = VIEWS["fgsm"]
    values, notices, beat = view.open_link({"lesson": "2"})
    assert (values, notices, beat) == (view.beat_values(1), [], 1)
    values, notices, beat = view.open_link({"lesson": "2", "image": "cat", "epsilon": "abc"})
    assert values == {**view.beat_values(1), "image": "cat"} and beat == 1 and len(notices) == 1
    values, notices, beat = view.open_link({"lesson": "9"})
    assert values == view.defaults() and beat == -1 and "lesson='9'" in notices[0]
