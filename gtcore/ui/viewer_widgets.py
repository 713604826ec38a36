"""Streamlit widgets of the manifest viewer page: source picker, filters, grid, detail panel.

Each ``*_ui()`` helper draws its widgets (keys prefixed ``viewer_``), calls gtcore and returns what
the page needs. Session state holds only small ids (source, selected line, page). User text
(source-refs, class names, worker ids) is shown as plain text, escaped markdown, tables or pixels.
"""

from __future__ import annotations

import posixpath
from typing import Any

import pandas as pd
import streamlit as st

from gtcore.core import textsafe
from gtcore.core.access import Actor
from gtcore.core.colors import parse_hex
from gtcore.core.errors import GTError
from gtcore.images.drawing import legend_image
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.ui.errors import show_error
from gtcore.viewer import opener as audit
from gtcore.viewer import provenance, selection, tiles
from gtcore.viewer import table as viewer

SOURCE = "viewer_source"  # {"kind": "job"|"uri"|"upload", "id"|"uri"|"name": ...}
SELECTED = "viewer_selected"  # position of the line shown in the detail panel
PAGE = "viewer_page"


def md_escape(text: str) -> str:
    """``text`` on one line with every markdown (and Streamlit directive) character escaped."""
    return textsafe.md_escape(text, single_line=True)


def reset_view() -> None:
    st.session_state.pop(SELECTED, None)
    st.session_state[PAGE] = 1


def _open(ctx: Any, actor: Actor, source: dict, refresh: bool) -> AugmentedManifest | audit.Indexing | None:
    if source["kind"] == "job":
        return audit.open_job_output_for_view(ctx, actor, int(source["id"]), refresh=refresh)
    if source["kind"] == "uri":
        return audit.open_for_view(ctx, actor, source["uri"], refresh=refresh)
    upload = st.session_state.get("viewer_upload")
    if upload is None:
        return None
    return audit.open_upload(actor, upload.name, upload.getvalue())


def source_ui(ctx: Any, actor: Actor) -> AugmentedManifest | audit.Indexing | None:
    """Pick a job output, a path / S3 URI or an upload; return the opened manifest (or None), or, for a large
    file whose index is being built in the background, what the build says (``Indexing``)."""
    with st.expander("Open a manifest", expanded=SOURCE not in st.session_state):
        kind = st.segmented_control(
            "Source", ["Job output", "Path or S3 URI", "Upload"], default="Job output", key="viewer_kind"
        )
        chosen: dict | None = None
        if kind == "Job output":
            outputs = audit.list_job_outputs(ctx, actor)
            if not outputs:
                st.info("No labeling jobs yet: open a path, an S3 URI or an upload instead.")
            else:
                job = st.selectbox("Job", outputs, format_func=lambda j: j.label, key="viewer_job")
                chosen = {"kind": "job", "id": job.job_id} if job else None
        elif kind == "Path or S3 URI":
            uri = st.text_input("Manifest path or URI", key="viewer_uri", placeholder="s3://bucket/job/manifests/...")
            chosen = {"kind": "uri", "uri": uri.strip()} if uri.strip() else None
        else:
            up = st.file_uploader("Manifest file", key="viewer_upload")
            chosen = {"kind": "upload", "name": up.name} if up is not None else None
        if st.button("Open", key="viewer_open", type="primary", disabled=chosen is None):
            st.session_state[SOURCE] = chosen
            reset_view()
    source = st.session_state.get(SOURCE)
    if not source:
        return None
    refresh = st.button("Reload from storage", key="viewer_reload", type="tertiary")
    if refresh:
        tiles.forget_failures()
    try:
        with st.spinner("Reading the manifest..."):
            return _open(ctx, actor, source, refresh)
    except GTError as exc:
        show_error(exc, prefix="Cannot open the manifest")
        return None


def problems_ui(manifest: AugmentedManifest) -> None:
    st.caption(md_escape(f"{manifest.uri}: {len(manifest.records)} lines"))
    if manifest.problems:
        bad = len(manifest.problems) + audit.problems_beyond(manifest)
        st.warning(f"{bad} line(s) could not be read and are not shown.", icon=":material/warning:")
        with st.expander("Lines that could not be read"):
            st.code("\n".join(str(p) for p in manifest.problems[:500]), language=None)


