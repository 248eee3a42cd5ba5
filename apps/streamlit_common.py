"""What the Streamlit pages share."""

from __future__ import annotations

import streamlit as st

from core import lane, models


def load_model(name: str) -> models.Loaded:
    """The model from core's one bounded cache (shared by every session, GLASSBOX_MAX_MODELS applies),
    loaded on the compute lane, with a spinner while that takes a moment."""
    with st.spinner("Loading the model (first time only)…"):
        return lane.run(lambda: models.load(name), "load_model")


def top5_chart(top5: list[dict], height: int = 220) -> None:
    """Horizontal probability bars on a fixed 0..1 axis, so before/after charts compare honestly."""
    import altair as alt

    data = alt.Data(values=[{"class": f"{t['label']} ({t['index']})", "probability": t["prob"]} for t in top5])
    chart = alt.Chart(data).mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        y=alt.Y("class:N", sort="-x", title=None),
        tooltip=["class:N", alt.Tooltip("probability:Q", format=".2%")],
    ).properties(height=height)
    st.altair_chart(chart, width="stretch")
