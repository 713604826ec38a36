"""Statistics and export panels of the manifest viewer page (charts in class colours, lint + zip download)."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.manifests import augmented as aug
from gtcore.ui.errors import show_error
from gtcore.ui.viewer_widgets import md_escape
from gtcore.viewer import export, export_masks, export_resolution, export_sinks, provenance
from gtcore.viewer import export_lint as lint
from gtcore.viewer import opener as audit
from gtcore.viewer import table as viewer
from gtcore.viewer.statistics import statistics

_FIX_LABELS = {"fix": "Fix by clipping", "drop": "Drop what has issues", "abort": "Abort if anything is wrong"}


def _bars(df: pd.DataFrame, x: str, y: str, title: str, *, color: str | None = None) -> alt.Chart:
    enc: dict[str, Any] = {"x": alt.X(f"{x}:O", title=title, sort=None), "y": alt.Y(f"{y}:Q", title=y)}
    if color:
        enc["color"] = alt.Color(f"{x}:N", scale=alt.Scale(domain=list(df[x]), range=list(df[color])), legend=None)
    return alt.Chart(df).mark_bar().encode(**enc, tooltip=[x, y]).properties(height=220)


def stats_ui(ctx: Any, actor: Actor, view: viewer.AttributeView, positions: np.ndarray, filtered: bool) -> None:
    """Counts and charts over the filtered lines (never decodes an image)."""
    s = statistics(view, positions if filtered else None)
    st.caption("Over the lines that match the filters." if filtered else "Over the whole file.")
    m = st.columns(5)
    m[0].metric("Images", s.images)
    m[1].metric("Labels", s.labels)
    m[2].metric("Images without labels", s.unlabeled_images)
    m[3].metric("Human / machine", f"{s.human} / {s.machine}")
    m[4].metric("Adjusted / unadjusted", f"{s.adjusted} / {s.unadjusted}")
    if len(s.per_class):
        st.altair_chart(_bars(s.per_class, "class_name", "labels", "Labels per class", color="color"))
        st.dataframe(s.per_class, hide_index=True, key="viewer_stats_classes")
    c1, c2 = st.columns(2)
    noun = "Boxes" if view.kind == aug.OBJECT_DETECTION else "Labels"
    c1.altair_chart(_bars(s.labels_per_image, "labels", "images", f"{noun} per image"))
    if view.kind == aug.OBJECT_DETECTION and s.box_sizes["boxes"].sum():
        c2.altair_chart(_bars(s.box_sizes, "side_px", "boxes", "Box size (square root of area, px)"))
    if s.confidence["labels"].sum():
        st.altair_chart(_bars(s.confidence, "confidence", "labels", "Confidence (bins of 0.05)"))
    workers_ui(ctx, actor, view)


def workers_ui(ctx: Any, actor: Actor, view: viewer.AttributeView) -> None:
    index = provenance.response_index(ctx, actor, view.manifest.uri)
    if not index.files:
        st.caption(md_escape(f"Labels per worker: unknown ({index.reason})."))
        return
    if st.button(f"Count labels per worker ({sum(map(len, index.files.values()))} response files)",
                 key="viewer_workers"):  # fmt: skip
        table, note = provenance.labels_per_worker(ctx, actor, view.manifest)
        if note:
            st.caption(md_escape(note))
        if len(table):
            st.altair_chart(_bars(table, "worker_id", "labels", "Labels per worker"))
            st.dataframe(table, hide_index=True, key="viewer_workers_table")


def masks_export_ui(ctx: Any, view: viewer.AttributeView) -> None:
    """Semantic segmentation: COCO with RLE masks, or the PNG masks, as a zip."""
    assert view.attr is not None
    fmt = st.radio("Format", export_masks.MASK_FORMATS, format_func={"coco": "COCO (RLE masks)",
                   "png": "PNG masks"}.__getitem__, key="viewer_xm_fmt", horizontal=True)  # fmt: skip
    if not st.button("Build the export", key="viewer_xm_build", type="primary"):
        return
    try:
        result = export_masks.export_masks(ctx.storage, view.manifest, view.attr.name, fmt)
    except GTError as exc:
        show_error(exc, prefix="Export aborted")
        return
    st.text(result.summary())
    for line, why in result.skipped[:20]:
        st.warning(md_escape(f"line {line}: {why}"), icon=":material/broken_image:")
    name = f"{view.attr.name}-{fmt}.zip"
    st.download_button(md_escape(f"Download {name}"), export_sinks.zip_bytes(result.files), file_name=name,
                       mime="application/zip", key="viewer_xm_download", on_click="ignore", type="primary")  # fmt: skip


def export_ui(view: viewer.AttributeView, ctx: Any = None) -> None:
    """Lint, choose what to do with the issues, build a zip of COCO / YOLO / Pascal VOC files (masks: COCO RLE
    or PNG)."""
    if audit.is_indexed(view.manifest):  # a large file: exports stream from the command line, not in the page
        fmt = "png" if view.kind == aug.SEMANTIC_SEGMENTATION else "coco"
        name = f" --label-attribute {view.attr.name}" if view.attr else ""
        st.info(
            f"This manifest has {len(view.manifest.records):,} lines: the page does not build its exports (they "
            "would hold the page for minutes). Export it with the command line, which reads the file as a stream:"
        )
        st.code(f"gtcore export --format {fmt}{name} {view.manifest.uri} DEST", language="bash")
        return
    if view.attr is not None and view.kind == aug.SEMANTIC_SEGMENTATION and ctx is not None:
        masks_export_ui(ctx, view)
        return
    if view.attr is None or view.kind != aug.OBJECT_DETECTION:
        st.info("Exports are made from object-detection and semantic-segmentation attributes; pick one above.")
        return
    cols = st.columns(2)
    fmt = cols[0].radio("Format", export.FORMATS, format_func=str.upper, key="viewer_x_fmt", horizontal=True)
    mode = cols[1].radio("When the linter finds issues", export_resolution.MODES, format_func=_FIX_LABELS.__getitem__,
                         key="viewer_x_mode", horizontal=True)  # fmt: skip
    if not st.button("Check and build the export", key="viewer_x_build", type="primary"):
        return
    report = lint.lint(view.manifest, view.attr)
    if report.ok:
        st.success(f"The linter found no issues in {report.lines} lines and {report.boxes} boxes.")
    else:
        counts = ", ".join(f"{n} {code}" for code, n in report.counts().items())
        st.warning(f"The linter found {len(report.issues)} issue(s): {counts}.", icon=":material/rule:")
        st.dataframe(report.table(), hide_index=True, key="viewer_x_issues")
    try:
        result = export.export_files(view.manifest, view.attr, fmt, mode)
    except GTError as exc:
        show_error(exc, prefix="Export aborted")
        return
    st.text(result.resolution.summary())
    name = f"{view.attr.name}-{fmt}.zip"
    st.download_button(md_escape(f"Download {name}"), export_sinks.zip_bytes(result.files), file_name=name,
                       mime="application/zip", key="viewer_x_download", on_click="ignore", type="primary")  # fmt: skip