def attribute_ui(manifest: AugmentedManifest) -> tuple[LabelAttribute | None, LabelAttribute | None]:
    """The attribute to show and, optionally, a second one to compare side by side."""
    attrs = manifest.attributes
    if not attrs:
        st.info("This manifest has no label attributes (an input manifest?): images are shown without labels.")
        return None, None
    left, right = st.columns(2)
    attr = left.selectbox("Label attribute", attrs, format_func=lambda a: a.label, key="viewer_attr",
                          on_change=reset_view)  # fmt: skip
    others = [a for a in attrs if a.name != attr.name]
    if not others:
        return attr, None
    other = right.selectbox("Compare with", [None, *others], key="viewer_compare",
                            format_func=lambda a: "(nothing)" if a is None else a.label)  # fmt: skip
    return attr, other


def filters_ui(view: viewer.AttributeView) -> selection.Filters:
    """Filters in the sidebar; any change goes back to page 1."""
    sb = st.sidebar
    sb.subheader("Filters")
    legend = view.legend()
    classes = sb.multiselect("Class", [c for c, _n, _h in legend], key="viewer_f_class", on_change=reset_view,
                             format_func=lambda c: f"{c}: {view.class_names.get(c, '')}")  # fmt: skip
    low = sb.checkbox("Confidence below a threshold", key="viewer_f_low", on_change=reset_view)
    threshold = sb.slider("Threshold", 0.0, 1.0, 0.5, 0.05, key="viewer_f_thr", disabled=not low, on_change=reset_view)
    by = sb.radio("Labeled by", selection.LABELED_BY, key="viewer_f_by", horizontal=True, on_change=reset_view)
    adj = sb.radio("Adjustment", selection.ADJUSTMENT, key="viewer_f_adj", horizontal=True, on_change=reset_view)
    empty = sb.checkbox("Only images with no labels", key="viewer_f_empty", on_change=reset_view)
    text = sb.text_input("source-ref contains", key="viewer_f_text", on_change=reset_view)
    verdicts = selection.verification_choices(view.manifest)
    verdict: tuple[str, str] | None = None
    if verdicts:
        by_text = {f"{a}: {v}": (a, v) for a, v in verdicts}
        chosen = sb.selectbox("Verification result", ["all", *by_text], key="viewer_f_verdict", on_change=reset_view)
        verdict = by_text.get(str(chosen))
    return selection.Filters(tuple(classes), threshold if low else None, by, adj, empty, text, tuple(verdict or ()))


def legend_ui(view: viewer.AttributeView) -> None:
    legend = view.legend()
    if legend:
        entries = [(f"{c}: {name}", parse_hex(hexc)) for c, name, hexc in legend[:60]]
        st.image(legend_image(entries), caption=None)


def failed_positions(ctx: Any, actor: Actor, manifest: AugmentedManifest) -> frozenset[int]:
    """The lines of failed objects, when the manifest is the output of one of our jobs (else none known)."""
    source = st.session_state.get(SOURCE) or {}
    if source.get("kind") != "job":
        return frozenset()
    try:
        return audit.failed_positions(ctx, actor, int(source["id"]), manifest)
    except GTError:
        return frozenset()


def label_count_text(view: viewer.AttributeView, pos: int, failed: frozenset[int] = frozenset()) -> str:
    """``"1 box"``, ``"3 boxes"``, ``"2 labels"``; a failed object (no label: declined or expired) says so, and a
    line without the attribute is "not labeled", never "0 boxes" like an image labeled empty."""
    row = view.images.loc[pos]
    if pos in failed:
        return "failed: not labeled (declined by the workers or expired)"
    if not bool(row["has_label"]):
        return "not labeled"
    n = int(row["labels"])
    noun = ("box", "boxes") if view.kind == "object-detection" else ("label", "labels")
    return f"{n} {noun[0] if n == 1 else noun[1]}"


def _tile_label(view: viewer.AttributeView, pos: int, tile: tiles.Tile, failed: frozenset[int]) -> str:
    row = view.images.loc[pos]
    name = posixpath.basename(str(row["source_ref"])) or "(no source-ref)"
    count = label_count_text(view, pos, failed)
    return f"line {row['line']} · {name} · {count}" + (f" · {tile.note}" if tile.note else "")


def _labeled_by_badge(view: viewer.AttributeView, pos: int) -> str:
    """Human vs machine label (metadata ``human-annotated``) as a coloured tag after the tile caption."""
    by = view.images.loc[pos].get("human_annotated", "")
    return " · :orange[machine label]" if by == "no" else (" · :blue[human label]" if by == "yes" else "")


