"""The bar every page carries: a link to its current view, lecture mode, the lesson stepper, the JSON export and
links to other pages."""

from __future__ import annotations

import logging
from typing import Callable
from urllib.parse import parse_qsl

import gradio as gr

from apps import class_common
from apps.gradio_common import internals
from apps.gradio_common.serving import export_file
from apps.gradio_common.widgets import Outputs
from core import share

log = logging.getLogger("glassbox.hub")

# After the server sends a page's query string: keep the address bar in step (so the browser's own
# copy and reload work too) and show the whole link, with this page's path, in the link box.
# Plotly fills colour bars with gradients named by the page's full address (url("<address>#id")): a plot drawn
# before the address changed would point at another document and show a blank colour bar, so those references
# follow the new address.
_LINK_JS = """(q) => {
  if (typeof q !== "string" || !q.startsWith("?")) return q;
  window.history.replaceState(window.history.state, "", window.location.pathname + q);
  if (window.gbClass) window.gbClass.moved();  // a lecturer's class follows this view (classbar.js)
  const here = window.location.href.split("#")[0];
  document.querySelectorAll('.js-plotly-plot [style*="url("]').forEach((el) => {
    for (const prop of ["fill", "stroke"]) {
      const m = (el.style[prop] || "").match(/^url\\("?[^#"]*(#[^")]+)"?\\)$/);
      if (m) el.style[prop] = `url("${here}${m[1]}")`;
    }
  });
  return window.location.origin + window.location.pathname + q;
}"""
_LECTURE_JS = "(on) => { document.documentElement.classList.toggle('gb-lecture', !!on); return []; }"


def _is_update(x) -> bool:
    return isinstance(x, dict) and x.get("__type__") == "update"


