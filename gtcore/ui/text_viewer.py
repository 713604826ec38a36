"""The manifest viewer for text attributes (text classification, multi-label, named entities).

Filters (labels, by whom: people or automated labeling, a piece of the text), a paged list of the lines with their
labels (NER: the text with its entities in class colours, drawn by ``gtcore.viewer.text_table.highlight_html``
from escaped text), statistics, and the exports of ``gtcore.viewer.export_text`` after its linter. Widget keys
start with ``viewer_t_``.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.core.textsafe import md_escape
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.ui.errors import show_error
from gtcore.viewer import export_text
from gtcore.viewer import opener as audit
from gtcore.viewer import text_table as tt

PER_PAGE = 20
WHO_TITLES = {"all": "Everyone", "human": "People", "machine": "Automated labeling"}


def _rows(manifest: AugmentedManifest, attr: LabelAttribute) -> list[tt.TextRow]:
    key = ("text_rows", attr.name)
    if key not in manifest.cache:
        manifest.cache[key] = tt.text_rows(manifest, attr)
    rows: list[tt.TextRow] = manifest.cache[key]
    return rows


def _line_ui(row: tt.TextRow, kind: str, order: list[str]) -> None:
    with st.container(border=True):
        who = {True: "people", False: "automated labeling", None: "not labeled"}[row.human]
        conf = "" if row.confidence is None else f", confidence {row.confidence:g}"
        st.caption(f"Line {row.line}: labeled by {who}{conf}")
        if row.text is None:
            st.text(f"(text in the file {row.ref})" if row.ref else "(no text)")
        elif kind == aug.NAMED_ENTITY:
            st.html(tt.highlight_html(row.text, row.entities, order))
        else:
            st.text(row.text if len(row.text) <= 2000 else row.text[:2000] + " …")
        if kind == aug.NAMED_ENTITY and row.entities and row.text is not None:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "label": e.label,
                            "text": row.text[e.start : e.end],
                            "start": e.start,
                            "end": e.end,
                            "confidence": e.confidence,
                        }  # fmt: skip
                        for e in row.entities
                    ]
                ),
                hide_index=True,
            )
        elif kind != aug.NAMED_ENTITY:
            st.markdown(" ".join(f"`{md_escape(x, single_line=True)}`" for x in row.labels) or "*no label*")


def _stats_ui(rows: list[tt.TextRow], positions: list[int], kind: str) -> None:
    s = tt.text_statistics(rows, positions)
    c = st.columns(4)
    c[0].metric("Lines", f"{s['lines']:,}")
    c[1].metric("By people", f"{s['human']:,}")
    c[2].metric("By automated labeling", f"{s['machine']:,}")
    c[3].metric("Not labeled", f"{s['unlabeled']:,}")
    y = "entities" if kind == aug.NAMED_ENTITY else "lines"
    st.altair_chart(
        alt.Chart(s["labels"]).mark_bar().encode(x=alt.X("label:N", sort=None), y=f"{y}:Q", tooltip=["label", y]),
        width="stretch",
    )
    st.dataframe(s["labels"], hide_index=True)
    st.altair_chart(
        alt.Chart(s["confidence"]).mark_bar().encode(x=alt.X("confidence:N", sort=None), y="lines:Q"),
        width="stretch",
    )
    if kind == aug.NAMED_ENTITY:
        mean = s["mean_entity_length"]
        st.caption(f"{s['entities']:,} entities" + (f", {mean:.1f} characters long on average" if mean else ""))


def _export_ui(manifest: AugmentedManifest, attr: LabelAttribute) -> None:
    formats = export_text.TEXT_FORMATS[attr.type]
    fmt = st.radio("Format", formats, key="viewer_t_fmt", horizontal=True,
                   format_func={"conll": "CoNLL-2003 (BIO)", "spacy": "spaCy JSON", "jsonl": "JSON Lines",
                                "csv": "CSV"}.get)  # fmt: skip
    if not st.button("Check and build the export", key="viewer_t_build", type="primary"):
        return
    try:
        result = export_text.export_text(manifest, attr, str(fmt))
    except GTError as exc:
        show_error(exc, prefix="Export aborted")
        return
    st.text(result.summary())
    if result.issues:
        st.dataframe(pd.DataFrame([vars(i) for i in result.issues[:500]]), hide_index=True)
    ((name, data),) = result.files.items()
    st.download_button(f"Download {name}", data, file_name=f"{attr.name}-{name}", key="viewer_t_download",
                       on_click="ignore", type="primary")  # fmt: skip


def text_viewer_ui(ctx: Any, actor: Actor, manifest: AugmentedManifest, attr: LabelAttribute) -> None:
    """The viewer's body for a text attribute (the page has opened the manifest and picked ``attr``)."""
    if audit.is_indexed(manifest):  # its list would be read line by line in this request: not for a large file
        fmt = "conll" if attr.type == aug.NAMED_ENTITY else "jsonl"
        st.info(
            f"This manifest has {len(manifest.records):,} lines: the page lists text attributes of files under "
            f"{audit.index.INDEX_FROM_BYTES >> 20} MB only. Export this one with the command line:"
        )
        st.code(f"gtcore export --format {fmt} --label-attribute {attr.name} {manifest.uri} DEST", language="bash")
        return
    rows = _rows(manifest, attr)
    order = tt.label_names(rows)
    c0, c1, c2 = st.columns([2, 1, 2])
    chosen = c0.multiselect("Labels", order, key="viewer_t_labels", placeholder="any label")
    who = c1.selectbox("Labeled by", tt.WHO, format_func=WHO_TITLES.__getitem__, key="viewer_t_who")
    contains = c2.text_input("Text contains", key="viewer_t_contains", max_chars=200)
    positions = tt.filter_rows(rows, labels=chosen, who=str(who), contains=contains)
    lines_tab, stats_tab, export_tab = st.tabs(["Lines", "Statistics", "Export"])
    with lines_tab:
        pages = max(1, -(-len(positions) // PER_PAGE))
        page = int(st.number_input(f"Page (of {pages})", 1, pages, key="viewer_t_page")) if pages > 1 else 1
        st.caption(f"{len(positions):,} of {len(rows):,} lines")
        for pos in positions[(page - 1) * PER_PAGE : page * PER_PAGE]:
            _line_ui(rows[pos], attr.type, order)
    with stats_tab:
        _stats_ui(rows, positions, attr.type)
    with export_tab:
        _export_ui(manifest, attr)
