"""Provenance: each worker's own answer for a manifest line, from the worker-response files beside it.

Ground Truth (and this install) keep the unconsolidated answers at::

    <job>/annotations/worker-response/iteration-<N>/<datasetObjectId>/<timestamp>.json  = {"answers": [...]}

where the manifest is ``<job>/manifests/output/output.manifest`` (or ``manifests/intermediate/<N>/``).
``datasetObjectId`` is the 0-based line index of the input manifest, i.e. the output line index.
Each answer holds ``workerId``, ``submissionTime``, ``timeSpentInSeconds`` and ``answerContent``
(``{"<element>": {"boundingBoxes": [{label, left, top, width, height}]}}`` for boxes,
``{"<element>": {"label": ...}}`` / ``{"labels": [...]}`` for classification).

The folder is listed once per manifest (cached ``INDEX_TTL`` seconds); files are read on demand.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select

from gtcore.core import db as dbm
from gtcore.core.access import Actor, require_reader
from gtcore.core.errors import GTError, StorageError
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, Box, LabelAttribute
from gtcore.viewer.table import class_names_of

_MANIFEST = re.compile(r"^(?P<job>.+)/manifests/(?:output|intermediate/[^/]+)/output\.manifest$")
INDEX_TTL = 60.0
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class WorkerAnswer:
    worker_id: str
    dataset_object_id: int
    iteration: str
    uri: str
    submission_time: str
    time_spent: float | None
    boxes: tuple[Box, ...]  # object detection: the worker's own boxes
    labels: tuple[str, ...]  # classification: chosen label(s); boxes: their labels
    content: dict  # answerContent as written


@dataclass
class ResponseIndex:
    prefix: str | None  # <job>/annotations/worker-response/ ; None when the manifest has no job folder
    files: dict[int, list[str]]  # datasetObjectId -> response file URIs (sorted)
    reason: str = ""  # why there is no provenance, when ``files`` is empty


def job_folder(manifest_uri: str) -> str | None:
    """``<job>`` for a manifest at ``<job>/manifests/output/output.manifest``; None otherwise."""
    m = _MANIFEST.match(manifest_uri.replace("\\", "/"))
    return m.group("job") if m else None


_INDEX: dict[str, tuple[float, ResponseIndex]] = {}
_LOCK = threading.Lock()


def response_index(ctx: Any, actor: Actor, manifest_uri: str, *, refresh: bool = False) -> ResponseIndex:
    """Which worker-response files exist for each line of the manifest at ``manifest_uri``."""
    require_reader(actor, action="read worker responses")
    job = job_folder(manifest_uri)
    if job is None:
        return ResponseIndex(None, {}, "the manifest is not inside a job's output folder (<job>/manifests/output/)")
    try:
        prefix = ctx.storage.normalize(job + "/annotations/worker-response") + "/"
    except StorageError as exc:
        return ResponseIndex(None, {}, f"worker responses not readable: {exc}")
    with _LOCK:
        hit = _INDEX.get(prefix)
    if hit and not refresh and time.monotonic() - hit[0] < INDEX_TTL:
        return hit[1]
    files: dict[int, list[str]] = {}
    try:
        for uri in ctx.storage.list(prefix, suffixes=(".json",)):
            parts = uri[len(prefix) :].split("/")
            if len(parts) == 3 and parts[0].startswith("iteration-") and parts[1].isdigit():
                files.setdefault(int(parts[1]), []).append(uri)
        index = ResponseIndex(prefix, files, "" if files else f"no worker-response files under {prefix}")
    except StorageError as exc:
        index = ResponseIndex(prefix, {}, f"worker responses not readable: {exc}")
    with _LOCK:
        _INDEX[prefix] = (time.monotonic(), index)
    return index


def parse_answer_content(content: Any, names: Mapping[int, str]) -> tuple[list[Box], list[str]]:
    """The boxes and labels in one ``answerContent`` (whatever the crowd element is called)."""
    by_name = {v: k for k, v in names.items()}
    boxes: list[Box] = []
    labels: list[str] = []
    parts = list(content.values()) if isinstance(content, dict) else []
    for part in [content, *parts]:
        if not isinstance(part, dict):
            continue
        for i, b in enumerate(part.get("boundingBoxes") or []):
            if isinstance(b, dict):
                label = str(b.get("label", ""))
                x, y, w, h = (aug.as_number(b.get(k)) for k in ("left", "top", "width", "height"))
                boxes.append(Box(by_name.get(label, -1), label, x, y, w, h, None, i))
                labels.append(label)
        if isinstance(part.get("label"), str):
            labels.append(part["label"])
        if isinstance(part.get("labels"), list):
            labels.extend(str(x) for x in part["labels"])
        if "labeledImage" in part:
            labels.append("(segmentation mask)")
    return boxes, labels


def _read_answers(storage: Any, uri: str, idx: int, names: Mapping[int, str]) -> list[WorkerAnswer]:
    try:
        doc = json.loads(storage.read_bytes(uri, max_bytes=MAX_RESPONSE_BYTES))
    except (StorageError, ValueError) as exc:
        raise GTError(f"{uri}: cannot read this worker-response file: {exc}") from None
    out = []
    iteration = uri.rsplit("/", 3)[-3] if uri.count("/") >= 3 else ""
    for ans in doc.get("answers", []) if isinstance(doc, dict) else []:
        if not isinstance(ans, dict):
            continue
        boxes, labels = parse_answer_content(ans.get("answerContent"), names)
        spent = ans.get("timeSpentInSeconds")
        out.append(
            WorkerAnswer(
                worker_id=str(ans.get("workerId", "")),
                dataset_object_id=idx,
                iteration=iteration,
                uri=uri,
                submission_time=str(ans.get("submissionTime", "")),
                time_spent=float(spent) if isinstance(spent, int | float) else None,
                boxes=tuple(boxes),
                labels=tuple(labels),
                content=aug.as_dict(ans.get("answerContent")),
            )
        )
    return out


def answers_for(ctx: Any, actor: Actor, manifest: AugmentedManifest, attr: LabelAttribute | None,
                pos: int) -> list[WorkerAnswer]:  # fmt: skip
    """Every worker's answer for line ``pos`` (empty when no worker-response files exist)."""
    index = response_index(ctx, actor, manifest.uri)
    idx = manifest.lines[pos] - 1
    names = class_names_of(manifest, attr) if attr else {}
    answers: list[WorkerAnswer] = []
    for uri in sorted(index.files.get(idx, [])):
        answers.extend(_read_answers(ctx.storage, uri, idx, names))
    return answers


