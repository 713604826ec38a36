"""The Ground Truth output tree of a job (groundtruth-reference.md §2), under ``<output_path>/<job name>/``::

    annotations/worker-response/iteration-<N>/<idx>/<ts>.json      (gtcore.output.worker_responses, one per object)
    annotations/consolidated-annotation/consolidation-request/iteration-1/<ts>.json   (gtcore.output.
    annotations/consolidated-annotation/consolidation-response/iteration-1/<ts>.json   consolidation_files)
    manifests/intermediate/1/output.manifest                       (every input line; labelled ones augmented)
    manifests/intermediate/1/parts/<first idx>.manifest            (while the job runs: gtcore.output.parts)
    manifests/output/output.manifest                               (final)

Lines: ``gtcore.output.manifest_lines`` (input order, the input text with the label pair appended). Objects with
at least one submitted answer are consolidated whatever their status, except ``failed`` ones
(TaskAvailabilityLifetimeInSeconds ran out); ``skipped`` objects (chained with the same attribute) already carry
their label and are written unchanged. The final manifest holds every line, except for a stopped (or failed)
job, where it holds only the objects with answers (plus the ``skipped`` ones, which are labelled too). Objects
labeled by automated data labeling (status ``machine``) are written with their stored machine label
(``"human-annotated":"no"``, gtcore.autolabel) in every manifest.

Bounded memory whatever the job's size: the objects and answers are read in chunks of
``chunks.CHUNK_OBJECTS`` in index order (``gtcore.output.chunks``); each chunk is consolidated, its results
stored (one executemany), its mask PNGs written, and its manifest lines and consolidation-file pieces appended
to streamed writes (``Storage.start_write``: a temp file, then one atomic publish) that appear only once the
whole job is through. Class jobs (single label, verification, multi-label) are consolidated by an EM over the
whole job, so they take a first pass that collects the answers' classes as flat arrays
(``gtcore.output.records.JobFit``). Malformed answers are collected over every chunk and reported together
(ValidationError), and then nothing is published.

Throttle for ``write_intermediate``: it consolidates only newly completed objects and writes each settled
range's lines once as a part (``gtcore.output.parts``); assembling the whole intermediate manifest (every line)
costs the file's size, so the background (``gtcore.jobs.settling``) runs it after a completed object only when
``intermediate_due(total, done)`` says so: always for jobs of at most ``INTERMEDIATE_SMALL_JOB`` objects,
otherwise every 1 % of the job, assembling the whole file only at ``parts.CHECKPOINTS``.

Image depth for ``image_size``: read from the image header for local files (``gtcore.output.image_sizes``, no
pixel decoding); 3 for S3 objects and unreadable images. Width and height come from the workers'
``inputImageProperties``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import and_, or_, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import Problem, ValidationError
from gtcore.core.gcpause import gc_paused
from gtcore.manifests import fastjson
from gtcore.output import chunks, parts
from gtcore.output.chunks import field, gold_attribute, job_folder
from gtcore.output.consolidation_files import REQUEST_DIR, RESPONSE_DIR, ConsolidationPair
from gtcore.output.image_sizes import image_info_reader
from gtcore.output.manifest_lines import chunk_lines
from gtcore.output.records import JobFit, build_records, start_fit
from gtcore.storage.streamed import StreamedWrite

__all__ = [
    "INTERMEDIATE_MANIFEST",
    "INTERMEDIATE_SMALL_JOB",
    "OUTPUT_MANIFEST",
    "REQUEST_DIR",
    "RESPONSE_DIR",
    "chain_input_uri",
    "gold_attribute",
    "intermediate_due",
    "intermediate_manifest_uri",
    "job_folder",
    "output_manifest_uri",
    "write_final",
    "write_intermediate",
]

INTERMEDIATE_SMALL_JOB = 1000
_UPDATE_CHUNK = 5000
INTERMEDIATE_MANIFEST = "manifests/intermediate/1/output.manifest"
OUTPUT_MANIFEST = "manifests/output/output.manifest"
_TEXT = (mimetypes.guess_type(OUTPUT_MANIFEST)[0] or "text/plain") + "; charset=utf-8"  # as Storage.write_text


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
    if field(job_row, "status") == "Completed":
        return output_manifest_uri(job_row)
    return intermediate_manifest_uri(job_row)


def intermediate_due(total_objects: int, done_objects: int) -> bool:
    """Whether to call ``write_intermediate`` after the ``done_objects``-th object completed."""
    if total_objects <= INTERMEDIATE_SMALL_JOB or done_objects >= total_objects:
        return True
    return done_objects % max(1, total_objects // 100) == 0


def _running(job_id: int) -> Any:
    j = dbm.jobs
    # ORs, not IN (...): an expanding IN parameter cannot be used with executemany() on PostgreSQL
    return and_(j.c.id == job_id, j.c.ended_at.is_(None), or_(j.c.status == "InProgress", j.c.status == "Initializing"))


def _still_open(ctx: Context, job_id: int) -> bool:
    with ctx.db.read() as conn:
        return conn.execute(select(dbm.jobs.c.id).where(_running(job_id))).first() is not None


def _store(ctx: Context, job_id: int, encoded: dict[int, str], *, only_open_job: bool) -> bool:
    """Store one chunk's consolidated_json in bulk.

    With ``only_open_job`` (intermediate writes) every UPDATE carries the condition that the job is still
    running and not claimed by ``finish_job``, so an intermediate write racing with the finish never
    overwrites the final result; returns False when the job turned out to be finishing or final. No row
    lock is taken on the job (no lock-order conflict with the queue's transactions).
    """
    if not encoded:
        return True
    t = dbm.now()
    with ctx.db.write() as conn:
        if only_open_job and conn.execute(select(dbm.jobs.c.id).where(_running(job_id))).first() is None:
            return False
        # driver-level executemany with positional rows: SQLAlchemy's per-row parameter handling costs
        # more than the database work (about 0.5 s per 100,000 rows)
        m = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"UPDATE {dbm.objects.name} SET consolidated_json = {m}, updated_at = {m} "  # noqa: S608
            f"WHERE job_id = {m} AND idx = {m}"
        )
        rows: list[tuple[Any, ...]] = [(enc, t, job_id, idx) for idx, enc in encoded.items()]
        if only_open_job:
            sql += (
                f" AND EXISTS (SELECT 1 FROM {dbm.jobs.name} WHERE id = {m} AND ended_at IS NULL"  # noqa: S608
                " AND (status = 'InProgress' OR status = 'Initializing'))"
            )
            rows = [r + (job_id,) for r in rows]
        for k in range(0, len(rows), _UPDATE_CHUNK):
            conn.exec_driver_sql(sql, rows[k : k + _UPDATE_CHUNK])
        if only_open_job and conn.execute(select(dbm.jobs.c.id).where(_running(job_id))).first() is None:
            return False
    return True


_Sink = Callable[[chunks.Chunk, dict[int, str]], None]


def _run(
    ctx: Context, job: Any, *, fresh: bool, sink: _Sink, source: Callable[[], Iterator[chunks.Chunk]] | None = None
) -> bool:
    """Consolidate the job chunk by chunk: store each chunk's results and its PNGs, add its pieces to the
    consolidation pair and hand the chunk and its encoded records to ``sink``; publish the pair at the end.
    ``source`` gives the chunks (read twice for a class job's EM; default: every object of the job).
    Returns False (nothing published) when ``fresh`` (intermediate) and the job is finishing or final."""
    job_id = int(field(job, "id"))
    if source is None:
        source = lambda: chunks.iter_chunks(ctx, job_id, fresh=fresh)  # noqa: E731
    spec = chunks.record_spec(job)
    known = chunks.known_strings(spec)
    info = image_info_reader(ctx.storage)
    fit: JobFit | None = start_fit(spec)
    if fit is not None:  # first pass: the whole job's classes, as flat arrays
        for ch in source():
            with gc_paused():
                fit.add(chunks.answered(ch))
        fit.run()
    problems: list[Problem] = []
    pair = ConsolidationPair(ctx, job_folder(job))
    try:
        for ch in source():
            with gc_paused():  # many small acyclic objects: the cyclic GC would rescan them all
                items = chunks.answered(ch)
                files: dict[str, bytes] = {}
                try:
                    records = build_records(spec, items, image_info=info, files=files, fit=fit)
                except ValidationError as exc:
                    problems.extend(exc.problems)
                    continue
                encoded = dict(zip(records, fastjson.dumps_many(list(records.values()), known_strings=known),
                                   strict=True))  # fmt: skip
                for uri, data in files.items():  # the files the records point at (mask PNGs), before anything else
                    ctx.storage.write_bytes(uri, data)
                if not _store(ctx, job_id, encoded, only_open_job=fresh):
                    return False
                pair.add(items, encoded)
                sink(ch, encoded)
        if problems:
            raise ValidationError(problems, summary=f"job {spec.job_name}: {len(problems)} malformed answer(s)")
        if fresh and not _still_open(ctx, job_id):
            return False
        pair.publish()
    finally:
        pair.discard()
    return True


def _manifest_sink(attr: str, writes: list[tuple[StreamedWrite, bool, bool]]) -> _Sink:
    """Append each chunk's lines to every (write, labelled_only, use_stored) of ``writes``."""

    def sink(ch: chunks.Chunk, encoded: dict[int, str]) -> None:
        texts: dict[tuple[bool, bool], bytes] = {}
        for w, labelled_only, use_stored in writes:
            key = (labelled_only, use_stored)
            if key not in texts:
                text = chunk_lines(ch.rows, encoded, attr, labelled_only=labelled_only, use_stored=use_stored)
                texts[key] = text.encode("utf-8")
            w.write(texts[key])

    return sink


def _write_manifests(ctx: Context, job: Any, targets: list[tuple[str, bool, bool]], *, fresh: bool) -> bool:
    """Consolidate (``_run``) and write one streamed manifest per (URI, labelled_only, use_stored)."""
    writes: list[tuple[StreamedWrite, bool, bool]] = []
    try:
        for uri, labelled_only, use_stored in targets:
            writes.append((ctx.storage.start_write(uri, _TEXT), labelled_only, use_stored))
        sink = _manifest_sink(str(field(job, "label_attribute")), writes)
        if not _run(ctx, job, fresh=fresh, sink=sink):
            return False
        for (uri, _l, _u), (w, _l2, _u2) in zip(targets, writes, strict=True):
            ctx.storage.publish_write(w, uri)
        return True
    finally:
        for w, _l, _u in writes:
            w.discard()


def write_intermediate(ctx: Context, job_id: int, iteration: int | None = None, *, whole: bool = True) -> str | None:
    """Consolidate newly completed objects, write the parts of newly settled ranges and (``whole``) assemble
    the intermediate manifest (``gtcore.output.parts``); returns its URI.

    ``iteration`` (automated data labeling's round N > 1, gtcore.autolabel): the manifest is also kept as that
    round's ``manifests/intermediate/<N>/output.manifest``, one per round, as Ground Truth's batches are.

    Incremental, like Ground Truth's batches: only completed objects without a stored result are
    consolidated (single-label jobs fit the EM on that batch; ``finish_job`` refits on the whole job),
    the others keep their stored ``consolidated_json``; ranges with a written part are not read again. The
    consolidation request/response files cover the new objects. Returns None (and writes nothing) when the
    job is finishing or final. See ``intermediate_due`` for how often to call it.
    """
    job = chunks.job_row(ctx, job_id)
    if not _still_open(ctx, job_id):  # finishing or final: the finish writes it (no pass over the job for nothing)
        return None
    uri = intermediate_manifest_uri(job)
    targets = [uri] if whole else []
    if whole and iteration is not None and iteration > 1:
        targets.append(uri.replace("/intermediate/1/", f"/intermediate/{int(iteration)}/"))
    writes: list[StreamedWrite] = []
    asm: parts.Assembly | None = None
    try:
        for t in targets:
            writes.append(ctx.storage.start_write(t, _TEXT))
        asm = parts.Assembly(ctx, job, writes)
        if not _run(ctx, job, fresh=True, sink=asm, source=asm.chunks):
            return None
        asm.publish()  # the parts first (once each), then the whole file that copies them
        for t, w in zip(targets, writes, strict=True):
            ctx.storage.publish_write(w, t)
        return uri
    finally:
        for w in writes:
            w.discard()
        if asm is not None:
            asm.discard()


def write_final(ctx: Context, job_id: int, final_status: str) -> str:
    """Consolidate every object with answers, store it, write the whole tree; returns the output manifest URI.

    The caller (``gtcore.jobs.finishing.finish_job``) guards against concurrent runs and sets the status.
    """
    job = chunks.job_row(ctx, job_id)
    uri = output_manifest_uri(job)
    targets = [(intermediate_manifest_uri(job), False, False), (uri, final_status != "Completed", False)]
    _write_manifests(ctx, job, targets, fresh=False)
    parts.remove(ctx, job)  # the intermediate manifest is whole again, from the final results
    return uri
