"""The Create job page's callbacks that act through gtcore: the input data (data setup, manifest check or upload,
the samples), the task type radio (the data is checked again for the new type) and the Clone/Chain prefill (the
source job's manifest is checked). They keep their results in the page's state (``gtcore.ui.jobform_state``),
and a gtcore error they meet goes under the input-data buttons (``jobform_state.fail_data``)."""

from __future__ import annotations

from typing import Any

from gtcore.core import tasktypes
from gtcore.core.access import Actor
from gtcore.core.errors import GTError, ManifestError
from gtcore.core.tasktypes import DEFAULT_TEXTS
from gtcore.jobform import data
from gtcore.jobform.create import form_from_job
from gtcore.jobform.model import default_output
from gtcore.jobs import api as jobs
from gtcore.ui.jobform_state import (
    DATA,
    LABELS,
    OUTPUT_DEFAULT,
    PREFILL,
    apply_form,
    current_task_type,
    fail,
    fail_data,
    follow_type,
    note,
    signed_in,
    ss,
    verification_labels,
)
from gtcore.ui.resources import get_context


def apply_prefill(actor: Actor) -> None:
    """Take a Clone/Chain request left by the Jobs page: prefill from the job, check its input manifest."""
    request = ss().pop(PREFILL, None)
    if not isinstance(request, dict):
        return
    ctx = get_context()
    try:
        form = form_from_job(ctx, actor, str(request.get("job", "")), str(request.get("origin", "")))
        status = jobs.job_summary(ctx, actor, form.source_job).status
    except (GTError, ValueError) as exc:
        fail(exc if isinstance(exc, GTError) else GTError(str(exc)))
        return
    apply_form(form, status)
    check_manifest(form.manifest_uri, source="the source job")


def on_type_change() -> None:
    """The task type radio: the texts and the labels follow the new type."""
    new = str(ss().get("cj_task_type", "BoundingBox"))
    follow_type(new)
    verification_labels(tasktypes.get(new).verifies)
    ss()["cj_data_kind"] = "text" if tasktypes.get(new).text else "image"
    found = ss().get(DATA)
    if found and found.get("manifest_uri"):  # the manifest's lines are checked again for the new type
        check_manifest(found["manifest_uri"], source=str(found.get("source") or "manifest"))


# --------------------------------------------------------------------------- callbacks: input data


def _store_data(manifest_uri: str, count: int, first_lines: list[str], problems: list[Any], source: str) -> None:
    ss()[DATA] = {
        "manifest_uri": manifest_uri,
        "count": count,
        "first_lines": first_lines,
        "problems": problems,
        "source": source,
    }
    if ss().get("cj_output") in ("", ss().get(OUTPUT_DEFAULT)):
        default = default_output(str(get_context().settings.home), ss().get("cj_folder") or manifest_uri)
        ss()[OUTPUT_DEFAULT] = default
        ss()["cj_output"] = default


def do_setup() -> None:
    try:
        setup = data.run_data_setup(
            get_context(), signed_in(), ss().get("cj_folder", ""), kind=str(ss().get("cj_data_kind") or "image")
        )
    except GTError as exc:
        ss().pop(DATA, None)
        return fail_data(exc)
    _store_data(setup.manifest_uri, setup.count, setup.first_lines, [], "data setup")


def check_manifest(uri: str | None = None, source: str = "manifest") -> None:
    try:
        check = data.check_manifest(
            get_context(),
            signed_in(),
            uri if uri is not None else ss().get("cj_manifest_uri"),
            current_task_type(),
        )
    except GTError as exc:
        ss().pop(DATA, None)
        return fail_data(exc)
    _store_data(check.uri, check.count, check.first_lines, check.problems, source)


def do_upload_manifest() -> None:
    upload = ss().get("cj_manifest_file")
    if upload is None:
        return note("Choose a manifest file first.")
    try:
        check = data.save_manifest_upload(
            get_context(), signed_in(), ss().get("cj_name", ""), upload.name, upload.getvalue(), current_task_type()
        )
    except GTError as exc:
        return fail_data(exc)
    _store_data(check.uri, check.count, check.first_lines, check.problems, f"upload {upload.name}")


def do_sample() -> None:
    """Load sample data: sample faces, the folder filled in, data setup run, labels and task type set."""
    ctx = get_context()
    try:
        sample = data.load_sample_data(ctx, signed_in())
    except GTError as exc:
        return fail_data(exc)
    ss()["cj_input_kind"] = "folder"
    ss()["cj_folder"] = str(sample.folder)
    if not ss().get(LABELS):
        ss()["cj_task_type"] = "BoundingBox"
        ss()[LABELS] = list(sample.labels)
        on_type_change()
    if not ss().get("cj_name"):
        ss()["cj_name"] = "sample-faces"
    do_setup()
    note(f"Sample data: {sample.images} faces in {sample.folder}; the data setup ran on them.")


def do_sample_digits() -> None:
    """Load the digits sample (1,797 images with truth, enough for automated data labeling) and set it up."""
    ctx = get_context()
    try:
        sample = data.load_sample_digits(ctx, signed_in())
    except GTError as exc:
        return fail_data(exc)
    ss()["cj_input_kind"] = "folder"
    ss()["cj_folder"] = str(sample.folder)
    ss()["cj_task_type"] = "ImageClassification"
    ss()[LABELS] = list(sample.labels)
    on_type_change()
    title, description, _ = DEFAULT_TEXTS["ImageClassification"]
    if ss().get("cj_title") == title:
        ss()["cj_title"] = data.DIGITS_TITLE
    if ss().get("cj_description") == description:
        ss()["cj_description"] = data.DIGITS_DESCRIPTION
    if not ss().get("cj_name"):
        ss()["cj_name"] = "sample-digits"
    do_setup()
    note(
        f"Sample data: {sample.images:,} handwritten digits in {sample.folder} (their true labels are in "
        f"{sample.truth.name} beside them); the data setup ran on them. Switch on automated data labeling in step 8."
    )


def data_problems() -> ManifestError | None:
    found = (ss().get(DATA) or {}).get("problems") or []
    return ManifestError(found, summary=f"{len(found)} problem(s) in the input manifest") if found else None