class ShareBar:
    """What every page carries for a class: a link to its current view (kept in the address bar too), the
    lecture-mode toggle, the lesson stepper, the JSON export and cross-links to other pages.

    Create it under the page's title (the lesson and the toggle go there), then call `wire` at the end of the
    page, once its controls exist (the link box, downloads and cross-links go there). The page opens on the
    view its address names (or its defaults), computed.

    `wire` takes a dict of setting name -> control (a component or a gr.State), in the order of the view's
    settings; the page's Outputs and `show`, from the controls' values to {output name: value} (its usual run);
    and optionally `record` (the results for the JSON export) and `links` (markdown links to other pages).
    Conversions between a control's value and the link's (a gallery path and its name) go in to_param /
    to_control. Nothing here depends on the order of the page's outputs.
    """

    def __init__(self, view: share.View) -> None:
        """The top of the bar: the lesson stepper and the lecture-mode toggle (the link, downloads and
        cross-links go at the end of the page, made by wire(), so the first screen is the demo)."""
        self.view = view
        slug = view.slug
        self.beat = gr.State(-1)  # the lesson beat shown (-1: none yet)
        self.link_notices = gr.State([])  # what was wrong with the link this page opened on
        self.has_lesson = bool(view.lesson)
        # A plain row, not an accordion: Gradio leaves a closed accordion's buttons out of the page.
        with gr.Row(equal_height=True, elem_id=f"{slug}-lesson", elem_classes="gb-lesson"):
            if view.lesson:
                self.prev = gr.Button("⬅️ Back", elem_id=f"{slug}-lesson-prev", elem_classes="gb-lesson-prev",
                                      scale=0, min_width=100, size="sm")
                self.beat_text = gr.Markdown(view.lesson_text(-1), elem_id=f"{slug}-lesson-text",
                                             elem_classes="gb-lesson-text")
                self.next = gr.Button("Next ➡️", elem_id=f"{slug}-lesson-next", elem_classes="gb-lesson-next",
                                      variant="primary", scale=0, min_width=100, size="sm")
            self.lecture = gr.Checkbox(False, label="🎓 Lecture mode", elem_id=f"{slug}-lecture", scale=0,
                                       min_width=170, container=False)

    def _bottom(self) -> None:
        slug = self.view.slug
        self.cross = gr.Markdown("", elem_id=f"{slug}-crosslinks")  # links to other pages, carrying this view
        with gr.Row(elem_classes="gb-share"):
            self.link = gr.Textbox(label="🔗 Link to this view (copy it into a slide)", interactive=False, lines=1,
                                   max_lines=1, buttons=["copy"], elem_id=f"{slug}-link", scale=5, min_width=260)
            self.json = gr.DownloadButton("⬇️ JSON of this view (settings, model, results, link)",
                                          elem_id=f"{slug}-json", scale=1, size="sm", min_width=180)
        self.note = gr.Markdown("", elem_id=f"{slug}-link-note", elem_classes="gb-share-note")
        # The live class (classbar.js draws the class bar and talks to /gb_class): the button that starts one;
        # `klass`, this page's class and question ("K7Q2#3r"), so the JSON export carries the class's question and
        # its results; two hidden buttons the script presses to take the lecturer's view and to set `klass`.
        gr.HTML('<button type="button" class="gb-class-start lg secondary">🏫 Start a live class on this view'
                '</button> <span class="gb-class-hint">Learners join with a code or a QR code, follow your view '
                'and answer your questions.</span>', elem_classes="gb-class-start-row", padding=False)
        self.klass = gr.Textbox("", visible="hidden", container=False, label="Class")
        # Buttons the script presses (a hidden box's value set from a script does not reach Gradio; a click
        # does): each event's own script reads what to send from classbar.js.
        self.follow_btn = gr.Button("Take the lecturer's view", visible="hidden", elem_classes="gb-class-follow")
        self.tag_btn = gr.Button("Note the class", visible="hidden", elem_classes="gb-class-tag")

    def wire(self, controls: dict, outputs: Outputs, show: Callable[[dict], dict],
             to_param: dict[str, Callable] | None = None, to_control: dict[str, Callable] | None = None,
             record: Callable[[dict], dict] | None = None, links: Callable[[dict], str] | None = None) -> None:
        """Make the end of the bar here and connect it all.

        controls: setting name -> control, in the view's order of settings. show: from the controls' values
        (by setting name) to the page's outputs, as {output name: value} like every handler of the page.
        links: markdown of links to other pages that carry the current view (build each with the target page's
        View: registry.view(slug).href(...))."""
        self._bottom()
        assert list(controls) == self.view.names, f"{self.view.slug}: controls {list(controls)} != " \
                                                   f"settings {self.view.names}"
        self.controls, self.outputs, self.show = controls, outputs, show
        self.to_param, self.to_control = to_param or {}, to_control or {}
        self.record, self.links = record, links
        self._connect()

    def _params(self, raw: dict) -> dict:
        """Controls' values -> the link's settings."""
        return {k: self.to_param[k](v) if k in self.to_param else v for k, v in raw.items()}

    def _control_values(self, values: dict) -> dict:
        """The link's settings -> controls' values."""
        return {k: self.to_control[k](v) if k in self.to_control else v for k, v in values.items()}

    def _merged(self, raw: dict, shown: dict) -> dict:
        """Updates for the controls and the page's outputs: where the page's outputs set a control, the page's
        value wins (it clamps a layer to the model's last one, picks the middle patch); else the link's value."""
        res = self.outputs.keyed(shown)
        updates = {}
        for k, c in self.controls.items():
            out = res.pop(c, raw[k])
            updates[c] = {**out, "value": raw[k]} if _is_update(out) and "value" not in out else out
        return {**updates, **res}

    def _shown(self, updates: dict) -> dict:
        """The controls' values after _merged()'s updates (by setting name): what the link must say."""
        return {k: (updates[c].get("value") if _is_update(updates[c]) else updates[c])
                for k, c in self.controls.items()}

    def _export(self, raw: dict, values: dict, lecture: bool, klass: str = "") -> str | None:
        """The JSON of this view, written once per view (an upload, which the settings cannot name, is told
        apart by its path) and reused after that: the link follows every slider move, the export need not.
        In a live class, the class's questions and their results go in too (`klass` changes with each question
        and its reveal, so a new file is written then)."""
        code = klass.split("#")[0]

        def results() -> dict:
            out = dict(self.record(raw))
            live = class_common.export_record(code)
            return {**out, "live_class": live} if live else out

        def build() -> str:
            return share.export_view(self.view, values, lecture, results)

        uploads = {k: raw[k] for k, v in values.items() if v is None and isinstance(raw[k], str)}
        name = share.export_name(self.view.slug, values, ".json", {"lecture": lecture, **uploads,
                                                                   **({"class": klass} if klass else {})})
        return export_file(name, build)

    def _link_state(self, raw: dict, lecture: bool, beat: int, notices: list, klass: str = "") -> dict:
        """The link box, its note, the JSON download and the cross-links, for the controls' values raw."""
        view, lecture = self.view, bool(lecture)
        values = self._params(raw)
        on_beat = view.current_beat(values, beat)
        query = "?" + view.query(values, lecture, None if on_beat is None else on_beat + 1)
        lines = [f"⚠️ {n}" for n in notices] + [f"ℹ️ {n}" for n in view.missing_notes(values)]
        if not lines and view.note_when_missing:
            lines = [share.UPLOAD_HINT]
        cross = ""
        if self.links is not None:
            try:
                cross = self.links(raw)
            except Exception:  # a link that cannot be made is left out, the page goes on
                log.exception("%s: cross-links failed", view.slug)
        return {self.link: query, self.note: "\n\n".join(lines), self.cross: cross,
                self.json: None if self.record is None else self._export(raw, values, lecture, klass or "")}

    def _open_view(self, values: dict, lecture: bool, beat: int, notices: list) -> dict:
        """Everything on the page for the view the settings values name, computed."""
        raw = self._control_values(values)
        updates = self._merged(raw, self.show(raw))
        out = {**updates, **self._link_state(self._shown(updates), lecture, beat, notices),
               self.lecture: lecture, self.beat: beat, self.link_notices: notices}
        if self.has_lesson:
            out[self.beat_text] = self.view.lesson_text(beat)
        return out

    def _connect(self) -> None:
        view, hidden = self.view, {"api_visibility": "private"}
        comps = list(self.controls.values())
        link_outputs = [self.link, self.note, self.json, self.cross]

        def on_change(*args) -> dict:
            *vals, lecture, beat, notices, klass = args
            return self._link_state(dict(zip(self.controls, vals)), lecture, beat, notices, klass)

        gr.on([c.change for c in comps] + [self.lecture.change, self.klass.change], on_change,
              [*comps, self.lecture, self.beat, self.link_notices, self.klass], link_outputs,
              trigger_mode="always_last", show_progress="hidden", **hidden).then(
            None, self.link, self.link, js=_LINK_JS, **hidden)
        self.lecture.change(None, self.lecture, None, js=_LECTURE_JS, **hidden)

        everything = [*comps, *(o for o in self.outputs.list() if all(o is not c for c in comps)), *link_outputs,
                      self.lecture, self.beat, self.link_notices, *([self.beat_text] if self.has_lesson else [])]

        def open_query(q: dict, lecture: bool) -> dict:
            values, notices, beat = view.open_link(q)
            return self._open_view(values, lecture, beat, notices)

        def on_load(request: gr.Request) -> dict:
            q = dict(request.query_params) if request is not None else {}
            return open_query(q, share.lecture_on(q))

        def follow(query: str, lecture: bool) -> dict:
            """A follower's page takes the lecturer's view (her query comes from classbar.js): opened like a link,
            so from the result cache the lecturer's own click filled; lecture mode stays this screen's own."""
            return open_query(dict(parse_qsl(str(query).lstrip("?"), keep_blank_values=True)), lecture)

        # The script's function replaces the inputs: (the lecturer's query, this page's lecture toggle).
        self.follow_btn.click(follow, [self.link, self.lecture], everything, trigger_mode="always_last",
                              show_progress="hidden", js="(q, on) => [window.gbClass.pending(), on]", **hidden).then(
            None, self.link, self.link, js=_LINK_JS, **hidden)
        self.tag_btn.click(lambda t: t, self.klass, self.klass, js="(t) => [window.gbClass.tag()]",
                           show_progress="hidden", **hidden)

        root = internals.root_block()  # the hub (or the page alone): its load event fires per page
        if root is not None:
            root.load(on_load, None, everything, **hidden).then(None, self.link, self.link, js=_LINK_JS, **hidden)
        if self.has_lesson:
            def step(delta: int):
                def go(beat: int, lecture: bool) -> dict:
                    i = min(max(beat + delta, 0), len(view.lesson) - 1)
                    return self._open_view(view.beat_values(i), lecture, i, [])
                return go

            for btn, delta in ((self.prev, -1), (self.next, 1)):
                btn.click(step(delta), [self.beat, self.lecture], everything, trigger_mode="always_last",
                          **hidden).then(None, self.link, self.link, js=_LINK_JS, **hidden)
