"""The Create job page's labels and worker-instructions sections, with the callbacks of their buttons.

Labels: add, remove, reorder, or load a label category configuration file; the task type's limits are
shown and enforced with a message. Instructions: title, description, full instructions in Markdown shown
through ``gtcore.core.textsafe.safe_markdown`` (HTML stays text), and good/bad example images (uploaded, or an
image URI the store allows) with captions. User text is shown with ``st.text`` or Markdown-escaped.
"""

from __future__ import annotations

import streamlit as st

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.core.textsafe import has_markup
from gtcore.jobform import data
from gtcore.jobform import model as jobform
from gtcore.jobform.data import example_preview
from gtcore.jobform.labels import add_label, label_limits_text, move_label, remove_label
from gtcore.ui import jobform_state as fs
from gtcore.ui.instructions_md import show_instructions
from gtcore.ui.label_picker import md_escape
from gtcore.ui.resources import get_context

# --------------------------------------------------------------------------- callbacks


def do_add_label() -> None:
    labels, why = add_label(fs.ss().get(fs.LABELS, []), fs.ss().get("cj_new_label", ""), fs.current_task_type())
    if why:
        return fs.note(f"Label not added: {why}.")
    fs.ss()[fs.LABELS] = labels
    fs.ss()["cj_new_label"] = ""


def do_move_label(index: int, delta: int) -> None:
    fs.ss()[fs.LABELS] = move_label(fs.ss().get(fs.LABELS, []), index, delta)


def do_remove_label(index: int) -> None:
    fs.ss()[fs.LABELS] = remove_label(fs.ss().get(fs.LABELS, []), index)


def do_load_labels() -> None:
    upload = fs.ss().get("cj_label_file")
    if upload is None:
        return fs.note("Choose a label category configuration file first.")
    try:
        fs.ss()[fs.LABELS] = data.labels_from_upload(upload.name, upload.getvalue())
    except GTError as exc:
        return fs.fail(exc)
    fs.note(f"Loaded {len(fs.ss()[fs.LABELS])} labels from {upload.name}.")


def do_add_example() -> None:
    upload, uri = fs.ss().get("cj_ex_file"), str(fs.ss().get("cj_ex_uri", "")).strip()
    ctx = get_context()
    try:
        if upload is not None:
            stored = data.save_example_upload(
                ctx, fs.signed_in(), fs.ss().get("cj_name", ""), upload.name, upload.getvalue()
            )
        elif uri:
            stored = data.check_example_uri(ctx, fs.signed_in(), uri)
        else:
            return fs.note("Upload an example image or give its URI first.")
    except GTError as exc:
        return fs.fail(exc)
    fs.ss()[fs.EXAMPLES] = [
        *fs.ss().get(fs.EXAMPLES, []),
        {
            "kind": fs.ss().get("cj_ex_kind", "good"),
            "image_uri": stored,
            "caption": str(fs.ss().get("cj_ex_caption", "")).strip(),
        },
    ]
    fs.ss()["cj_ex_uri"] = ""
    fs.ss()["cj_ex_caption"] = ""


def do_remove_example(index: int) -> None:
    fs.ss()[fs.EXAMPLES] = [e for i, e in enumerate(fs.ss().get(fs.EXAMPLES, [])) if i != index]


# --------------------------------------------------------------------------- sections


def labels_ui() -> None:
    task_type = fs.current_task_type()
    labels: list[str] = fs.ss().get(fs.LABELS, [])
    st.caption(label_limits_text(task_type) + " The order sets the class ids in the output.")
    for i, label in enumerate(labels):
        c0, c1, c2, c3 = st.columns([8, 1, 1, 1], vertical_alignment="center")
        c0.text(f"{i}: {label}")
        c1.button(
            "",
            key=f"cj_lab_up_{i}",
            icon=":material/arrow_upward:",
            help="Move up",
            disabled=i == 0,
            on_click=do_move_label,
            args=(i, -1),
        )
        c2.button(
            "",
            key=f"cj_lab_down_{i}",
            icon=":material/arrow_downward:",
            help="Move down",
            disabled=i == len(labels) - 1,
            on_click=do_move_label,
            args=(i, 1),
        )
        c3.button(
            "", key=f"cj_lab_del_{i}", icon=":material/delete:", help="Remove", on_click=do_remove_label, args=(i,)
        )
    c0, c1 = st.columns([8, 3], vertical_alignment="bottom")
    c0.text_input("New label", key="cj_new_label", max_chars=256, help="At most 256 characters; labels are unique.")
    c1.button("Add label", key="cj_add_label", on_click=do_add_label, icon=":material/add:")
    with st.expander("Or load a label category configuration file"):
        st.file_uploader(
            '{"document-version":"2018-11-28","labels":[{"label":"cat"},...]}',
            key="cj_label_file",
            type=["json"],
            help="Replaces the list above.",
        )
        st.button("Load labels", key="cj_load_labels", on_click=do_load_labels, icon=":material/upload_file:")
    for p in jobform.label_problems(labels, task_type):
        st.warning(md_escape(p.message), icon=":material/warning:")


def instructions_ui(ctx: Context, actor: Actor) -> None:
    st.text_input("Task title", key="cj_title", max_chars=128, help="What workers see in their job list.")
    st.text_input(
        "Task description",
        key="cj_description",
        max_chars=255,
        help="One or two sentences; also the short instructions beside each task.",
    )
    full = st.text_area(
        "Full instructions (Markdown)",
        key="cj_full",
        height=160,
        help="Headings, lists, **bold**, http(s) and mailto links, the job's example images (![text](its URI)). "
        "HTML is shown as text, never run; other images and links show as their text.",
    )
    if full:
        with st.expander("How workers will see the full instructions"):
            shown = fs.ss().get(fs.EXAMPLES, [])
            show_instructions(full, [e["image_uri"] for e in shown], lambda uri: example_preview(ctx, actor, uri))
        if has_markup(full):
            st.caption("HTML tags in the instructions are shown as text, not rendered.")
    examples = fs.ss().get(fs.EXAMPLES, [])
    for i, ex in enumerate(examples):
        c0, c1, c2 = st.columns([2, 6, 1], vertical_alignment="center")
        img = example_preview(ctx, actor, ex["image_uri"])
        if img.ok and img.jpeg is not None:
            c0.image(img.jpeg, width=120)
        else:
            c0.caption(md_escape(f"not shown: {img.error}"))
        c1.text(f"{ex['kind'].capitalize()} example: {ex['caption'] or '(no caption)'}\n{ex['image_uri']}")
        c2.button(
            "", key=f"cj_ex_del_{i}", icon=":material/delete:", help="Remove", on_click=do_remove_example, args=(i,)
        )
    with st.expander("Add a good or bad example image", icon=":material/add_photo_alternate:"):
        st.radio(
            "Kind",
            ["good", "bad"],
            key="cj_ex_kind",
            horizontal=True,
            format_func=str.capitalize,
            help="Good examples show labels done right; bad ones show mistakes to avoid.",
        )
        st.file_uploader(
            "Upload an image",
            key="cj_ex_file",
            type=["png", "jpg", "jpeg"],
            help="Stored in the data home under uploads/<job name>/.",
        )
        st.text_input(
            "Or an image URI",
            key="cj_ex_uri",
            placeholder="s3://bucket/examples/good-1.jpg",
            help="A path or S3 URI of an existing .png or .jpg (used when no file is uploaded).",
        )
        st.text_input("Caption", key="cj_ex_caption", max_chars=255, help="What the example shows, in a few words.")
        st.button("Add example", key="cj_add_example", on_click=do_add_example, icon=":material/add:")
