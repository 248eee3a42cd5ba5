"""Plain HTTP, as the README shows it (POST /gradio_api/call/<endpoint>, then read the event stream): every user
error reaches the caller with its message, trailing optional values may be left out, and a missing required
value is named at once."""

from __future__ import annotations

import json

import pytest
import requests

pytestmark = pytest.mark.api
NOT_AN_IMAGE = "data:image/png;base64,AAAA"


def call(url: str, endpoint: str, data: list) -> tuple[str, object]:
    """('complete' | 'error', the data or the error message) of one plain-HTTP call."""
    r = requests.post(f"{url}/gradio_api/call/{endpoint}", json={"data": data}, timeout=30)
    r.raise_for_status()
    stream = requests.get(f"{url}/gradio_api/call/{endpoint}/{r.json()['event_id']}", timeout=300).text
    kind = next(ln.split(": ", 1)[1] for ln in stream.splitlines() if ln.startswith("event: ")
                and ln.split(": ", 1)[1] in ("complete", "error"))
    payload = json.loads(next(ln[6:] for ln in reversed(stream.splitlines()) if ln.startswith("data: ")))
    return kind, payload.get("error") if kind == "error" else payload


@pytest.mark.parametrize("endpoint, data, message", [
    ("gradcam", [NOT_AN_IMAGE], "not an image Glassbox can read"),
    ("gradcam", [NOT_AN_IMAGE, "my/evil-model"], "not an image"),  # the upload is read first
    ("fgsm", [NOT_AN_IMAGE], "not an image"),
    ("attention", [""], "the text is empty"),
    ("vit", [NOT_AN_IMAGE], "not an image"),
    ("clip", [NOT_AN_IMAGE, "a cat"], "not an image"),
    ("sam", [NOT_AN_IMAGE], "not an image"),
    ("diffusion", [0, "euler"], "Unknown scheduler"),
    ("gan_edit", [[1], "moustache"], "Unknown attribute"),
])
def test_a_user_error_reaches_plain_http_with_its_message(hub, endpoint, data, message):
    kind, error = call(hub, endpoint, data)
    assert kind == "error" and isinstance(error, str) and message in error, error


@pytest.mark.parametrize("endpoint, data", [("gradcam", ["assets/images/cat.png"]), ("diffusion", []),
                                            ("gan_real", []), ("attention", ["The robot kicked the ball."])])
def test_trailing_values_with_defaults_may_be_left_out(hub, endpoint, data):
    if endpoint == "gradcam":  # an image as the README's plain-HTTP example sends it: a data URL
        from core import images

        data = [images.to_data_url(images.load_image(data[0]))]
    kind, out = call(hub, endpoint, data)
    assert kind == "complete" and out[0]["model"], out


@pytest.mark.parametrize("endpoint, data, missing", [("clip", [NOT_AN_IMAGE], "labels"), ("sam", [], "image"),
                                                     ("gan_interpolate", [1], "seed_b")])
def test_a_missing_required_value_is_named_at_once(hub, endpoint, data, missing):
    r = requests.post(f"{hub}/gradio_api/call/{endpoint}", json={"data": data}, timeout=30)
    assert r.status_code == 422 and f"needs a value for {missing}" in r.json()["error"]


def test_an_internal_failure_stays_generic(hub):
    """A value of the wrong shape breaks inside Gradio, not in our checks: its details are not sent out."""
    kind, error = call(hub, "gradcam", [{"path": "/etc/passwd"}])
    assert kind == "error" and (error is None or "passwd" not in error)
