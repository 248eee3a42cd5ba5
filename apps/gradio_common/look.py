"""How every Gradio page looks: the stylesheet, the script in each page's <head>, the theme's fonts."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from core import share

CSS = """
.gb-cards {display:grid; grid-template-columns:repeat(auto-fill,minmax(260px,1fr)); gap:16px;}
.gb-card {display:block; text-align:left; border:1px solid var(--border-color-primary); border-radius:12px;
          padding:18px;
          background:var(--block-background-fill); text-decoration:none !important; color:inherit !important;}
.gb-card h3 {margin:4px 0 6px 0; font-size:1.25rem;}
.gb-card .gb-icon {font-size:2.2rem;}
.gb-card .gb-step {float:right; font-size:.8rem; font-weight:700; opacity:.7;}
.gb-card .gb-try {font-size:.9rem; border-left:3px solid #0072b2; padding-left:6px;}
.gb-card .gb-tag {font-size:.8rem; font-weight:600; padding:2px 8px; border-radius:999px;}
/* Tag colours with 4.5:1 or more against their white text (WCAG AA); a coming topic is dashed, not faded. */
.gb-ready .gb-tag {background:#15803d; color:white;}
.gb-soon {border-style:dashed;}
.gb-soon .gb-tag {background:#4b5563; color:white;}
.gb-error {border:2px solid #dc2626; border-radius:12px; padding:16px;}
/* Gradio's "Use via API" lists the current page's endpoints: none on the landing page, which lists them all. */
body:has(.gb-cards) footer .show-api {display:none;}
.gb-api {margin-top:8px;} .gb-api h2 {font-size:1.2rem; margin:0 0 4px 0;} .gb-api li {margin:2px 0;}
/* Galleries: the asked number of columns, each shrinking to fit. Gradio sizes them in fixed pixels, which cut
   off the last column (and heads 9-11 of the attention model view) on a 1024-pixel projector. */
.grid-container {grid-template-columns:repeat(var(--grid-cols), minmax(0, 1fr)) !important;}
.grid-container .thumbnail-item {width:100% !important; height:auto !important; aspect-ratio:1 / 1;}
/* ...and the gallery is as tall as its rows (Gradio's height="auto" still reserves 450 px). */
.grid-wrap.fixed-height {min-height:0 !important; max-height:none !important; height:auto !important;}
/* A dropdown's text stops short of its arrow instead of running under it. */
.secondary-wrap input {padding-right:26px !important; text-overflow:ellipsis;}
#gb-footer {font-size:.85rem; opacity:.85; border-top:1px solid var(--border-color-primary); padding-top:6px;}
.gb-share {align-items:end;} .gb-share-note {font-size:.85rem; opacity:.85;}
.gb-lesson {align-items:center; border:1px solid var(--border-color-primary); border-radius:8px; padding:2px 6px;}
.gb-lesson-text p {margin:0;}
/* Lecture mode (?lecture=1 or the toggle): every text size 1.5x (the theme defines them on :root, so the
   class goes on <html> too), bigger figures and plot labels, advanced controls out of the way. */
html.gb-lecture {font-size:150%; --text-xxs:14px; --text-xs:15px; --text-sm:18px; --text-md:21px; --text-lg:24px;
                 --text-xl:33px; --text-xxl:39px;}
html.gb-lecture .prose h1 {font-size:1.4rem;}
html.gb-lecture .nav-holder a {font-size:15px;}  /* the top bar stays one line; the page below is what is read */
/* The first screen is the picture (a 1024x768 projector shows it in its top half): the page's intro sentence gives
   way to the lesson, the lesson bar keeps to two lines, and the results' notes (model line, status) move below the
   pictures, except a warning (a ### heading), which stays above them. */
html.gb-lecture .block:has(h1):has(+ .gb-lesson) p {display:none;}
html.gb-lecture .prose h1 {margin-bottom:0;}
html.gb-lecture .block:has(h1) {overflow:visible !important;}  /* not a 1-px scroll box (axe: keyboard can't scroll) */
html.gb-lecture .column {gap:8px !important;}
html.gb-lecture .gb-lesson > .block:not(.gb-lesson-text) {flex:0 0 auto !important; min-width:0 !important;
                                                           width:auto !important;}
html.gb-lecture .gb-main > .column > .block.hide-container:has(.prose):not(:has(h3)) {order:5;}
html.gb-lecture .gb-aside {order:1;}  /* a page's inputs and notes above its pictures, moved below them */
html.gb-lecture #gb-footer {order:2;}
/* Results first and the whole width wide, the controls below them: the pictures grow about 1.5x. */
html.gb-lecture .gb-main {flex-wrap:wrap;}
html.gb-lecture .gb-main > div:first-child {order:2; flex:1 1 100% !important; min-width:100% !important;}
html.gb-lecture .gb-main > div:nth-child(2) {order:1; flex:1 1 100% !important; min-width:100% !important;}
html.gb-lecture .block:has(> .image-container) {height:auto !important;}
/* A block's label takes its own lines instead of covering the picture or box under it. */
html.gb-lecture label[data-testid="block-label"] {position:relative !important;}
html.gb-lecture .gb-advanced {display:none !important;}
html.gb-lecture .gb-share-note {font-size:1rem;}
/* Phones (390 px wide): the lesson's text takes a line of its own above Back / Next and the lecture toggle (it was
   squeezed to a column two letters wide between them). The page menu's rule is in HEAD: it sits outside the app,
   and Gradio scopes this stylesheet to the app. */
@media (max-width: 640px) {
  .gb-lesson {flex-wrap:wrap !important; gap:6px !important;}
  .gb-lesson > .gb-lesson-text {order:-1; flex:1 1 100% !important; min-width:100% !important;}
  .gb-lesson > button, .gb-lesson > .block:not(.gb-lesson-text) {flex:1 1 auto !important; min-width:0 !important;}
  /* The columns stack: the results come first, as in lecture mode, so that the picture is not below every control. */
  .gb-main > div:first-child {order:2;}
  .gb-main > div:nth-child(2) {order:1;}
  /* Every tap target 44 x 44 px or more (a thumb is not a mouse pointer; WCAG 2.5.5): buttons (the pictures'
     corner icons too), tabs, fields, the rows of radios and checkboxes, slider tracks. */
  button:not(.tab-container button), a.download-link {min-height:44px !important; min-width:44px !important;}
  [role=tab] {min-height:44px !important;}  /* not its width: Gradio measures tabs to fold the extra ones away */
  input:not([type=range]):not([type=radio]):not([type=checkbox]), textarea, select {min-height:44px !important;}
  label:has(> input[type=radio]), label:has(> input[type=checkbox]) {min-height:44px !important;
                                                                     align-items:center !important;}
  input[type=range] {min-height:44px !important;}
  .tab-like-container {height:auto !important;}  /* a slider's number box and reset button, 24 px tall before */
  .gb-card, [id$=-crosslinks] a {min-height:44px; display:inline-block;}
  /* Plotly's tool bar shows for good on a touch screen, over the plot's title; fingers pinch to zoom instead. */
  .js-plotly-plot .modebar-container {display:none !important;}
  /* A result's notes (model line, status) after its pictures, as in lecture mode; a warning stays first. */
  .gb-main > .column > .block.hide-container:has(.prose):not(:has(h3)) {order:5;}
  /* Galleries at four across at most: eight 42-px faces in a row are too small to see. */
  .grid-container {grid-template-columns:repeat(auto-fill, minmax(76px, 1fr)) !important;}
}
"""

# Every page's <head> (head.html): rules for what sits outside the app (the page menu) or must not be scoped to it
# (focus rings), lecture mode from the URL before the first paint, the lesson's arrow keys, pictures clicked by
# keyboard, names mended for screen readers, and plot text at lecture size.
# The live class's bar and script (classbar.js) come last: the bar sits outside the app, above it.
HEAD = (Path(__file__).with_name("head.html").read_text(encoding="utf-8")
        .replace("ARROW_KEY_CONTROLS", share.ARROW_KEY_CONTROLS)
        + "<style>" + Path(__file__).with_name("classbar.css").read_text(encoding="utf-8") + "</style>"
        + "<script>" + Path(__file__).with_name("classbar.js").read_text(encoding="utf-8") + "</script>")


# Gradio's default theme asks for Source Sans Pro at 400 and 600, but the SemiBold file it ships is a
# 55-glyph subset (A and B among the capitals, no C-Z): 600-weight text mixed those glyphs with a fallback
# font, so "Grad-CAM" read "Grad-CᴀM". The Regular and Bold files are complete; 600 renders as Bold.
# Nothing is fetched from the network: both files ship inside Gradio.
#
# The primary colour is Gradio's orange two shades darker from 400 up: white on orange-500 (#f97316) is 2.8:1, and
# WCAG AA asks 4.5:1 for text; the orange-700 the buttons now use (#c2410c) is 5.2:1 with white, 5.2:1 on white for
# a selected tab's text. The light shades (backgrounds behind dark text) stay as they were.
_ORANGE = gr.themes.colors.orange
PRIMARY = gr.themes.Color(
    c50=_ORANGE.c50, c100=_ORANGE.c100, c200=_ORANGE.c200, c300=_ORANGE.c300, c400=_ORANGE.c600,
    c500=_ORANGE.c700, c600=_ORANGE.c800, c700=_ORANGE.c900, c800=_ORANGE.c900, c900=_ORANGE.c950,
    c950=_ORANGE.c950, name="glassbox-orange")


def theme() -> gr.themes.Base:
    font = [gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"]
    # Subdued text (the upload box's "- or -", a plot's empty note) is neutral-400 by default, 1.9:1 on white.
    return gr.themes.Default(font=font, primary_hue=PRIMARY).set(body_text_color_subdued="*neutral_600")
