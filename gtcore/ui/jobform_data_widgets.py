"""The Create job page's data sections: sample data, the input data (folder with automated data setup, an
existing manifest, or an uploaded one: its check result and first lines) and the output location. Their callbacks
are in ``gtcore.ui.jobform_actions``; user text (file names, manifest lines) is shown escaped."""

from __future__ import annotations

from typing import Any

import streamlit as st

from gtcore.ui import jobform_actions as fa
from gtcore.ui import jobform_state as fs
from gtcore.ui.errors import show_error
from gtcore.ui.label_picker import md_escape

INPUT_KINDS = {
    "folder": "Folder or S3 prefix (automated data setup)",
    "uri": "Existing manifest (path or S3 URI)",
    "upload": "Upload a manifest file",
}


def sample_ui() -> None:
    with st.expander("New here? Load sample data", icon=":material/school:", expanded=not fs.ss().get(fs.DATA)):
        st.write(
            "Creates 12 synthetic 240x240 faces (eyes, mouth, ears) in the data home, fills in the input "
            "folder, runs the data setup and adds the labels eye, mouth and ear, so you can try the whole flow."
        )
        st.button("Load sample data", key="cj_sample", on_click=fa.do_sample, icon=":material/face:")
        st.write(
            "Or, to try automated data labeling: scikit-learn's 1,797 handwritten digits (64x64, labels 0-9, "
            "their true labels in truth.json beside them) as a single-label image classification job."
        )
        st.button("Load digits for automated labeling", key="cj_sample_digits", on_click=fa.do_sample_digits,
                  icon=":material/pin:")  # fmt: skip


def input_ui(o: dict[str, Any]) -> None:
    if o["origin"] == "chain":
        st.caption(
            "A chained job reads the previous job's output manifest; to add objects, edit that manifest and "
            "create a new job from it."
        )
    else:
        kind = st.radio(
            "Where is the data?",
            list(INPUT_KINDS),
            format_func=INPUT_KINDS.get,
            key="cj_input_kind",
            horizontal=True,
            help="A folder or S3 prefix gets an input manifest written into it; a "
            'manifest lists one {"source-ref": ...} per line.',
        )
        if kind == "folder":
            text = (
                st.radio(
                    "Data type",
                    ["image", "text"],
                    format_func={
                        "image": "Images (.jpg, .jpeg, .png)",
                        "text": "Text (.txt: one per line, .csv: one per row)",
                    }.get,
                    key="cj_data_kind",
                    horizontal=True,
                )
                == "text"
            )
            st.text_input(
                "Text files folder or S3 prefix" if text else "Images folder or S3 prefix",
                key="cj_folder",
                placeholder="/data/texts or s3://bucket/texts/" if text else "/data/images or s3://bucket/images/",
                help="Every .txt (one object per line) and .csv (one object per row, one cell) under it is read "
                'into {"source": ...} lines; a bad line is named and nothing is written.'
                if text
                else "Every .jpg, .jpeg and .png under it is listed, like the console's data setup.",
            )
            st.button("Complete data setup", key="cj_setup", on_click=fa.do_setup, icon=":material/dataset:")
        elif kind == "uri":
            st.text_input(
                "Input manifest",
                key="cj_manifest_uri",
                placeholder="s3://bucket/data/dataset.manifest",
                help="A path or S3 URI of a JSON Lines manifest.",
            )
            st.button("Check manifest", key="cj_check", on_click=fa.check_manifest, icon=":material/fact_check:")
        else:
            st.file_uploader(
                "Manifest file",
                key="cj_manifest_file",
                type=["manifest", "jsonl", "json", "txt"],
                help="Stored in the data home under uploads/<job name>/, then checked.",
            )
            st.button("Use this file", key="cj_use_upload", on_click=fa.do_upload_manifest, icon=":material/upload:")
    failed = fs.ss().pop(fs.DATA_ERROR, None)
    if failed is not None:  # next to the button that caused it, in full
        show_error(failed)
    found = fs.ss().get(fs.DATA)
    if not found:
        st.caption("No input data chosen yet.")
        return
    problem = fa.data_problems()
    if problem is not None:
        show_error(problem)
    else:
        n = found["count"]
        st.success(
            md_escape(f"{n:,} object{'' if n == 1 else 's'} from {found['source']}."), icon=":material/check_circle:"
        )
    st.text(f"Input manifest: {found['manifest_uri']}")
    if found["first_lines"]:
        st.code("\n".join(found["first_lines"]), language=None)


def output_ui() -> None:
    st.text_input(
        "Output location",
        key="cj_output",
        help="A folder or s3://bucket/prefix/; the job writes "
        "<location>/<job name>/ (manifests, annotations). Defaults under the data home, or next to an S3 "
        "input prefix.",
    )
