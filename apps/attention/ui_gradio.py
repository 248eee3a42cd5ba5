"""Attention heatmaps page for Gradio. Runnable alone: python -m apps.attention.ui_gradio"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from apps import registry
from apps.attention import logic
from apps.gradio_common import Outputs, ShareBar, explainer, export_file, on_user_set, user_set, warning
from core import api, models
from core.errors import UserError

HERE = Path(__file__).parent
MODEL_LABELS = [(models.MODELS[m].title, m) for m in logic.MODEL_CHOICES]
MEAN = "mean over heads"
FIGURES = ("heat", "head_view", "roll", "png", "html")  # what views() sets


def attention_api(text: str, model: str = logic.DEFAULT_MODEL, text_pair: str | None = None) -> dict:
    """Attention weights of every layer and head. See the README for the returned fields."""
    clock = api.Clock()
    try:
        result = logic.attend(text, model or logic.DEFAULT_MODEL, text_pair)
        clock.lap("model")
        values = logic.share_values(result, model or logic.DEFAULT_MODEL, text, text_pair)
        return {**logic.api_payload(result, clock), "share_url": logic.VIEW.url(values)}
    except UserError as exc:
        raise gr.Error(str(exc)) from exc


def _head(choice) -> int | None:
    return None if choice in (None, "", MEAN) else int(str(choice).split()[-1])


def _stem(r: logic.AttentionResult, layer: int, head: int | None) -> str:
    key = hashlib.sha1(" ".join(r.tokens).encode()).hexdigest()[:10]
    return f"attention-{r.model}-{key}-L{layer}-{'mean' if head is None else f'H{head}'}"


def views(r: logic.AttentionResult | None, layer, head_choice, token) -> dict:
    """The figures that depend on layer/head/token, from the cached result: no model call."""
    if r is None:
        return dict.fromkeys(FIGURES)
    layer = min(int(layer), r.n_layers - 1)
    head = _head(head_choice)
    head = head if head is None or head < r.n_heads else None  # a link's head the model lacks: the mean
    token = min(int(token or 0), len(r.tokens) - 1)
    png = export_file(f"{_stem(r, layer, head)}.png", logic.heatmap_png(r, layer, head))
    # None for the HTML file: one prepared for another view would no longer match the screen
    return {"heat": logic.heatmap_figure(r, layer, head), "head_view": logic.head_view_figure(r, layer, token),
            "roll": logic.rollout_figure(r, layer), "png": png, "html": None}


def make_html(r: logic.AttentionResult | None, layer, head_choice):
    """The interactive HTML (about 5 MB with plotly.js inlined): written only when asked for,
    not on every slider move."""
    if r is None:
        return None
    layer, head = min(int(layer), r.n_layers - 1), _head(head_choice)
    return export_file(f"{_stem(r, layer, head)}.html", logic.figure_html(logic.heatmap_figure(r, layer, head)))


def run(text, pair, model, layer, head_choice, token) -> dict:
    try:
        r = logic.attend(text, model, pair or None)
    except UserError as exc:
        return warning(str(exc))
    status = [f"**Model:** {r.model_label}",
              f"{len(r.tokens)} tokens · {r.n_layers} layers × {r.n_heads} heads · "
              + ("causal: each token sees only itself and earlier tokens" if r.causal else
                 "bidirectional: every token sees every token")]
    status += [f"⚠️ {n}" for n in r.notices]
    layer = min(int(layer), r.n_layers - 1)
    token_choices = [(f"{i}: {t}", i) for i, t in enumerate(r.tokens)]
    token = token if token is not None and int(token) < len(r.tokens) else min(7, len(r.tokens) - 1)
    return {"status": "\n\n".join(status), "result": r,
            "layer": gr.update(maximum=r.n_layers - 1, value=layer),
            "head": gr.update(choices=[MEAN] + [f"head {h}" for h in range(r.n_heads)]),
            "token": gr.update(choices=token_choices, value=token),
            "grid": logic.model_view_sheet(r),
            "stats": logic.stats_figure(r),  # one per sentence: it does not depend on the sliders
            **views(r, layer, head_choice, token)}


def _layout() -> SimpleNamespace:
    """The page's components (and per-session states), by the names build() wires them by."""
    with gr.Row(elem_classes="gb-aside"):  # the sentence, like the model line, goes below the map in lecture mode
        with gr.Column(scale=2):
            text = gr.Textbox(value=next(iter(logic.PRESETS.values())), label="Sentence", lines=2,
                              elem_id="attention-text")
            pair = gr.Textbox(label="Second sentence (optional; joined with [SEP], bidirectional models only)",
                              elem_id="attention-pair", elem_classes="gb-advanced")
        with gr.Column(scale=1):
            preset = gr.Dropdown(list(logic.PRESETS), value=None, label="Presets that teach")
            model = gr.Dropdown(MODEL_LABELS, value=logic.DEFAULT_MODEL, label="Model", elem_classes="gb-advanced")
            go = gr.Button("Show attention", variant="primary")
    status = gr.Markdown(elem_id="attention-status", elem_classes="gb-aside")
    with gr.Row():
        layer = gr.Slider(0, 5, value=5, step=1, label="Layer")
        head = gr.Dropdown([MEAN] + [f"head {h}" for h in range(12)], value=MEAN, label="Head")
        token = gr.Dropdown([], value=None, label="Token for the head view")
    with gr.Tabs():
        with gr.Tab("Heatmap"):
            heat = gr.Plot(elem_id="attention-heatmap", show_label=False)  # the figure's title says what it is
            with gr.Row():
                png = gr.DownloadButton("⬇️ PNG of this heatmap")
                html_btn = gr.Button("Prepare the interactive HTML (about 5 MB, opens offline)")
            html = gr.File(label="Interactive HTML", elem_id="attention-html")
        with gr.Tab("Head view") as head_tab:
            head_view = gr.Plot(elem_id="attention-headview")
        with gr.Tab("Model view (all layers × heads)"):
            gr.Markdown("Each square is one head (row = query token), layers down, heads across. "
                        "Click one to open it in the Heatmap tab.")
            grid = gr.Image(label="Model view: every head, layers down, heads across", interactive=False,
                           show_label=False, buttons=["download"], elem_id="attention-grid", elem_classes="gb-pick")
        with gr.Tab("Rollout") as roll_tab:
            roll = gr.Plot(elem_id="attention-rollout")
        with gr.Tab("Head statistics") as stats_tab:
            stats = gr.Plot(elem_id="attention-stats")

    return SimpleNamespace(**locals())  # every component made above, by its name


