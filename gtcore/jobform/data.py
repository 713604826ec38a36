"""The Create job form's data actions: data setup, manifest checks, uploads, sample data, the preview task.

Every function takes the acting user and needs the admin role (PermissionDenied otherwise): they read
input data or write into the store on a team lead's behalf.

Uploads (a manifest file, good/bad example images, the label category file the form writes from its
list) go through the store to ``<GT_HOME>/uploads/<job name>/<sha256 prefix>-<file name>``: the name
carries the content hash, so a second upload of other bytes never replaces a file an existing job
points at, and the same bytes are stored once.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from gtcore.context import Context
from gtcore.core import tasktypes
from gtcore.core.access import Actor, require_admin
from gtcore.core.errors import ImageError, ObjectNotFound, Problem, ValidationError
from gtcore.images import decoding as images
from gtcore.images import task_images as taskimages
from gtcore.jobform.model import JobForm, instructions_of, upload_folder_name
from gtcore.jobs.preflight import too_many
from gtcore.manifests import datasetup, datasetup_text, sample_digits, samples
from gtcore.manifests.datasetup import DataSetup
from gtcore.manifests.jsonl import load_manifest
from gtcore.manifests.label_config import dumps_label_config, parse_label_config
from gtcore.manifests.label_config_ner import dumps_ner_label_config
from gtcore.manifests.text_sources import text_source_problems
from gtcore.queue import answer_checks as answers
from gtcore.queue.previous import previous_mask
from gtcore.queue.task import Task

PREVIEW_LINES = 5
EXAMPLE_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
SAMPLE_FOLDER = ("samples", "faces")
SAMPLE_COUNT = 12


@dataclass
class ManifestCheck:
    """An input manifest looked at before creating: how many objects, its first lines, every problem."""

    uri: str
    count: int  # lines without problems
    problems: list[Problem] = field(default_factory=list)
    first_lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.count > 0


def uploads_uri(ctx: Context, job_name: str, filename: str, data: bytes) -> str:
    """``<GT_HOME>/uploads/<job>/<sha256[:16]>-<safe file name>`` (normalized by the store)."""
    base = PurePath(filename or "upload").name
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")[:100] or "upload"
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = ctx.settings.home / "uploads" / upload_folder_name(job_name)
    return ctx.storage.normalize(str(folder / f"{digest}-{safe}"))


def _save(ctx: Context, uri: str, data: bytes) -> str:
    if not ctx.storage.exists(uri):  # content-addressed: an existing file already holds these bytes
        ctx.storage.write_bytes(uri, data)
    return uri


def run_data_setup(ctx: Context, actor: Actor, prefix_uri: str, *, kind: str = "image") -> DataSetup:
    """Automated data setup: list the images (``kind="image"``) or read the .txt/.csv files (``kind="text"``: one
    object per line or row) under a folder or S3 prefix, and write the input manifest there."""
    require_admin(actor, action="set up input data")
    if kind == "text":
        return datasetup_text.generate_text_manifest(ctx.storage, (prefix_uri or "").strip())
    if kind != "image":
        raise ValidationError([Problem(f"unknown data type {kind!r}: image or text", field="data type")])
    return datasetup.generate_manifest(ctx.storage, (prefix_uri or "").strip())


def check_manifest(ctx: Context, actor: Actor, uri: str, task_type: str | None = None) -> ManifestCheck:
    """Read and validate an input manifest; every bad line is a Problem with its line number.

    With a text ``task_type`` every line's text is checked (``source``, or the file a ``source-ref`` names);
    otherwise every line needs an image ``source-ref``.

    Raises StorageError when the manifest cannot be read (missing, not allowed, store down).
    """
    require_admin(actor, action="check input manifests")
    norm = ctx.storage.normalize((uri or "").strip())
    records, problems = load_manifest(ctx.storage, norm)
    tt = tasktypes.TASK_TYPES.get(task_type or "")
    if tt is not None and tt.text:
        problems.extend(text_source_problems(records, ctx.storage, norm))
    else:
        for i, rec in enumerate(records):
            if "source-ref" not in rec:
                problems.append(
                    Problem(
                        "image task types need source-ref (an image URI); this line has inline source text "
                        "(for text, pick a text task type in step 4)",
                        norm,
                        i + 1,
                    )
                )
                break  # one is enough to say the manifest does not fit
    total = len(records) + len({p.line for p in problems if p.line is not None})
    if total > ctx.settings.max_objects:
        problems.append(Problem(too_many(ctx.settings.max_objects), norm))
    first: list[str] = []
    for line in ctx.storage.iter_lines(norm):
        if len(first) >= PREVIEW_LINES:
            break
        first.append(line[:500])
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return ManifestCheck(uri=norm, count=len(records), problems=problems, first_lines=first)


def save_manifest_upload(
    ctx: Context, actor: Actor, job_name: str, filename: str, data: bytes, task_type: str | None = None
) -> ManifestCheck:
    """Store an uploaded manifest under the uploads folder and check it."""
    require_admin(actor, action="upload input manifests")
    _check_size(filename, data)
    uri = _save(ctx, uploads_uri(ctx, job_name, filename, data), data)
    return check_manifest(ctx, actor, uri, task_type)


def _check_size(filename: str, data: bytes) -> None:
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            [Problem(f"the file is {len(data):,} bytes; uploads are limited to {MAX_UPLOAD_BYTES:,}", filename)],
            summary=f"{filename} was not stored",
        )


def save_example_upload(ctx: Context, actor: Actor, job_name: str, filename: str, data: bytes) -> str:
    """Store an uploaded good/bad example image; returns its URI. ImageError when it is not a usable image."""
    require_admin(actor, action="upload example images")
    _check_size(filename, data)
    if not (filename or "").lower().endswith(EXAMPLE_SUFFIXES):
        raise ImageError(f"{filename}: example images must be {', '.join(EXAMPLE_SUFFIXES)} files", uri=filename)
    images.probe(data, uri=filename)  # not an image, SVG, too many pixels -> ImageError naming the file
    return _save(ctx, uploads_uri(ctx, job_name, filename, data), data)


def check_example_uri(ctx: Context, actor: Actor, uri: str) -> str:
    """The normalized URI of an existing example image; UriNotAllowed / ObjectNotFound naming it otherwise."""
    require_admin(actor, action="choose example images")
    norm = ctx.storage.normalize((uri or "").strip())
    if not ctx.storage.exists(norm):
        raise ObjectNotFound(f"example image {norm} does not exist", norm)
    return norm


def example_preview(ctx: Context, actor: Actor, uri: str, max_side: int = 240) -> taskimages.DisplayImage:
    """A small JPEG of an example image for the form's list (the error says why when it cannot be shown)."""
    require_admin(actor, action="view example images")
    return taskimages.display_image(ctx, uri, max_side)