def grid_ui(ctx: Any, actor: Actor, view: viewer.AttributeView, other: viewer.AttributeView | None,
            positions: Any) -> None:  # fmt: skip
    """A page of tiles (pairs when comparing) with an Open button each."""
    top = st.columns([2, 2, 6])
    per_page = top[0].selectbox("Per page", (12, 24, 48), index=1, key="viewer_per_page", on_change=reset_view)
    pages = selection.page_count(len(positions), per_page)
    st.session_state[PAGE] = min(max(1, int(st.session_state.get(PAGE, 1))), pages)
    page = top[1].number_input(f"Page (of {pages})", 1, pages, key=PAGE)
    top[2].caption(f"{len(positions)} of {len(view.images)} lines match")
    shown = selection.page_of(positions, int(page), per_page)
    if not shown:
        st.info("No lines match the filters.")
        return
    failed = failed_positions(ctx, actor, view.manifest)
    with st.spinner("Drawing tiles..."):
        main = tiles.render_page(ctx, actor, view, shown)
        second = tiles.render_page(ctx, actor, other, shown) if other else None
    per_row = 4
    for start in range(0, len(shown), per_row // (2 if other else 1)):
        cols = st.columns(per_row)
        chunk = shown[start : start + per_row // (2 if other else 1)]
        for k, pos in enumerate(chunk):
            i = start + k
            slots = (
                [(cols[2 * k], main[i], view), (cols[2 * k + 1], second[i], other)]
                if second
                else [(cols[k], main[i], view)]
            )
            for col, tile, v in slots:
                col.image(tile.jpeg)
                label = _tile_label(v, pos, tile, failed) if v is view else (v.attr.name if v and v.attr else "")
                col.caption(md_escape(label) + (_labeled_by_badge(v, pos) if v is not None else ""))
            if cols[2 * k if second else k].button("Open", key=f"viewer_open_{pos}", type="tertiary"):
                st.session_state[SELECTED] = pos
                st.rerun()


def _panel(ctx: Any, actor: Actor, v: viewer.AttributeView, pos: int, slot: str) -> None:
    tile = tiles.render(ctx, actor, v, pos, side=tiles.DETAIL_SIDE)
    with st.container(key=f"viewer_detail_{slot}"):  # a CSS class the browser test finds the picture by
        st.image(tile.jpeg)
    for text in (tile.reason, tile.note):
        if text:
            st.caption(md_escape(text))
    st.dataframe(viewer.annotations_table(v, pos), hide_index=True, key=f"viewer_ann_{v.attr.name if v.attr else ''}")
    st.json(viewer.detail(v, pos), expanded=True)


def detail_ui(ctx: Any, actor: Actor, view: viewer.AttributeView, other: viewer.AttributeView | None) -> None:
    """The selected line: full image, annotation table, metadata, and each worker's own answer."""
    pos = st.session_state.get(SELECTED)
    if pos is None or not 0 <= int(pos) < len(view.images):
        return
    pos = int(pos)
    head = st.columns([8, 1])
    count = label_count_text(view, pos, failed_positions(ctx, actor, view.manifest))
    head[0].subheader(f"Line {view.images.at[pos, 'line']}: {count}")
    if head[1].button("Close", key="viewer_close"):
        st.session_state.pop(SELECTED, None)
        st.rerun()
    cols = st.columns(2) if other else [st.container()]
    for col, v, slot in zip(cols, [view, other], ["main", "other"], strict=False):
        with col:
            if other and v is not None and v.attr:
                st.text(v.attr.name)
            _panel(ctx, actor, v, pos, slot)  # type: ignore[arg-type]
    provenance_ui(ctx, actor, view, pos)
    st.divider()


def provenance_ui(ctx: Any, actor: Actor, view: viewer.AttributeView, pos: int) -> None:
    try:
        answers = provenance.answers_for(ctx, actor, view.manifest, view.attr, pos)
    except GTError as exc:
        show_error(exc, prefix="Worker responses")
        return
    if not answers:
        return
    st.markdown(f"**Worker answers ({len(answers)})**")
    src = str(view.images.at[pos, "source_ref"])
    cols = st.columns(min(3, len(answers)))
    for i, ans in enumerate(answers):
        with cols[i % len(cols)]:
            st.text(f"{ans.worker_id}\n{ans.submission_time}")
            if ans.boxes:
                st.image(tiles.render_image(ctx, actor, src, side=480, boxes=ans.boxes).jpeg)
                rows = [{k: getattr(b, k) for k in ("class_name", "left", "top", "width", "height")} for b in ans.boxes]
                st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"viewer_worker_{i}")
            else:
                st.text("answer: " + (", ".join(ans.labels) or "(nothing)"))