def labels_per_worker(ctx: Any, actor: Actor, manifest: AugmentedManifest, *,
                      max_files: int = 20_000) -> tuple[pd.DataFrame, str]:  # fmt: skip
    """Answers and labels per worker over the whole job: ``(table, note)``; the note says what was left out."""
    index = response_index(ctx, actor, manifest.uri)
    uris = [(idx, u) for idx, us in sorted(index.files.items()) for u in us]
    note = index.reason
    if len(uris) > max_files:
        note = f"only the first {max_files} of {len(uris)} worker-response files were read"
        uris = uris[:max_files]
    counts: dict[str, list[int]] = {}
    failures = 0

    def read(item: tuple[int, str]) -> list[WorkerAnswer]:
        try:
            return _read_answers(ctx.storage, item[1], item[0], {})
        except GTError:
            return []

    with ThreadPoolExecutor(max_workers=8) as pool:
        for answers in pool.map(read, uris):
            failures += not answers
            for a in answers:
                c = counts.setdefault(a.worker_id, [0, 0])
                c[0] += 1
                c[1] += len(a.boxes) if a.boxes else len(a.labels)
    table = pd.DataFrame(
        [(w, n, labels) for w, (n, labels) in sorted(counts.items())], columns=["worker_id", "answers", "labels"]
    )
    table["email"] = table["worker_id"].map(_emails(ctx, list(counts))).fillna("")
    if failures:
        note = (note + "; " if note else "") + f"{failures} file(s) unreadable or empty"
    return table, note


def _emails(ctx: Any, worker_ids: list[str]) -> dict[str, str]:
    """Emails of this install's users by public worker id (other installs' ids stay unknown)."""
    if not worker_ids:
        return {}
    u = dbm.users.c
    with ctx.db.read() as conn:
        rows = conn.execute(select(u.worker_id, u.email).where(u.worker_id.in_(worker_ids[:5000]))).all()
    return {r.worker_id: r.email for r in rows}
