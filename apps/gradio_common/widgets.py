"""The pieces a Gradio page is built from: named outputs, the user-error answer, the image picker, control events,
the theory panel and the footer."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Callable

import gradio as gr

from core import explainer as core_explainer
from core import images, models


class Outputs:
    """A page's output components, by name: the one place where names meet components.

    A handler returns {name: value} for the outputs it sets; Gradio leaves every other output as it was (so the
    last good result stays beside a message). `fn(handler)` is what an event calls: the same handler, its
    names turned into components. No handler depends on the order of a list of outputs, and a name that is not
    an output of the page fails at once instead of landing in the wrong box.
    """

    def __init__(self, **components) -> None:
        self.by_name = dict(components)

    def __getitem__(self, name: str):
        return self.by_name[name]

    def list(self, *names: str) -> list:
        """The components, for an event's `outputs=`: the named ones, or all of them."""
        return [self.by_name[n] for n in names] if names else list(self.by_name.values())

    def keyed(self, values: dict) -> dict:
        """{name: value} -> {component: value}."""
        unknown = [k for k in values if k not in self.by_name]
        if unknown:
            raise KeyError(f"not outputs of this page: {unknown}; its outputs are {list(self.by_name)}")
        return {self.by_name[k]: described(self.by_name[k], v) for k, v in values.items()}

    def fn(self, handler: Callable[..., dict]) -> Callable[..., dict]:
        """The handler as Gradio calls it (its signature kept: Gradio reads gr.Request, gr.SelectData and
        gr.Progress parameters from it)."""
        if inspect.isgeneratorfunction(handler):
            @functools.wraps(handler)
            def stream(*args, **kwargs):
                for values in handler(*args, **kwargs):
                    yield self.keyed(values)
            return stream

        @functools.wraps(handler)
        def call(*args, **kwargs):
            return self.keyed(handler(*args, **kwargs))
        return call


def described(component, value):
    """An image's new label is also its new alt text (what a screen reader says for it), unless the handler gave
    one: the labels name what a picture shows ("Grad-CAM · Egyptian cat · bn2"), and Gradio reads an
    image without alt text as decorative."""
    if (isinstance(component, gr.Image) and isinstance(value, dict) and value.get("__type__") == "update"
            and value.get("label") and "alt_text" not in value):
        return {**value, "alt_text": value["label"]}
    return value


def describe_images(demo: gr.Blocks) -> None:
    """Every image built without alt text takes its label as alt text (see `described` for the updates)."""
    for block in demo.blocks.values():
        if isinstance(block, gr.Image) and not block.alt_text and block.label:
            block.alt_text = block.label


def warning(message: str, to: str = "status") -> dict:
    """A handler's answer to a user error: the message in the page's status output, every other output left
    as it was, so the last good result stays visible beside the message."""
    return {to: f"### ⚠️ {message}"}


LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


def explainer(title: str, demo_dir: Path, values: dict[str, str] | None = None) -> None:
    """The theory panel: the demo's explainer.md (shared with Streamlit) in a closed accordion;
    values fill its {{placeholders}} (measured numbers of the model that ships)."""
    with gr.Accordion(title, open=False):
        gr.Markdown(core_explainer.load(demo_dir, values), latex_delimiters=LATEX)


def image_picker(samples: dict[str, Path], elem_prefix: str,
                 upload_label: str = "…or upload an image (max 20 MB)") -> tuple[gr.State, list]:
    """The sample gallery and upload box an image page starts with, and the session's State holding the
    chosen image's path. Returns (source, events): chain `.then(...)` on each event to react to a new image
    (a gallery pick or an upload)."""
    items = list(samples.items())
    gallery = gr.Gallery(value=[(str(p), name) for name, p in items], label="Sample gallery (click one)",
                         columns=3, height="auto", allow_preview=False, buttons=[], elem_id=f"{elem_prefix}-gallery")
    upload = gr.File(label=upload_label, file_types=["image"], type="filepath", height=150,
                     elem_id=f"{elem_prefix}-upload")
    source = gr.State(None)  # path of the current image; per browser session

    def pick(evt: gr.SelectData) -> str:
        return str(items[evt.index][1])

    def take(path):
        """The upload becomes the page's picture, so the page says what is wrong with a bad one; a bad one is
        also taken out of the box (it stayed there, as if accepted, until cleared by hand)."""
        return path, (path if path is None or images.upload_problem(path) is None else None)

    hidden = {"api_visibility": "private"}
    return source, [gallery.select(pick, None, source, **hidden),
                    upload.upload(take, upload, [source, upload], **hidden)]


def user_set(component):
    """The event for "the learner gave this control a new value".

    Gradio 6's Dropdown fires `input` twice for one pick of an option (measured: a pick, then the same value
    again), which queued a second run of the page behind the first; `select` fires once. Dropdowns that take
    typed values (allow_custom_value) keep `input`, which is the event a typed value raises.
    """
    if isinstance(component, gr.Dropdown) and not component.allow_custom_value:
        return component.select
    return component.input


def on_user_set(controls, fn, inputs, outputs, events=(), **kwargs):
    """One event for all the controls that recompute the same view.

    `trigger_mode="always_last"` orders runs only within one event. With an event per control, moving one
    slider and then another started two runs side by side, and the lane (which favours short jobs) could
    finish the older one last, leaving the page on a view nobody asked for. One event for all of them runs
    one at a time per tab: a change made meanwhile waits, the newest replaces older waiting ones, and each run
    reads every control's value when it starts, so the last run is the view on screen. `events`: other events
    that recompute the same view (a number box's submit, a slider's release), joined to the same one.
    """
    return gr.on([user_set(c) for c in controls] + list(events), fn, inputs, outputs, trigger_mode="always_last",
                 api_visibility="private", **kwargs)


def footer() -> gr.Markdown:
    """The device/model line at the bottom of every page, filled in when the page loads."""
    return gr.Markdown("Checking device and models…", elem_id="gb-footer")


def page_footer(demo: gr.Blocks, page_models: list[str] | None = None, slug: str | None = None) -> None:
    """A page's footer line (naming the page's own models when page_models is given), filled in when the page
    loads, and again each time the page's view is computed (its link box, `<slug>-link`, changes then).

    The load alone raced the page's own opening computation: a first visit's footer said "none loaded yet"
    beside results a model had just made."""
    md = footer()

    def line() -> str:
        return models.status_line(page_models)

    hidden = {"api_visibility": "private", "show_progress": "hidden"}
    demo.load(line, None, md, **hidden)
    link = next((b for b in demo.blocks.values() if slug and getattr(b, "elem_id", None) == f"{slug}-link"), None)
    if link is not None:
        link.change(line, None, md, trigger_mode="always_last", **hidden)
