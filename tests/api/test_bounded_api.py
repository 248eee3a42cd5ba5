"""What a lecture's traffic leaves behind on a running hub: a browser tab's state stays one size however many
times it clicks, and Gradio's queue forgets the REST calls that have finished."""

from __future__ import annotations

import sys
import time

import pytest
import requests

from conftest import ROOT, SAMPLES, hub_in_process

pytestmark = pytest.mark.api
sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.fixture(scope="module")
def hub():
    with hub_in_process() as demo_and_url:
        yield demo_and_url


def session_of(demo, session_hash: str):
    """The session state the hub's own store keeps for this session hash."""
    return demo.server_app.state_holder.session_data[session_hash]


def test_a_tabs_state_is_one_size_however_many_clicks(hub):
    """Each Grad-CAM upload updates four dropdowns and a slider of the tab's page. Gradio 6.31 kept one more
    copy of each, and its config, per update (LeanSessionState undoes that)."""
    from clients import BrowserTab, variant_png

    _, url = hub
    tab = BrowserTab(url)
    tab.open_page()
    for i in range(2):
        tab.gradcam_upload(variant_png(i, "cat.png"), f"up{i}.png")
    state = session_of(hub[0], tab.session_hash)
    blocks, configs = len(state.blocks_config.blocks), len(dict.keys(state.config_values))
    for i in range(2, 10):
        out = tab.gradcam_upload(variant_png(i, "cat.png"), f"up{i}.png")
    assert out and len(state.blocks_config.blocks) == blocks and len(dict.keys(state.config_values)) == configs
    # The updated components are the session's copies, found under the page's own ids and under their own.
    updated = dict(state._stands_for)
    assert updated  # the target, layer and method dropdowns were updated
    for copy_id, app_id in updated.items():
        assert state[app_id] is state[copy_id] is state.blocks_config.blocks[app_id] and copy_id in state


def test_finished_rest_calls_leave_nothing_in_the_queue(hub):
    """Gradio keeps an empty entry per finished session in pending_event_ids_session; the housekeeper drops them."""
    from apps.gradio_common import internals
    from core import images

    demo, url = hub
    data_url = images.to_data_url(images.load_image(SAMPLES / "coffee.png"))
    for _ in range(5):
        r = requests.post(f"{url}/gradio_api/call/gradcam", json={"data": [data_url, "efficientnet_lite0", "gradcam",
                                                                           None]}, timeout=30)
        assert "event: complete" in requests.get(f"{url}/gradio_api/call/gradcam/{r.json()['event_id']}",
                                                 timeout=60).text
    assert len(demo._queue.pending_event_ids_session) >= 5
    internals.drop_finished_sessions(demo)
    deadline = time.monotonic() + 5
    while demo._queue.pending_event_ids_session and time.monotonic() < deadline:
        time.sleep(0.05)  # it runs on the server's event loop
    assert not demo._queue.pending_event_ids_session
