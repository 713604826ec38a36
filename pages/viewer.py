"""Manifest viewer (admins and auditors): open an output manifest, look at its labels, export them.

Open a job's output, a local path or s3:// URI (within the allowed folders and buckets), or an
upload; pick a label attribute (optionally a second one to compare side by side); filter; browse a
paged grid of tiles drawn server-side; open one image for its annotations, metadata and each
worker's own answer; read statistics; export COCO / YOLO / Pascal VOC after the linter (masks: COCO with RLE, or PNG).
"""

from __future__ import annotations

import streamlit as st

from gtcore.core.errors import GTError
from gtcore.ui import viewer_panels as panels
from gtcore.ui import viewer_widgets as w
from gtcore.ui.auth import require_actor
from gtcore.ui.errors import show_error
from gtcore.ui.resources import get_context
from gtcore.ui.text_viewer import text_viewer_ui
from gtcore.ui.viewer_indexing import indexing_ui
from gtcore.viewer import opener as audit
from gtcore.viewer import selection
from gtcore.viewer import table as viewer
from gtcore.viewer.text_table import is_text_attribute

actor = require_actor("admin", "auditor")
ctx = get_context()
st.title("Manifest viewer")

manifest = w.source_ui(ctx, actor)
if manifest is None:
    st.info("Open a manifest to start: a job's output, a path or S3 URI, or a file from your computer.")
    st.stop()
if isinstance(manifest, audit.Indexing):  # a large file: its index is being built in the background
    indexing_ui(ctx, actor, manifest)
    st.stop()

w.problems_ui(manifest)
attr, other_attr = w.attribute_ui(manifest)
if is_text_attribute(attr):  # text classification and named entities: their own list, statistics and exports
    assert attr is not None
    text_viewer_ui(ctx, actor, manifest, attr)
    st.stop()
try:
    view = viewer.attribute_view(manifest, attr)
    other = viewer.attribute_view(manifest, other_attr) if other_attr else None
except GTError as exc:
    show_error(exc)
    st.stop()

filters = w.filters_ui(view)
positions = selection.apply_filters(view, filters, other)
w.legend_ui(view)

grid_tab, stats_tab, export_tab = st.tabs(["Images", "Statistics", "Export"])
with grid_tab:
    w.detail_ui(ctx, actor, view, other)
    w.grid_ui(ctx, actor, view, other, positions)
with stats_tab:
    panels.stats_ui(ctx, actor, view, positions, filters.active())
with export_tab:
    panels.export_ui(view, ctx)
