"""The live class in Chromium: one lecturer and three learners, each in a browser context of their own.

The learners' pages follow the lecturer's page and two of her controls within 2 s; a learner explores and
follows again; the page's question gets three votes and its reveal shows on every screen; a learner cannot move
the class or vote twice; a typed question and its counts reach the JSON export. One room runs it all (each room
opens four browser contexts). The Streamlit hub's class bar is checked at the end (it polls in a fragment).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from browser.conftest import PROJECTOR, gradio_idle, loaded, serious_violations, settle
from playwright.sync_api import Error as PlaywrightError

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
FOLLOW_S = 2.0  # the promise: a follower shows the lecturer's view within 2 s (from her computed view)
COUNT_IS = "(t) => document.querySelector('#gb-class .gb-class-count').innerText.startsWith(t)"
VOTES_ARE = "(t) => document.querySelector('#gb-class .gb-class-votes').innerText.startsWith(t)"


def view(url: str) -> tuple[str, dict]:
    """A page's view from its address: its path and its settings (lecture mode is each screen's own; an empty
    setting is its default, as a link left without it)."""
    parts = urlsplit(url)
    return parts.path, {k: v for k, v in parse_qsl(parts.query) if k != "lecture"}


def here(page) -> tuple[str, dict]:
    """The page's view from its address bar (Playwright's page.url misses the pages' history.replaceState)."""
    return view(_read(page, "location.href"))


def link_box(page, slug: str) -> str:
    return _read(page, f"document.querySelector('#{slug}-link textarea, #{slug}-link input')?.value || ''")


def _read(page, expression: str) -> str:
    try:
        return page.evaluate(expression)
    except PlaywrightError:  # the page is navigating (a follower opening the lecturer's new page): not there yet
        return ""


def shows(page, slug: str, want: tuple[str, dict]) -> bool:
    """The page is on the view: its address and its link box (filled once the view is computed) say so."""
    return here(page) == want and view(link_box(page, slug)) == want


def wait_all(pages, slug: str, want, within: float) -> float:
    """Seconds until every page shows the view; fails past `within`."""
    start = time.monotonic()
    pending = list(pages)
    while pending:
        n = len(pending)
        pending = [p for p in pending if not shows(p, slug, want)]
        if len(pending) < n:
            print(f"{n - len(pending)} on {want[1]} after {time.monotonic() - start:.2f} s")
        took = time.monotonic() - start
        if pending and took > within:
            got = [(here(p), view(link_box(p, slug))) for p in pending]
            raise AssertionError(f"after {took:.1f} s, {len(pending)} learner(s) still not on {want}: {got}")
        if pending:
            pending[0].wait_for_timeout(100)
    return time.monotonic() - start


def lecturer_moved(page, slug: str, before: str) -> tuple[str, dict]:
    """Wait until the lecturer's own page is on a new view, computed and drawn (its address differs from `before`,
    its link box says the same, no output is busy): the learners' 2 s count from there."""
    page.wait_for_function(
        """([slug, before]) => {
            const v = document.querySelector(`#${slug}-link textarea, #${slug}-link input`)?.value || "";
            return location.pathname === "/" + slug && location.href !== before && v.includes("?")
                && v.endsWith(location.search);
        }""", arg=[slug, before], timeout=90_000)
    gradio_idle(page)
    return here(page)


@pytest.fixture
def room(browser, gradio_url):
    """A lecturer (a projector-sized page) and three learners, each its own browser context; the third is a phone."""
    contexts = [browser.new_context(viewport=PROJECTOR), browser.new_context(), browser.new_context(),
                browser.new_context(viewport=PHONE)]
    pages = [c.new_page() for c in contexts]
    yield pages[0], pages[1:]
    for c in contexts:
        c.close()


