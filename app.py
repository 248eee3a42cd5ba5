"""Glassbox Gradio hub: python app.py  (also the Hugging Face Spaces entry point).

The landing page has a card per topic; each built demo gets its own route. Building a
page imports only its UI and logic modules: model libraries (torch, timm,
pytorch_grad_cam, ...) load on first use or in the background warm-up after the
server is up, so the hub starts about as fast as an empty Gradio app.
"""

from __future__ import annotations

import html
import importlib
import logging
import traceback

# isort: split
import apps  # noqa: F401 - first: it gives Gradio a temp folder of this user's own, read when gradio is imported

# isort: split
import gradio as gr

from apps.gradio_common import classbar, page_footer, serve
from apps.registry import DEMOS, Demo
from core import memwatch, warmup

log = logging.getLogger("glassbox.hub")


def _card(step: int, d: Demo) -> str:
    tag = "open" if d.built else "coming soon"
    try_first = f'<p class="gb-try"><b>Try first:</b> {html.escape(d.try_first)}</p>' if d.try_first else ""
    body = (f'<div class="gb-icon">{d.icon}</div><span class="gb-step">Step {step}</span><h3>{html.escape(d.title)}'
            f'</h3><p>{html.escape(d.pitch)}</p>{try_first}<span class="gb-tag">{tag}</span>')
    if d.built:
        return f'<a class="gb-card gb-ready" href="{d.slug}" id="card-{d.slug}">{body}</a>'
    return f'<div class="gb-card gb-soon" id="card-{d.slug}">{body}</div>'


# A learner who has the code, not the link: classbar.js handles the form (it opens /?class=CODE).
JOIN_FORM = ('<form class="gb-class-join-form"><label for="gb-class-code">🏫 Join a live class: type the code on the '
             'lecturer\'s screen</label> <input id="gb-class-code" name="code" maxlength="8" size="8" '
             'autocomplete="off" autocapitalize="characters" placeholder="K7Q2"> '
             '<button type="submit">Join</button></form>')


def landing_html() -> str:
    cards = "".join(_card(i + 1, d) for i, d in enumerate(DEMOS))
    return f'<div class="gb-cards">{cards}</div>'


def api_section(demo: gr.Blocks) -> str:
    """The landing page's "Use from code" list: every public endpoint of the hub, linked to its page's docs.

    Gradio's own "Use via API" panel lists only the endpoints of the page it is opened on, which on
    the landing page is none; the CSS hides that link here and this list takes its place.
    """
    rows = []
    for fn in demo.fns.values():
        if not fn.api_name or getattr(fn, "api_visibility", "public") != "public":
            continue
        doc = (fn.fn.__doc__ or "").strip().splitlines()
        summary = html.escape(doc[0] if doc else "")
        page = html.escape(fn.page or "")
        rows.append(f'<li><code>/{html.escape(fn.api_name)}</code> (<a href="{page}">its page</a>): {summary}</li>')
    if not rows:
        return ""
    return ('<div class="gb-api" id="gb-api"><h2>Use from code</h2><p>Every demo is also an endpoint for '
            '<code>gradio_client</code>, JavaScript or plain HTTP. The README documents each field; on a demo\'s '
            'page, "Use via API" at the bottom gives ready-to-run code.</p>'
            f'<ul>{"".join(rows)}</ul></div>')


def _error_card(d: Demo, exc: BaseException) -> str:
    detail = html.escape("".join(traceback.format_exception_only(type(exc), exc)).strip())
    return (f'<div class="gb-error"><h3>⚠️ The {html.escape(d.title)} page failed to build</h3>'
            f"<p>The rest of Glassbox works. Details for the maintainers:</p><pre>{detail}</pre></div>")


def build_hub() -> gr.Blocks:
    with gr.Blocks(title="Glassbox") as demo:
        gr.Markdown("# 🔍 Glassbox\nInteractive demos that open up vision and generative models, in teaching "
                    "order: from where a classifier looks to how a diffusion model draws. Every demo runs offline "
                    "on a laptop and names the model it runs. Each page has a short lesson (Next, Back or the ← → "
                    "keys), a link to its exact view, and a 🎓 lecture mode for the projector "
                    "(or add `?lecture=1` to any address).", elem_id="gb-intro")
        gr.HTML(landing_html())
        gr.HTML(JOIN_FORM)
        api_list = gr.HTML("", elem_id="gb-api-list")
        classbar.add_api()
        page_footer(demo)
    for d in DEMOS:
        if not d.built:
            continue
        with demo.route(d.nav_label, f"/{d.slug}"):
            with gr.Column() as page:
                try:
                    importlib.import_module(f"apps.{d.slug}.ui_gradio").build()
                    # The footer names this page's models only (the page's logic lists what it offers).
                    page_models = list(getattr(importlib.import_module(f"apps.{d.slug}.logic"), "MODEL_CHOICES", []))
                    failed = None
                except Exception as exc:  # one broken page must not take the hub down
                    log.exception("page %s failed to build", d.slug)
                    failed = exc
            if failed is not None:
                page.visible = False
                gr.HTML(_error_card(d, failed))
                page_models = []
            page_footer(demo, page_models, d.slug)
    api_list.value = api_section(demo)  # every page is built now, so every endpoint is known
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    memwatch.install_from_env()
    demo = build_hub()
    serve(demo)
    warmup.start([d.warmup for d in DEMOS if d.built and d.warmup])
    demo.block_thread()


if __name__ == "__main__":
    main()
