"""What every Gradio page shares: launch settings (upload cap, allowed paths), the footer, warm-up."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Callable

import gradio as gr

from core import images, models
from core.weights import import_ref

log = logging.getLogger("glassbox.hub")

CSS = """
.gb-cards {display:grid; grid-template-columns:repeat(auto-fill,minmax(260px,1fr)); gap:16px;}
.gb-card {display:block; text-align:left; border:1px solid var(--border-color-primary); border-radius:12px; padding:18px;
          background:var(--block-background-fill); text-decoration:none !important; color:inherit !important;}
.gb-card h3 {margin:4px 0 6px 0; font-size:1.25rem;}
.gb-card .gb-icon {font-size:2.2rem;}
.gb-card .gb-tag {font-size:.8rem; font-weight:600; padding:2px 8px; border-radius:999px;}
.gb-ready .gb-tag {background:#16a34a; color:white;}
.gb-soon {opacity:.6;}
.gb-soon .gb-tag {background:#9ca3af; color:white;}
.gb-error {border:2px solid #dc2626; border-radius:12px; padding:16px;}
#gb-footer {font-size:.85rem; opacity:.85; border-top:1px solid var(--border-color-primary); padding-top:6px;}
"""


EXPORT_DIR = Path(tempfile.gettempdir()) / "glassbox-exports"


def export_file(name: str, content: bytes | str | Callable[[], bytes | str]) -> str:
    """Write a download (PNG, HTML, GIF) and return its path for a gr.DownloadButton.

    Names carry a content key, so two sessions never overwrite each other's different files.
    For that reason content may be a function: it is only called when the file is not there yet
    (a repeated run reuses its export instead of encoding it again).
    """
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    path = EXPORT_DIR / name
    if callable(content):
        if path.exists():
            return str(path)
        content = content()
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return str(path)


def launch_kwargs() -> dict:
    """Settings for every launch. Host/port come from GRADIO_SERVER_NAME/PORT (Spaces sets them)."""
    return {
        "max_file_size": images.MAX_UPLOAD_BYTES,
        "allowed_paths": [str(models.ASSETS)],
        "css": CSS,
        "footer_links": ["api"],
    }


LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


def explainer(title: str, demo_dir: Path) -> None:
    """The theory panel: the demo's explainer.md (shared with Streamlit) in a closed accordion."""
    with gr.Accordion(title, open=False):
        gr.Markdown((Path(demo_dir) / "explainer.md").read_text(encoding="utf-8"), latex_delimiters=LATEX)


def footer() -> gr.Markdown:
    """The device/model line at the bottom of every page, filled in when the page loads."""
    return gr.Markdown("Checking device and models…", elem_id="gb-footer")


def warmup_enabled() -> bool:
    return os.environ.get("GLASSBOX_WARMUP", "1").strip().lower() not in ("0", "false", "no", "off")


def start_warmup(refs: list[str]) -> threading.Thread | None:
    """Run each demo's warm-up ("module:function") in one background thread, after the server is up."""
    if not refs or not warmup_enabled():
        return None

    def work():
        for ref in refs:
            try:
                import_ref(ref)()
                log.info("warm-up done: %s", ref)
            except Exception:  # noqa: BLE001 - a failed warm-up only means a slower first click
                log.exception("warm-up failed: %s", ref)

    thread = threading.Thread(target=work, name="glassbox-warmup", daemon=True)
    thread.start()
    return thread


def launch_page(build: Callable[[], None], title: str) -> None:
    """Run one demo page alone (each ui_gradio.py is runnable by itself)."""
    with gr.Blocks(title=title) as demo:
        build()
        md = footer()
        demo.load(models.status_line, None, md, api_visibility="private")
    demo.queue().launch(**launch_kwargs())
