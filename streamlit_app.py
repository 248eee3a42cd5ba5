"""Glassbox Streamlit hub: streamlit run streamlit_app.py

The same DEMOS list and the same logic modules as the Gradio hub (app.py).
"""

from __future__ import annotations

import importlib

import streamlit as st

from apps import streamlit_class
from apps.registry import DEMOS
from apps.streamlit_common import start_warmup
from core import classroom, models

# Streamlit draws captions at 60% opacity (#828180, 3.9:1 on white); WCAG AA asks 4.5:1 for text. Keyboard focus
# gets the same 3-px ring as in the Gradio hub (Streamlit marks a focused field by a faint border). On a phone every
# tap target is 44 x 44 px or more (WCAG 2.5.5): buttons, fields, tabs, the rows of radios and checkboxes; the
# headings' anchor links (16 px, and nothing a learner needs) are left out there.
STYLE = """<style>
[data-testid=stCaptionContainer] {opacity: 0.85;}
:root :is(a, button, input, select, textarea, summary, [tabindex]):focus-visible {
  outline: 3px solid #1d4ed8 !important; outline-offset: 2px !important;
}
@media (max-width: 640px) {
  .stApp :is(button, [role=tab], a[data-testid=stPageLink-NavLink], textarea,
             input:not([type=range]):not([type=checkbox]):not([type=radio])) {min-height: 44px !important;
                                                                                 min-width: 44px !important;}
  .stApp label:has(input[type=checkbox]), .stApp label:has(input[type=radio]) {min-height: 44px; align-items: center;}
  .stApp [data-testid=stHeaderActionElements] {display: none;}
}
</style>"""
st.set_page_config(page_title="Glassbox", page_icon="🔍", layout="wide")
st.markdown(STYLE, unsafe_allow_html=True)
start_warmup()  # once per server process, in the background: the first visit of a page is not a cold start


def home() -> None:
    st.title("🔍 Glassbox")
    st.write("Interactive demos that open up vision and generative models, in teaching order: from where a "
             "classifier looks to how a diffusion model draws. Every demo runs offline on a laptop and names the "
             "model it runs. Each page has a short lesson (Next, Back or the ← → keys), a link to its exact view, "
             "and a 🎓 lecture mode for the projector (or add `?lecture=1` to any address).")
    cols = st.columns(4)
    for i, d in enumerate(DEMOS):
        with cols[i % 4].container(border=True):
            st.caption(f"Step {i + 1}")
            st.markdown(f"### {d.icon} {d.title}")
            st.write(d.pitch)
            if d.try_first:
                st.markdown(f"**Try first:** {d.try_first}")
            if d.built:
                st.page_link(f"apps/{d.slug}/page_streamlit.py", label="Open", icon="▶️")
            else:
                st.caption("coming soon")
    with st.form("gb_class_join", border=False):  # a learner who has the code, not the link
        code = st.text_input("🏫 Join a live class: type the code on the lecturer's screen", max_chars=8,
                             placeholder="K7Q2")
        if st.form_submit_button("Join") and code.strip():
            st.query_params[classroom.CLASS_KEY] = code.strip().upper()
            st.rerun()


pages = [st.Page(home, title="Home", icon="🔍", default=True)]
pages += [st.Page(f"apps/{d.slug}/page_streamlit.py", title=d.title, icon=d.icon, url_path=d.slug)
          for d in DEMOS if d.built]
current = st.navigation(pages)
streamlit_class.bar()  # the live class, above the page (nothing when this session is in no class)
current.run()
st.divider()
slug = current.url_path
page_models = None  # the home page names every model in memory, a demo page only its own
if slug in {d.slug for d in DEMOS if d.built}:
    page_models = list(getattr(importlib.import_module(f"apps.{slug}.logic"), "MODEL_CHOICES", []))
st.caption(models.status_line(page_models))
