"""Clients for the load and soak benchmarks: the JSON API over plain REST, and a browser tab
emulated at the protocol level (the same queue events, in the same order, that the Gradio
front end sends when a learner uses a page)."""

from __future__ import annotations

import json
import os
import threading
import uuid
from functools import lru_cache
from pathlib import Path

import requests

from common import ROOT, rest_call

SAMPLES = ROOT / "assets" / "images"


def variant_png(i: int, name: str = "cat.png") -> bytes:
    """A different PNG for each i (one pixel flipped): the result caches never answer, the model sees
    the same picture."""
    import numpy as np

    from core import images

    base = _base(name)
    img = base.copy()
    img[i % img.shape[0], (i // img.shape[0]) % img.shape[1]] ^= np.uint8(1 + (i % 7))
    return images.to_png_bytes(img)


@lru_cache(maxsize=4)
def _base(name: str):
    from core import images

    return images.load_image(SAMPLES / name)


def data_url(png: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png).decode()


def rest(session: requests.Session, base: str, api: str, data: list) -> tuple[dict, float]:
    """One call of a JSON endpoint over Gradio's plain REST API, on a kept-alive session."""
    return rest_call(base, api, data, session)


def upload(session: requests.Session, base: str, name: str, content: bytes) -> dict:
    """POST a file to Gradio's upload route, as the browser does; returns the FileData to send."""
    r = session.post(f"{base}/gradio_api/upload", files={"files": (name, content, "image/png")}, timeout=60)
    r.raise_for_status()
    path = r.json()[0]
    return {"path": path, "orig_name": name, "size": len(content), "meta": {"_type": "gradio.FileData"}}


class BrowserTab:
    """One learner's tab: a session hash, the page-load event, then the events a click fires."""

    def __init__(self, base: str, config: dict | None = None):
        self.base = base
        self.http = requests.Session()
        self.session_hash = uuid.uuid4().hex[:11]
        self.config = config or requests.get(f"{base}/config", timeout=30).json()
        self.components = {c["id"]: c for c in self.config["components"]}
        self.deps = {d["id"]: d for d in self.config["dependencies"]}
        self.busy = threading.Lock()  # a learner's clicks run one after another in her tab

    def component_id(self, elem_id: str) -> int:
        for c in self.config["components"]:
            if c.get("props", {}).get("elem_id") == elem_id:
                return c["id"]
        raise KeyError(elem_id)

    def chain(self, elem_id: str, trigger: str) -> list[dict]:
        """The dependency a trigger on a component starts, then every .then() after it, in order."""
        cid = self.component_id(elem_id)
        first = next(d for d in self.deps.values() if [cid, trigger] in d["targets"])
        out = [first]
        while True:
            nxt = next((d for d in self.deps.values() if d.get("trigger_after") == out[-1]["id"]), None)
            if nxt is None:
                return out
            out.append(nxt)

    def open_page(self) -> None:
        """The load events the front end fires when the page opens: the one serve() adds to mark the session as
        a browser tab (no inputs, no outputs), and the footer's (no inputs, the footer line out)."""
        loads = [d for d in self.deps.values() if any(t[1] == "load" for t in d["targets"]) and not d["inputs"]]
        marker = [d for d in loads if not d["outputs"]]
        footer = [d for d in loads if d["outputs"]][:1]
        if not marker:
            raise RuntimeError("no tab-marking load event in the page's config: was the hub started by serve()?")
        for d in marker + footer:
            self.event(d, {})

    def event(self, dep: dict, values: dict[int, object], event_data=None) -> list:
        """queue/join one event with the page's current values (state inputs travel as null), then read
        the session's event stream until that event completes. Returns its output data."""
        data = []
        for cid in dep["inputs"]:
            comp = self.components[cid]
            if cid in values:
                data.append(values[cid])
            elif comp["type"] == "state":
                data.append(None)
            else:
                data.append(comp.get("props", {}).get("value"))
        body = {"data": data, "event_data": event_data, "fn_index": dep["id"],
                "trigger_id": dep["targets"][0][0] if dep["targets"] else None, "session_hash": self.session_hash}
        r = self.http.post(f"{self.base}/gradio_api/queue/join", json=body, timeout=60)
        r.raise_for_status()
        event_id = r.json()["event_id"]
        with self.http.get(f"{self.base}/gradio_api/queue/data", params={"session_hash": self.session_hash},
                           stream=True, timeout=600) as stream:
            for line in stream.iter_lines(decode_unicode=True):
                if not line or not line.startswith("data: "):
                    continue
                msg = json.loads(line[6:])
                if msg.get("msg") == "process_completed" and msg.get("event_id") == event_id:
                    if not msg.get("success", False):
                        raise RuntimeError(f"event {dep['id']} failed: {str(msg.get('output'))[:300]}")
                    return msg["output"]["data"]
        raise RuntimeError(f"event {dep['id']}: the stream ended before it completed")

    def run_chain(self, elem_id: str, trigger: str, values: dict[int, object]) -> list:
        out: list = []
        with self.busy:
            for dep in self.chain(elem_id, trigger):
                out = self.event(dep, values)
        return out

    def share_update(self, slug: str) -> list:
        """The event the front end sends after a control changed: the page's link, JSON export and
        cross-links are rebuilt (the server reads this session's own state for the picture)."""
        lecture = self.component_id(f"{slug}-lecture")
        dep = next(d for d in self.deps.values() if [lecture, "change"] in d["targets"] and d.get("backend_fn"))
        with self.busy:
            return self.event(dep, {})

    def gradcam_upload(self, png: bytes, name: str = "upload.png") -> list:
        """What a learner's upload on the Grad-CAM page sends: the file, then upload -> reset -> run, then
        the link and export update its changed picture triggers."""
        fd = upload(self.http, self.base, name, png)
        out = self.run_chain("gradcam-upload", "upload", {self.component_id("gradcam-upload"): fd})
        self.share_update("gradcam")
        return out

    def attention_submit(self, text: str) -> list:
        """Typing a sentence on the attention page and pressing Enter (then the link and export update)."""
        out = self.run_chain("attention-text", "submit", {self.component_id("attention-text"): text})
        self.share_update("attention")
        return out


def server_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (Linux /proc)."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        kids = [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []
    return kids + [g for k in kids for g in _children(k)]