def test_learners_follow_the_lecturer_explore_and_answer_a_question(room, gradio_url):
    lecturer, learners = room
    lecturer.goto(f"{gradio_url}/gradcam?image=cat")
    loaded(lecturer, "gradcam")
    lecturer.locator(".gb-class-start").click()
    code = lecturer.locator("#gb-class .gb-class-code").inner_text().strip()
    assert len(code) == 4 and code.isalnum()
    assert lecturer.locator("#gb-class .gb-class-qr img").get_attribute("src").startswith("data:image/svg+xml")
    assert f"/?class={code}" in lecturer.locator("#gb-class").inner_text()

    # Three learners open the join link: each lands on the lecturer's page and view.
    for p in learners:
        p.goto(f"{gradio_url}/?class={code}")
    start = here(lecturer)
    wait_all(learners, "gradcam", start, within=60)  # the first visit loads the page: no 2-s promise
    lecturer.wait_for_function(COUNT_IS, arg="3 following",
                               timeout=10_000)
    assert "Following the lecturer" in learners[0].locator("#gb-class").inner_text()

    # The lecturer changes page (the menu), then two controls; every learner follows each within 2 s.
    lecturer.locator(".nav-holder a", has_text="FGSM").click()
    loaded(lecturer, "fgsm")
    fgsm = lecturer_moved(lecturer, "fgsm", "")
    took = [wait_all(learners, "fgsm", fgsm, within=FOLLOW_S + 3)]  # a new page loads in the learners' tabs
    eps = lecturer.locator("#fgsm-eps input[type=number]")
    before = lecturer.evaluate("location.href")
    eps.fill("1")
    eps.press("Tab")
    first = lecturer_moved(lecturer, "fgsm", before)
    assert first[1]["epsilon"] == "1"
    took.append(wait_all(learners, "fgsm", first, within=FOLLOW_S))
    before = lecturer.evaluate("location.href")
    lecturer.get_by_role("radio", name="PGD (iterative, random start)").check()
    second = lecturer_moved(lecturer, "fgsm", before)
    assert second[1]["attack"] == "pgd"
    took.append(wait_all(learners, "fgsm", second, within=FOLLOW_S))
    # The learners' pages show the lecturer's result, not only her address: the same status line.
    status = lecturer.locator("#fgsm-status").inner_text()
    for p in learners:
        assert p.locator("#fgsm-status").inner_text() == status

    # One learner explores: the lecturer's next move leaves her alone; "Follow again" brings her back.
    explorer, others = learners[0], learners[1:]
    explorer.locator("#gb-class [data-act=toggle]").click()
    assert "Exploring on your own" in explorer.locator("#gb-class").inner_text()
    before = lecturer.evaluate("location.href")
    lecturer.get_by_role("radio", name="FGSM (one step)").check()
    third = lecturer_moved(lecturer, "fgsm", before)
    wait_all(others, "fgsm", third, within=FOLLOW_S)
    explorer.wait_for_timeout(1500)
    assert here(explorer) == second  # still where she was
    lecturer.wait_for_function(COUNT_IS, arg="2 following",
                               timeout=5_000)
    explorer.locator("#gb-class [data-act=toggle]").click()
    wait_all([explorer], "fgsm", third, within=FOLLOW_S)
    assert "Following the lecturer" in explorer.locator("#gb-class").inner_text()

    # Predict, then reveal: the page's own question, a vote from each learner, the count rises, the reveal.
    lecturer.locator("#gb-class [data-act=ask_page]").click()
    lecturer.wait_for_selector("#gb-class .gb-class-question", timeout=60_000)
    question = lecturer.locator("#gb-class .gb-class-question").inner_text()
    assert "Which class will the model see" in question
    for i, p in enumerate(learners):
        p.wait_for_selector("#gb-class [data-vote]", timeout=5_000)
        p.locator("#gb-class [data-vote]").nth(i % 2).click()
        p.wait_for_selector("#gb-class :text('Your vote')", timeout=5_000)
    lecturer.wait_for_function(VOTES_ARE, arg="3 votes", timeout=5_000)
    lecturer.locator("#gb-class [data-act=reveal]").click()
    for p in [lecturer, *learners]:
        p.wait_for_selector("#gb-class .gb-class-answer", timeout=5_000)
        text = p.locator("#gb-class").inner_text()
        assert "The model's answer" in text and "3 votes" in text, text
        counts = p.locator("#gb-class .gb-class-hist .gb-class-n").all_inner_texts()
        assert sum(int(c.split()[0]) for c in counts) == 3, counts

    # A learner's page cannot move the class or vote twice: the server refuses, and says why.
    refused = learners[1].evaluate("""async (code) => {
        const set = await fetch('/gb_class/set', {method: 'POST', body: JSON.stringify(
            {code, action: 'view', view: '/attention'})});
        const vote = await fetch('/gb_class/vote', {method: 'POST', body: JSON.stringify(
            {code, member: window.gbClass.member(), option: 0})});
        return [set.status, (await set.json()).error, vote.status, (await vote.json()).error];
    }""", code)
    assert refused[0] == 400 and "Only the lecturer" in refused[1], refused
    assert refused[2] == 400 and "revealed" in refused[3], refused
    assert here(learners[1]) == third

    # Every screen of the class passes axe (WCAG 2.1 AA), and the phone's bar fits its width.
    for p in (lecturer, learners[0], learners[2]):
        assert serious_violations(p) == [], p.viewport_size
    box = learners[2].locator("#gb-class").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1
    assert learners[2].evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1

    # A question typed on the spot: a second vote before the reveal is refused; only the lecturer's screen shows
    # the histogram filling; the question and its counts go into the page's JSON export.
    lecturer.locator("#gb-class [data-act=askform]").click()
    lecturer.locator("#gb-class .gb-class-ask textarea").fill("yes\nno\nit depends")
    lecturer.locator("#gb-class .gb-class-ask button[type=submit]").click()
    learner = learners[1]
    learner.wait_for_selector("#gb-class [data-vote]", timeout=5_000)
    learner.locator("#gb-class [data-vote]").nth(2).click()
    learner.wait_for_selector("#gb-class :text('Your vote')", timeout=5_000)
    second = learner.evaluate("""async (code) => {
        const r = await fetch('/gb_class/vote', {method: 'POST', body: JSON.stringify(
            {code, member: window.gbClass.member(), option: 0})});
        return [r.status, (await r.json()).error];
    }""", code)
    assert second[0] == 400 and "already voted" in second[1], second
    lecturer.wait_for_function(VOTES_ARE, arg="1 vote", timeout=5_000)
    assert lecturer.locator("#gb-class .gb-class-hist").count() == 1
    assert learner.locator("#gb-class .gb-class-hist").count() == 0
    lecturer.locator("#gb-class [data-act=reveal]").click()
    lecturer.wait_for_selector("#gb-class .gb-class-answer", timeout=5_000)
    lecturer.wait_for_timeout(1500)  # the page's export is rewritten with the revealed question
    with lecturer.expect_download() as dl:
        lecturer.locator("#fgsm-json").click()
    live = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))["live_class"]
    assert live["code"] == code and live["poll"]["counts"] == [0, 0, 1] and live["poll"]["revealed"]
    assert [sum(p["counts"]) for p in live["past"]] == [3]  # the page's question before it, with its 3 votes


