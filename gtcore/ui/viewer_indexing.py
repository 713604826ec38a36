"""The manifest viewer while a large manifest's index is built in the background: says so, shows the first lines
read directly from the file's start, and reloads the page by itself when the index is ready."""

from __future__ import annotations

from typing import Any

import streamlit as st

from gtcore.core.access import Actor
from gtcore.ui import viewer_widgets as w
from gtcore.viewer import index, selection
from gtcore.viewer import opener as audit
from gtcore.viewer import table as viewer

CHECK_SECONDS = 2.0


def _state_text(pending: audit.Indexing) -> str:
    mb = pending.size / 1e6
    if pending.state == "building":
        return f"Indexing this {mb:,.0f} MB manifest in the background: {pending.percent} % done."
    return f"This {mb:,.0f} MB manifest is about to be indexed in the background (once; later openings take a second)."


@st.fragment(run_every=CHECK_SECONDS)
def _progress(ctx: Any, pending: audit.Indexing) -> None:
    st_now = index.status(ctx.settings, pending.uri)
    state = str(st_now.get("state", ""))
    if state not in ("queued", "building", "failed"):  # the index is in place: open it
        st.rerun(scope="app")
    live = audit.Indexing(pending.uri, pending.size, state, int(st_now.get("done", 0)), "", None)
    if state == "failed":
        st.rerun(scope="app")
    st.info(_state_text(live), icon=":material/hourglass_top:")
    st.progress(live.percent / 100)


def indexing_ui(ctx: Any, actor: Actor, pending: audit.Indexing) -> None:
    """Everything the page can show before the index is ready."""
    st.caption(w.md_escape(f"{pending.uri}: {pending.size:,} bytes"))
    if pending.state == "failed":
        st.error(w.md_escape(f"Indexing this manifest failed: {pending.error}"), icon=":material/error:")
        st.caption("Use “Reload from storage” above to try again.")
    else:
        _progress(ctx, pending)
    preview = pending.preview
    if preview is None:
        return
    st.subheader(f"The first {len(preview.records):,} lines")
    st.caption(
        "Read directly from the start of the file. Filters, statistics, comparison and exports over the whole "
        "file come when the index is ready; this page then reloads by itself."
    )
    w.problems_ui(preview)
    attr = preview.attributes[0] if preview.attributes else None
    view = viewer.attribute_view(preview, attr)
    w.legend_ui(view)
    w.detail_ui(ctx, actor, view, None)
    w.grid_ui(ctx, actor, view, None, selection.apply_filters(view, selection.Filters()))
