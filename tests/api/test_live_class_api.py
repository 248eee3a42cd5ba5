"""The live class's JSON API (gradio_client, as a slide deck or a clicker drives it) and the plain routes the
pages poll: 40 voters at once counted exactly, a wrong token refused with a clear error, a page's question and
its reveal. Runs on both backends: on Ray the class lives in the cluster's class actor."""

from __future__ import annotations

import concurrent.futures

import pytest
import requests

pytestmark = pytest.mark.api


def test_forty_concurrent_voters_are_counted_exactly(client, hub):
    s = client.predict("/gradcam?image=cat", api_name="/class_open")
    code, token = s["code"], s["token"]
    s = client.predict(code, token, "ask", "", "Where will it look?", ["left", "centre", "right", "nowhere"], None,
                       api_name="/class_set")
    poll = s["poll"]["id"]
    choices = [(i * 7) % 4 for i in range(40)]
    # All 40 at once: half through the JSON API, half through the route the pages use.
    jobs = [client.submit(code, f"voter-{i:04d}", choices[i], poll, api_name="/class_vote") for i in range(0, 40, 2)]
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        posts = list(pool.map(lambda i: requests.post(f"{hub}/gb_class/vote", json={
            "code": code, "member": f"voter-{i:04d}", "option": choices[i], "poll": poll}, timeout=60),
            range(1, 40, 2)))
    assert [r.status_code for r in posts] == [200] * 20
    assert all(j.result()["voted"] in range(4) for j in jobs)
    res = client.predict(code, token, api_name="/class_results")
    assert res["poll"]["counts"] == [choices.count(k) for k in range(4)] and res["poll"]["votes"] == 40
    # The same 40 again: every one refused, and the counts stay.
    again = requests.post(f"{hub}/gb_class/vote", json={"code": code, "member": "voter-0000", "option": 0}, timeout=30)
    assert again.status_code == 400 and "already voted" in again.json()["error"]
    learner = client.predict(code, "voter-0001", True, "", api_name="/class_state")
    assert learner["poll"]["votes"] == 40 and "counts" not in learner["poll"]  # no histogram before the reveal
    assert "voter-" not in str(client.predict(code, token, api_name="/class_results"))  # anonymous counts


def test_a_wrong_token_is_refused_with_a_clear_error(client, hub):
    from gradio_client.exceptions import AppError

    code = client.predict("/fgsm?image=coffee", api_name="/class_open")["code"]
    with pytest.raises(AppError, match=f"Only the lecturer of class {code} can do that"):
        client.predict(code, "not-the-token", "view", "/attention", api_name="/class_set")
    r = requests.post(f"{hub}/gb_class/set", json={"code": code, "action": "view", "view": "/attention"}, timeout=30)
    assert r.status_code == 400 and "lecturer's token" in r.json()["error"]
    r = requests.get(f"{hub}/gb_class/state", params={"code": "ZZZZ"}, timeout=30)
    assert r.status_code == 400 and "no open class 'ZZZZ'" in r.json()["error"]
    assert client.predict(code, api_name="/class_state")["view"] == "/fgsm?image=coffee"  # nothing moved


def test_the_lecturer_moves_asks_the_pages_question_and_reveals(client, hub):
    s = client.predict("/gradcam?image=cat", api_name="/class_open")
    code, token = s["code"], s["token"]
    moved = client.predict(code, token, "view", "/clip_zero_shot?image=coffee&lecture=1", api_name="/class_set")
    assert moved["view"] == "/clip_zero_shot?image=coffee" and moved["version"] == s["version"] + 1
    asked = client.predict(code, token, "ask_page", api_name="/class_set")["poll"]
    assert asked["source"] == "page" and asked["question"] == "Which label wins?" and len(asked["options"]) >= 2
    requests.post(f"{hub}/gb_class/vote", json={"code": code, "member": "learner-0001", "option": 0},
                  timeout=30).raise_for_status()
    shown = client.predict(code, token, "reveal", api_name="/class_set")["poll"]
    assert shown["revealed"] and shown["answer_text"] == shown["options"][shown["answer"]]
    assert sum(shown["counts"]) == 1 and "scores" in shown["explain"]
    r = requests.post(f"{hub}/gb_class/vote", json={"code": code, "member": "learner-0002", "option": 0}, timeout=30)
    assert r.status_code == 400 and "revealed" in r.json()["error"]
    assert client.predict(code, token, "close", api_name="/class_set")["closed"]
