"""What the Streamlit pages share."""

from __future__ import annotations

import streamlit as st

from core import models


@st.cache_resource(show_spinner="Loading the model (first time only)…")
def cached_model(name: str) -> models.Loaded:
    """One loaded model per process, shared by every session (core.models caches too; this adds
    Streamlit's spinner and keeps the model across script reruns)."""
    return models.load(name)


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