def build() -> None:
    """Add the attention page (and its /attention API endpoint) to the current Blocks context."""
    gr.Markdown("# 🔦 Attention heatmaps: what does each head look at?\n"
                "Type a sentence. Every row of a heatmap is one token's attention: how it mixes the other tokens.")
    result = gr.State(None)  # the AttentionResult of this session: the sliders only redraw it
    bar = ShareBar(logic.VIEW)
    ui = _layout()
    hidden = {"api_visibility": "private"}
    # A control's events run for its latest value: a change made while the last one is still computing is
    # queued (the newest replaces older ones) instead of dropped, so the page always ends on what was asked.
    last = {**hidden, "trigger_mode": "always_last"}
    inputs = [ui.text, ui.pair, ui.model, ui.layer, ui.head, ui.token]
    outs = Outputs(status=ui.status, result=result, layer=ui.layer, head=ui.head, token=ui.token, grid=ui.grid,
                   stats=ui.stats, heat=ui.heat, head_view=ui.head_view, roll=ui.roll, png=ui.png, html=ui.html)
    run_all, outputs = outs.fn(run), outs.list()
    redo_views, figures = outs.fn(views), outs.list(*FIGURES)

    def from_grid(r, evt: gr.SelectData):
        cell = logic.model_view_cell(r, *evt.index) if r is not None else None
        if cell is None:
            return gr.update(), gr.update()
        return gr.update(value=cell[0]), gr.update(value=f"head {cell[1]}")

    ui.go.click(run_all, inputs, outputs, **hidden)
    ui.text.submit(run_all, inputs, outputs, **hidden)
    user_set(ui.model)(run_all, inputs, outputs, **last)
    user_set(ui.preset)(lambda p: logic.PRESETS.get(p, ""), ui.preset, ui.text, **last).then(run_all, inputs, outputs,
                                                                                    **hidden)
    on_user_set([ui.layer, ui.head, ui.token], redo_views, [result, ui.layer, ui.head, ui.token], figures)
    ui.grid.select(from_grid, result, [ui.layer, ui.head], **hidden).then(
        redo_views, [result, ui.layer, ui.head, ui.token], figures, **hidden)
    ui.html_btn.click(make_html, [result, ui.layer, ui.head], ui.html, **hidden)

    # Plotly sizes a figure to its container when it is drawn; one drawn in a hidden tab came out half as
    # wide. Drawing again when a tab opens (from the kept result: no model call) fills the width.
    def redraw(kind):
        def draw(r, lay, tok):
            if r is None:
                return gr.update()
            lay = min(int(lay), r.n_layers - 1)
            if kind == "head":
                return logic.head_view_figure(r, lay, min(int(tok or 0), len(r.tokens) - 1))
            return logic.rollout_figure(r, lay) if kind == "rollout" else logic.stats_figure(r)
        return draw

    tabs = ((ui.head_tab, "head", ui.head_view), (ui.roll_tab, "rollout", ui.roll), (ui.stats_tab, "stats", ui.stats))
    for tab, kind, plot in tabs:
        tab.select(redraw(kind), [result, ui.layer, ui.token], plot, show_progress="hidden", **hidden)

    def show(c: dict) -> dict:
        return run(c["text"], c["pair"], c["model"], c["layer"], c["head"], c["token"])

    def record(c: dict) -> dict:
        return logic.api_payload(logic.attend(c["text"], c["model"], c["pair"] or None), api.Clock())

    def links(c: dict) -> str:  # the same layer and head, over patches instead of words
        head_ = "mean" if _head(c["head"]) is None else str(_head(c["head"]))
        href = registry.view("vit_patches").href(layer=c["layer"], head=head_)
        return (f"🧩 [Attention over image patches instead of words: the ViT patch viewer at layer {c['layer']}, "
                f"{c['head'] or MEAN}]({href})")

    bar.wire({"text": ui.text, "pair": ui.pair, "model": ui.model, "layer": ui.layer, "head": ui.head,
              "token": ui.token},
             outs, show,
             to_param={"head": lambda h: "mean" if _head(h) is None else str(_head(h)),
                       "token": lambda t: 7 if t is None else int(t), "pair": lambda p: p or ""},
             to_control={"head": lambda h: MEAN if h == "mean" else f"head {h}"}, record=record, links=links)
    explainer("How attention works (and why it is not an explanation)", HERE)
    gr.api(attention_api, api_name="attention")


if __name__ == "__main__":
    from apps.gradio_common import launch_page

    launch_page(build, "Glassbox · Attention heatmaps")