def write_label_config(
    ctx: Context, actor: Actor, job_name: str, labels: list[str], *, instructions: dict[str, Any] | None = None
) -> str:
    """Write the label category configuration file for ``labels``; returns its URI. ``instructions`` (the form's
    Instructions: named entity recognition) go into the file as Ground Truth's shortInstruction/fullInstruction."""
    require_admin(actor, action="write label configurations")
    if instructions is not None:
        short = str(instructions.get("Short") or "").strip() or "Label the entities of the text."
        full = str(instructions.get("Full") or "").strip() or short
        data = dumps_ner_label_config(labels, short, full).encode("utf-8")
    else:
        data = dumps_label_config(labels).encode("utf-8")
    return _save(ctx, uploads_uri(ctx, job_name, "labels.json", data), data)


def labels_from_upload(filename: str, data: bytes) -> list[str]:
    """The labels of an uploaded label category configuration file; ValidationError naming the file."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            [Problem(f"not valid UTF-8 at byte offset {exc.start}", filename)],
            summary=f"label category config {filename} is not valid",
        ) from None
    return parse_label_config(text, where=filename).labels


def load_sample_data(ctx: Context, actor: Actor, count: int = SAMPLE_COUNT) -> samples.SampleSet:
    """Create the sample faces under ``<GT_HOME>/samples/faces`` (labels eye, mouth, ear)."""
    folder = Path(ctx.settings.home).joinpath(*SAMPLE_FOLDER)
    return samples.make_sample_faces(actor, folder, count)


DIGITS_TITLE = "Which digit is this?"
DIGITS_DESCRIPTION = "Pick the digit (0-9) that the handwritten image shows."


def load_sample_digits(ctx: Context, actor: Actor) -> sample_digits.DigitSet:
    """scikit-learn's 1,797 digits as 64x64 PNGs under ``<GT_HOME>/samples/digits`` (labels 0-9), with truth.json;
    written once (a second call re-uses them)."""
    require_admin(actor, action="load sample data")
    folder = Path(ctx.settings.home) / "samples" / "digits"
    if (folder / "truth.json").is_file() and len(list(folder.glob("digit-*.png"))) >= sample_digits.DIGITS_IN_PACKAGE:
        return sample_digits.DigitSet(folder, sample_digits.DIGITS_IN_PACKAGE, sample_digits.DIGIT_LABELS,
                                      folder / "truth.json")  # fmt: skip
    return sample_digits.make_digits(folder)


def _first_line(ctx: Context, uri: str) -> dict[str, Any]:
    for text in ctx.storage.iter_lines(uri):
        if text.strip():
            try:
                value = json.loads(text)
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}


def preview_task(ctx: Context, actor: Actor, form: JobForm) -> Task:
    """A stand-in for the first task of the job the form describes (``assignment_id`` -1): the labeling
    screen renders it exactly as an annotator would get it, and nothing is created or saved."""
    require_admin(actor, action="preview labeling jobs")
    tasktypes.get(form.task_type)
    uri = ctx.storage.normalize(form.manifest_uri.strip())
    line = _first_line(ctx, uri)
    ref = line.get("source-ref")
    previous = None
    tt = tasktypes.get(form.task_type)
    source = form.source_attribute or form.verify_attribute.strip() or None
    if tasktypes.SOURCE_OUTPUT_TYPE.get(tt.name) == tasktypes.SEMANTIC_SEGMENTATION.output_type:
        previous = previous_mask(line, source)  # semantic-segmentation sources
    elif tt.is_adjustment or tt.verifies:
        previous = answers.previous_boxes(line, source, list(form.labels) if tt.is_adjustment else [])
    return Task(
        assignment_id=-1,
        job_id=-1,
        job_name=form.name.strip() or "preview",
        object_idx=0,
        source_ref=ref if isinstance(ref, str) else None,
        line=line,
        task_type=form.task_type,
        labels=list(form.labels),
        lease_expires_at=0.0,
        accepted_at=0.0,
        draft=None,
        status="preview",
        instructions=instructions_of(form),
        previous=previous,
    )