def test_streamlit_learners_follow_and_vote(browser, streamlit_url):
    """The Streamlit hub's class bar (a fragment that reruns every second): a learner joins by link, lands on the
    lecturer's view, follows her to another image, votes on her question and sees the reveal."""
    ctx_l, ctx_s = browser.new_context(viewport=PROJECTOR), browser.new_context()
    lecturer, learner = ctx_l.new_page(), ctx_s.new_page()
    try:
        lecturer.goto(f"{streamlit_url}/gradcam?image=cat")
        settle(lecturer)
        lecturer.get_by_role("button", name="🏫 Start a live class on this view").click()
        settle(lecturer)
        bar = lecturer.locator(".st-key-gb_class_bar")
        code = bar.locator("code").first.inner_text().strip()
        assert len(code) == 4 and f"/?class={code}" in bar.inner_text()
        assert bar.locator("img[alt^='QR code']").count() == 1

        learner.goto(f"{streamlit_url}/?class={code}")
        learner.wait_for_function("location.pathname === '/gradcam' && location.search.includes('image=cat')",
                                  timeout=30_000)
        settle(learner)
        assert "Following the lecturer" in learner.locator(".st-key-gb_class_bar").inner_text()

        # The lecturer picks another sample: the learner's page takes it within about two fragment runs.
        lecturer.get_by_role("button", name="coffee", exact=True).click()
        settle(lecturer)
        learner.wait_for_function("location.search.includes('image=coffee')", timeout=6_000)

        lecturer.locator(".st-key-gb_class_bar").get_by_role("button", name="Ask a question").click()
        lecturer.get_by_label("Options, one per line (2 to 6)").fill("the cup\nthe saucer")
        lecturer.get_by_role("button", name="Ask", exact=True).click()
        settle(lecturer)
        learner.get_by_role("button", name="the saucer").click(timeout=10_000)
        learner.wait_for_selector("text=Your vote", timeout=10_000)
        lecturer.wait_for_selector(".st-key-gb_class_bar :text('1 vote')", timeout=10_000)
        lecturer.get_by_role("button", name="Reveal the answer").click()
        learner.wait_for_selector(".st-key-gb_class_bar :text('the saucer: 1 (100%)')", timeout=10_000)
    finally:
        ctx_l.close()
        ctx_s.close()
