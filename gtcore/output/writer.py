"""The Ground Truth output tree of a job (groundtruth-reference.md §2), under ``<output_path>/<job name>/``::

    annotations/worker-response/iteration-<N>/<idx>/<ts>.json      (gtcore.output.worker_responses, one per object)
    annotations/consolidated-annotation/consolidation-request/iteration-1/<ts>.json   (compact JSON; the request
    annotations/consolidated-annotation/consolidation-response/iteration-1/<ts>.json   and response share <ts>)
    manifests/intermediate/1/output.manifest                       (every input line; labelled ones augmented)
    manifests/output/output.manifest                               (final)

Manifest lines keep input order; an augmented line is the input line with every key kept plus
``<attr>`` / ``<attr>-metadata`` (overwritten in place if the input already had them); an unlabelled
line is written exactly as stored (``objects.line_json``). Objects with at least one submitted answer
are consolidated whatever their status, except ``failed`` ones (TaskAvailabilityLifetimeInSeconds ran
out); ``skipped`` objects (chained with the same attribute) already carry their label and are written
unchanged. The final manifest holds every line, except for a
stopped (or failed) job, where it holds only the objects with answers (plus the ``skipped`` ones, which
are labelled too). A labelled line is the stored input text with the label pair appended, so the input's
own bytes (escapes, key order) survive. Objects labeled by automated data labeling (status ``machine``) are written
with their stored machine label (``"human-annotated":"no"``, gtcore.autolabel) in every manifest.

Speed: one bulk read of objects and submitted answers, consolidation in memory, one executemany for
``consolidated_json``; ``write_final`` pauses the cyclic garbage collector meanwhile (it would rescan
millions of short-lived objects); answers are parsed and records encoded with ``gtcore.manifests.fastjson`` (orjson
where it gives the standard library's exact result). 100,000 objects x 3 box answers: see
bench/bench_output.py.

Throttle for ``write_intermediate``: it consolidates only newly completed objects but rewrites the whole
intermediate manifest (every line), so call it after a completed object only when
``intermediate_due(total, done)`` says so: always for jobs of at most ``INTERMEDIATE_SMALL_JOB`` objects,
otherwise every 1 % of the job (and at the last object).

Image depth for ``image_size``: read from the image header for local files (``gtcore.output.image_sizes``, no
pixel decoding); 3 for S3 objects and unreadable images. Width and height come from the workers'
``inputImageProperties``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import tasktypes
from gtcore.core.errors import NotFound
from gtcore.core.gcpause import gc_paused
from gtcore.manifests import fastjson
from gtcore.manifests.jsonl import dumps_line
from gtcore.output.image_sizes import image_info_reader
from gtcore.output.records import (
    ObjectAnswers,
    RecordSpec,
    WorkerAnswer,
    build_records,
    job_name_value,
)

INTERMEDIATE_SMALL_JOB = 1000
_UPDATE_CHUNK = 5000
REQUEST_DIR = "annotations/consolidated-annotation/consolidation-request/iteration-1"
RESPONSE_DIR = "annotations/consolidated-annotation/consolidation-response/iteration-1"
INTERMEDIATE_MANIFEST = "manifests/intermediate/1/output.manifest"
OUTPUT_MANIFEST = "manifests/output/output.manifest"


def _field(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        return row[name]
    mapping = getattr(row, "_mapping", None)
    return mapping[name] if mapping is not None else getattr(row, name)


def job_folder(job_row: Any) -> str:
    """``<output_path>/<job name>`` (S3 URI or local path) of a jobs row (Row, mapping or object)."""
    return str(_field(job_row, "output_path")).rstrip("/") + "/" + str(_field(job_row, "name"))


def output_manifest_uri(job_row: Any) -> str:
    """Where the final output manifest is (Ground Truth's ``LabelingJobOutput.OutputDatasetS3Uri``)."""
    return job_folder(job_row) + "/" + OUTPUT_MANIFEST


def intermediate_manifest_uri(job_row: Any) -> str:
    return job_folder(job_row) + "/" + INTERMEDIATE_MANIFEST


def chain_input_uri(job_row: Any) -> str:
    """The manifest a job chained from this one reads: one line per input line, labelled lines augmented.

    A Completed job's final output manifest holds every line; a Stopped or Failed job's holds only the
    answered objects, so chaining from it ("continue a stopped job", groundtruth-reference.md §8) reads
    the full-length intermediate manifest that ``write_final`` always writes beside it.
    """
    if _field(job_row, "status") == "Completed":
        return output_manifest_uri(job_row)
    return intermediate_manifest_uri(job_row)


def intermediate_due(total_objects: int, done_objects: int) -> bool:
    """Whether to call ``write_intermediate`` after the ``done_objects``-th object completed."""
    if total_objects <= INTERMEDIATE_SMALL_JOB or done_objects >= total_objects:
        return True
    return done_objects % max(1, total_objects // 100) == 0


@dataclass
class _JobData:
    job: Any
    rows: list[Any]  # objects rows (idx, line_json, status, answers) in idx order
    answers: dict[int, list[tuple[str, str]]]  # idx -> [(public worker id, answer_json)] in submission order


def _load(ctx: Context, job_id: int, *, answers_of: str = "answered") -> _JobData:
    """One job's rows in three queries; answers of every object ("answered") or only of the completed
    objects not consolidated yet ("fresh")."""
    o, a, u = dbm.objects, dbm.assignments, dbm.users
    with ctx.db.read() as conn:
        job = conn.execute(select(dbm.jobs).where(dbm.jobs.c.id == job_id)).first()
        if job is None:
            raise NotFound(f"labeling job {job_id} does not exist")
        cols = [o.c.idx, o.c.line_json, o.c.status, o.c.answers, o.c.consolidated_json]
        rows = list(conn.execute(select(*cols).where(o.c.job_id == job_id).order_by(o.c.idx)))
        q = (
            select(a.c.object_idx, u.c.worker_id, a.c.answer_json)
            .join(u, u.c.id == a.c.worker_id)
            .where(and_(a.c.job_id == job_id, a.c.status == "submitted", a.c.answer_json.is_not(None)))
            .order_by(a.c.object_idx, a.c.submitted_at, a.c.id)
        )
        if answers_of == "fresh":
            q = q.join(o, and_(o.c.job_id == a.c.job_id, o.c.idx == a.c.object_idx)).where(
                and_(o.c.status == "done", o.c.consolidated_json.is_(None))
            )
        answers: dict[int, list[tuple[str, str]]] = {}
        for idx, wid, ans in conn.execute(q):
            answers.setdefault(idx, []).append((wid, ans))
    return _JobData(job, rows, answers)


def _previous_attribute(job: Any) -> str | None:
    try:
        spec = json.loads(_field(job, "spec_json") or "{}")
        prev = (spec.get("ChainedFrom") or {}).get("LabelAttributeName")
    except (ValueError, AttributeError):
        return None
    return prev if isinstance(prev, str) and prev else None


def gold_attribute(job: Any) -> str | None:
    """The manifest attribute holding gold answers (``GoldStandard.LabelAttributeName``, our extension)."""
    try:
        gold = json.loads(_field(job, "spec_json") or "{}").get("GoldStandard") or {}
        attr = gold.get("LabelAttributeName")
    except (ValueError, AttributeError):
        return None
    return attr if isinstance(attr, str) and attr else None


@dataclass
class _Result:
    attr: str
    items: list[ObjectAnswers]  # answered objects, idx order (lines parsed, answers parsed)
    records: dict[int, dict[str, Any]]  # idx -> {"<attr>": ..., "<attr>-metadata": ...}
    encoded: dict[int, str]  # the same, as compact JSON (stored, spliced into lines, put in responses)
    files: dict[str, bytes]  # files the records point at (semantic-segmentation mask PNGs): URI -> bytes


def _consolidate(ctx: Context, data: _JobData) -> _Result:
    job = data.job
    # objects failed (TaskAvailabilityLifetimeInSeconds ran out) are left out of consolidation, as in Ground Truth
    lines: dict[int, str] = {r.idx: r.line_json for r in data.rows if r.status != "failed"}
    answered = [(idx, pairs) for idx, pairs in sorted(data.answers.items()) if idx in lines]
    parsed_lines = fastjson.loads_many([lines[idx] for idx, _ in answered])
    parsed = iter(fastjson.loads_many([ans for _, pairs in answered for _, ans in pairs]))
    items = [
        ObjectAnswers(idx=idx, line=line, answers=[WorkerAnswer(wid, next(parsed), raw=ans) for wid, ans in pairs])
        for (idx, pairs), line in zip(answered, parsed_lines, strict=True)
    ]
    spec = RecordSpec(
        task_type=tasktypes.get(_field(job, "task_type")),
        labels=json.loads(_field(job, "labels_json")),
        label_attribute=_field(job, "label_attribute"),
        job_name=_field(job, "name"),
        previous_attribute=_previous_attribute(job),
        gold_attribute=gold_attribute(job),
        output_folder=job_folder(job),
    )
    files: dict[str, bytes] = {}
    records = build_records(spec, items, image_info=image_info_reader(ctx.storage), files=files)
    known = [*spec.labels, job_name_value(spec.job_name), spec.label_attribute, spec.label_attribute + "-metadata"]
    encoded = dict(zip(records, fastjson.dumps_many(list(records.values()), known_strings=known), strict=True))
    return _Result(spec.label_attribute, items, records, encoded, files)


def _write_files(ctx: Context, res: _Result) -> None:
    """Store the files the records point at (mask PNGs) before anything that refers to them."""
    for uri, data in res.files.items():
        ctx.storage.write_bytes(uri, data)


def _store(ctx: Context, job_id: int, res: _Result, *, only_open_job: bool) -> bool:
    """Store consolidated_json in bulk.

    With ``only_open_job`` (intermediate writes) every UPDATE carries the condition that the job is still
    running and not claimed by ``finish_job``, so an intermediate write racing with the finish never
    overwrites the final result; returns False when the job turned out to be finishing or final. No row
    lock is taken on the job (no lock-order conflict with the queue's transactions).
    """
    j = dbm.jobs
    # ORs, not IN (...): an expanding IN parameter cannot be used with executemany() on PostgreSQL
    running = or_(j.c.status == "InProgress", j.c.status == "Initializing")
    still_open = and_(j.c.id == job_id, j.c.ended_at.is_(None), running)
    t = dbm.now()
    with ctx.db.write() as conn:
        if only_open_job and conn.execute(select(j.c.id).where(still_open)).first() is None:
            return False
        # driver-level executemany with positional rows: SQLAlchemy's per-row parameter handling costs
        # more than the database work (about 0.5 s per 100,000 rows)
        m = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"UPDATE {dbm.objects.name} SET consolidated_json = {m}, updated_at = {m} "  # noqa: S608
            f"WHERE job_id = {m} AND idx = {m}"
        )
        rows: list[tuple[Any, ...]] = [(enc, t, job_id, idx) for idx, enc in res.encoded.items()]
        if only_open_job:
            sql += (
                f" AND EXISTS (SELECT 1 FROM {j.name} WHERE id = {m} AND ended_at IS NULL"  # noqa: S608
                " AND (status = 'InProgress' OR status = 'Initializing'))"
            )
            rows = [r + (job_id,) for r in rows]
        for k in range(0, len(rows), _UPDATE_CHUNK):
            conn.exec_driver_sql(sql, rows[k : k + _UPDATE_CHUNK])
        if only_open_job and conn.execute(select(j.c.id).where(still_open)).first() is None:
            return False
    return True


def _manifest(data: _JobData, res: _Result, *, labelled_only: bool, use_stored: bool = False) -> str:
    """Manifest text in input order; a labelled line is its input text with the label pair appended.

    ``use_stored``: completed objects not in ``res`` use their stored ``consolidated_json`` (intermediate).
    A line that may already hold the attribute (or has ``\\u`` escapes that could hide it) is parsed and
    the pair overwritten in place instead.
    """
    probe = '"' + res.attr
    out: list[str] = []
    for r in data.rows:
        enc = res.encoded.get(r.idx)
        if enc is None and (r.status == "machine" or (use_stored and r.status == "done")):
            enc = r.consolidated_json  # a machine label (automated data labeling) is stored, never consolidated
        if enc is None:
            if not labelled_only or r.status == "skipped":
                out.append(r.line_json.rstrip("\r\n"))
            continue
        base = r.line_json.rstrip()
        if probe in base or "\\u" in base or not base.endswith("}"):
            merged = json.loads(base)
            merged.update(json.loads(enc))
            out.append(dumps_line(merged))
        else:
            out.append(base[:-1] + ("," if base[:-1].strip() != "{" else "") + enc[1:])
    return "".join(s + "\n" for s in out)


def _timestamp_name(when: datetime) -> str:
    return when.strftime("%Y-%m-%d_%H:%M:%S")


def _write_pair(ctx: Context, folder: str, request: bytes, response: bytes) -> str:
    """Write the request and response files under one timestamp name (``YYYY-MM-DD_HH:MM:SS.json``, never a
    suffix): now, or the first later second whose name is free in both folders. Returns the name."""
    req_dir, resp_dir = ctx.storage.join(folder, REQUEST_DIR), ctx.storage.join(folder, RESPONSE_DIR)
    start = datetime.now(UTC)
    for k in range(3600):
        name = _timestamp_name(start + timedelta(seconds=k)) + ".json"
        if ctx.storage.exists(ctx.storage.join(resp_dir, name)):
            continue
        if ctx.storage.write_if_absent(ctx.storage.join(req_dir, name), request):
            ctx.storage.write_bytes(ctx.storage.join(resp_dir, name), response)
            return name
    raise FileExistsError(f"{req_dir}: no free timestamp name within an hour from {start:%Y-%m-%d_%H:%M:%S}")


_str = json.encoder.encode_basestring  # a JSON string literal, non-ASCII kept raw (like ensure_ascii=False)


def _write_consolidation_files(ctx: Context, job: Any, res: _Result) -> None:
    """The post-annotation request payload and its response for the objects in ``res.encoded``.

    Both are JSON arrays built from already-encoded pieces (the stored answer text, the encoded record).
    """
    request, response = [], []
    for it in res.items:
        enc = res.encoded.get(it.idx)
        if enc is None:
            continue
        src = it.line.get("source-ref")
        if isinstance(src, str):
            data_object = '{"s3Uri":' + _str(src) + "}"
        else:
            data_object = '{"content":' + json.dumps(it.line.get("source"), ensure_ascii=False) + "}"
        annotations = ",".join(
            '{"workerId":'
            + _str(a.worker_id)
            + ',"annotationData":{"content":'
            + _str(a.raw or json.dumps(a.content, separators=(",", ":")))
            + "}}"
            for a in it.answers
        )
        request.append(f'{{"datasetObjectId":"{it.idx}","dataObject":{data_object},"annotations":[{annotations}]}}')
        response.append(f'{{"datasetObjectId":"{it.idx}","consolidatedAnnotation":{{"content":{enc}}}}}')
    if not request:
        return
    body_req = ("[" + ",".join(request) + "]").encode("utf-8")
    _write_pair(ctx, job_folder(job), body_req, ("[" + ",".join(response) + "]").encode("utf-8"))


def write_intermediate(ctx: Context, job_id: int, iteration: int | None = None) -> str | None:
    """Consolidate newly completed objects and rewrite the intermediate manifest; returns its URI.

    ``iteration`` (automated data labeling's round N > 1, gtcore.autolabel): the manifest is also kept as that
    round's ``manifests/intermediate/<N>/output.manifest``, one per round, as Ground Truth's batches are.

    Incremental, like Ground Truth's batches: only completed objects without a stored result are
    consolidated (single-label jobs fit the EM on that batch; ``finish_job`` refits on the whole job),
    the others keep their stored ``consolidated_json``. The consolidation request/response files cover
    the new objects. Returns None (and writes nothing) when the job is finishing or final. See
    ``intermediate_due`` for how often to call it.
    """
    data = _load(ctx, job_id, answers_of="fresh")
    res = _consolidate(ctx, data)
    _write_files(ctx, res)
    if not _store(ctx, job_id, res, only_open_job=True):
        return None
    _write_consolidation_files(ctx, data.job, res)
    uri = intermediate_manifest_uri(data.job)
    text = _manifest(data, res, labelled_only=False, use_stored=True)
    ctx.storage.write_text(uri, text)
    if iteration is not None and iteration > 1:
        ctx.storage.write_text(uri.replace("/intermediate/1/", f"/intermediate/{int(iteration)}/"), text)
    return uri


def write_final(ctx: Context, job_id: int, final_status: str) -> str:
    """Consolidate every object with answers, store it, write the whole tree; returns the output manifest URI.

    The caller (``gtcore.jobs.finishing.finish_job``) guards against concurrent runs and sets the status.
    """
    with gc_paused():  # ~10^6 small acyclic objects: the cyclic GC would rescan them all
        data = _load(ctx, job_id)
        res = _consolidate(ctx, data)
        _write_files(ctx, res)
        _store(ctx, job_id, res, only_open_job=False)
        _write_consolidation_files(ctx, data.job, res)
        everything = _manifest(data, res, labelled_only=False)
        ctx.storage.write_text(intermediate_manifest_uri(data.job), everything)
        uri = output_manifest_uri(data.job)
        final = everything if final_status == "Completed" else _manifest(data, res, labelled_only=True)
        ctx.storage.write_text(uri, final)
    return uri
