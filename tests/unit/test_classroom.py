"""The live class's store (core/classroom.py) and requests (apps/class_common.py): who may do what, votes counted
exactly and anonymously, the bounds, and the pages' own questions checked against their models."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from apps import class_common
from core import classroom
from core.classroom import ClassError, ClassStore

MEMBERS = [f"member-{i:04d}" for i in range(600)]


@pytest.fixture
def store() -> ClassStore:
    return ClassStore()


def opened(store: ClassStore, view: str = "/gradcam?image=cat") -> tuple[str, str]:
    s = store.open(view)
    return s["code"], s["token"]


def test_a_class_has_a_short_code_readable_off_a_projector_and_a_secret_token(store):
    s = store.open("/gradcam?image=cat&lecture=1&class=ABCD")
    assert len(s["code"]) == classroom.CODE_LENGTH and set(s["code"]) <= set(classroom.CODE_ALPHABET)
    assert not set("01OI") & set(classroom.CODE_ALPHABET)
    assert len(s["token"]) >= 32 and s["lecturer"]
    assert s["view"] == "/gradcam?image=cat"  # each screen keeps its own lecture mode; the code is no setting
    learner = store.state(s["code"], MEMBERS[0])
    assert "token" not in learner and not learner["lecturer"]
    assert store.state(s["code"].lower())["code"] == s["code"]  # typed in lower case: the same class


def test_only_the_token_holder_moves_asks_reveals_or_ends(store):
    code, token = opened(store)
    for wrong in (None, "", "not-the-token", token[:-1]):
        for call in (lambda t: store.set_view(code, t, "/fgsm"), lambda t: store.ask(code, t, "Q?", ["a", "b"]),
                     lambda t: store.reveal(code, t), lambda t: store.end_poll(code, t),
                     lambda t: store.close(code, t)):
            with pytest.raises(ClassError, match="Only the lecturer of class"):
                call(wrong)
    s = store.set_view(code, token, "/fgsm?epsilon=1")
    assert s["view"] == "/fgsm?epsilon=1" and s["version"] == 2
    assert store.set_view(code, token, "/fgsm?epsilon=1")["version"] == 2  # the same view: nothing to redraw
    store.close(code, token)
    with pytest.raises(ClassError, match="no open class"):
        store.state(code)


def test_votes_are_counted_once_per_browser_and_stop_at_the_reveal(store):
    code, token = opened(store)
    s = store.ask(code, token, "Which class?", ["cat", "dog", "other"])
    poll = s["poll"]["id"]
    store.vote(code, MEMBERS[0], 1, poll)
    with pytest.raises(ClassError, match="already voted"):
        store.vote(code, MEMBERS[0], 2, poll)
    with pytest.raises(ClassError, match="by its number"):
        store.vote(code, MEMBERS[1], 3, poll)
    with pytest.raises(ClassError, match="by its number"):
        store.vote(code, MEMBERS[1], True, poll)
    with pytest.raises(ClassError, match="member id"):
        store.vote(code, "x", 0, poll)
    store.vote(code, MEMBERS[1], 1, poll)
    learner = store.state(code, MEMBERS[2])
    assert learner["poll"]["votes"] == 2 and "counts" not in learner["poll"] and "answer" not in learner["poll"]
    assert store.state(code, token=token)["poll"]["counts"] == [0, 2, 0]  # the lecturer watches them come in
    revealed = store.reveal(code, token, answer=1)["poll"]
    assert revealed["counts"] == [0, 2, 0] and revealed["answer"] == 1 and revealed["answer_text"] == "dog"
    with pytest.raises(ClassError, match="revealed"):
        store.vote(code, MEMBERS[3], 0, poll)
    store.ask(code, token, "Next?", ["yes", "no"])
    with pytest.raises(ClassError, match="closed"):
        store.vote(code, MEMBERS[3], 0, poll)  # a page still showing the old question
    everything = json.dumps([store.results(code, token), store.state(code, token=token)])
    assert not any(m in everything for m in MEMBERS[:4])  # anonymous: no member id is ever given back
    assert [p["question"] for p in store.results(code)["past"]] == ["Which class?"]


def test_forty_voters_at_once_are_counted_exactly(store):
    code, token = opened(store)
    poll = store.ask(code, token, "Where will it look?", ["left", "centre", "right", "nowhere"])["poll"]["id"]
    choices = [i % 4 if i % 5 else 1 for i in range(40)]
    barrier = threading.Barrier(40)

    def vote(i: int) -> None:
        barrier.wait()
        store.vote(code, MEMBERS[i], choices[i], poll)

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.results(code, token)["poll"]["counts"] == [choices.count(k) for k in range(4)]


@pytest.mark.parametrize("options, ok", [(["a"], False), (["a", "b"], True), (list("abcdef"), True),
                                         (list("abcdefg"), False), (["a", "a"], False), (["a", " "], False),
                                         ("a\nb\n\nc", True), (["x" * 61, "b"], False)])
def test_a_typed_question_has_two_to_six_distinct_options(store, options, ok):
    code, token = opened(store)
    if ok:
        assert len(store.ask(code, token, "Q?", options)["poll"]["options"]) in (2, 3, 6)
    else:
        with pytest.raises(ClassError):
            store.ask(code, token, "Q?", options)


def test_bounds_classes_learners_and_idle_hours(monkeypatch):
    store = ClassStore(max_classes=3, max_members=2, idle_s=3600)
    now = [1_000_000.0]
    monkeypatch.setattr(classroom.time, "time", lambda: now[0])
    codes = [store.open("/")["code"] for _ in range(3)]
    with pytest.raises(ClassError, match="already has 3 open classes"):
        store.open("/")
    store.state(codes[0], MEMBERS[0])
    store.state(codes[0], MEMBERS[1], following=False)
    s = store.state(codes[0], MEMBERS[1], following=False)
    assert (s["learners"], s["following"]) == (2, 1)
    with pytest.raises(ClassError, match="is full: it has 2 learners"):
        store.state(codes[0], MEMBERS[2])
    now[0] += classroom.PRESENT_S + 1  # both pages stopped asking: they have left, and a newcomer fits
    assert store.state(codes[0], MEMBERS[2])["learners"] == 1
    now[0] += 3601  # no word from any lecturer for an hour (this store's idle limit): every class ends
    assert store.count() == 0
    assert len(store.open("/")["code"]) == 4


def test_views_are_pages_of_this_hub():
    for bad in ("//evil.example/x", "/../etc/passwd", "/gradio_api/upload", "/nope?x=1", "javascript:alert(1)"):
        with pytest.raises(ClassError):
            class_common.page_view(bad)
    assert class_common.page_view("http://any.host/clip_zero_shot?image=cat&lecture=1") == "/clip_zero_shot?image=cat"
    assert class_common.page_view("/") == "/"


def test_the_join_link_and_its_qr_code():
    assert class_common.join_link("K7Q2", "https://hub.example/") == "https://hub.example/?class=K7Q2"
    svg = class_common.qr_svg("https://hub.example/?class=K7Q2")
    assert svg.startswith("data:image/svg+xml") and "svg" in svg


# ---------------------------------------------------------------------- the pages' own questions


def test_gradcam_asks_which_ninth_of_the_image_holds_the_most_heat():
    from apps.gradcam import logic

    q = class_common.page_question("/gradcam?image=cat&method=gradcam")
    assert len(q["options"]) == 9 and "Grad-CAM" in q["question"]
    r = logic.explain(logic.SAMPLES["cat"], logic.DEFAULT_MODEL, "gradcam")
    # Independently: the heat summed over each third of the rows and of the columns (numpy's own split).
    cells = [b.sum() for rows in np.array_split(r.heatmap, 3, axis=0) for b in np.array_split(rows, 3, axis=1)]
    assert q["answer"] == int(np.argmax(cells))


def test_fgsm_asks_which_class_the_attacked_image_gets():
    from apps.fgsm import logic

    q = class_common.page_question("/fgsm?image=coffee&epsilon=1")
    r = logic.attack(logic.SAMPLES["coffee"], logic.DEFAULT_MODEL, 1.0, "fgsm", 10)
    after = int(np.argmax(r.adv_probs))
    expected = q["options"].index(r.adv_top5[0]["label"]) if r.adv_top5[0]["label"] in q["options"] else 4
    assert r.adv_top5[0]["index"] == after and q["answer"] == expected
    assert q["options"][0] == r.orig_top5[0]["label"] and q["options"][-1] == "Something else"


def test_clip_asks_which_label_wins():
    from apps.clip_zero_shot import logic

    q = class_common.page_question("/clip_zero_shot?image=cat")
    r = logic.classify(logic.SAMPLES["cat"], logic.VIEW.defaults()["labels"])
    assert q["options"] == r.labels and q["answer"] == int(np.argmax(r.probs))


def test_diffusion_asks_which_digit_the_seed_becomes():
    from apps.diffusion import digits, logic

    q = class_common.page_question("/diffusion?seed=3&label=7&steps=20")
    settings, _ = logic.check("ddpm_digits", "ddim", 20, 0.0, 3, "7", logic.default_guidance())
    final = logic.run(settings).final  # (16, 16, 1) in [-1, 1]
    assert q["options"] == [str(d) for d in range(10)]
    assert q["answer"] == int(digits.read_as(((final[..., 0] + 1) / 2)[None])[0])


def test_a_page_without_its_own_question_says_to_type_one():
    with pytest.raises(ClassError, match="type the question"):
        class_common.page_question("/attention")
