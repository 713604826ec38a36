"""Worker-response files: one Ground Truth ``{"answers": [...]}`` file per submitted answer.

Written after the answer is committed in the database (the database is the truth) at::

    <output_path>/<job name>/annotations/worker-response/iteration-1/<datasetObjectId>/<YYYY-MM-DD_HH:MM:SS>.json

If two answers of one object are submitted in the same second the second file gets a suffix that keeps
Ground Truth's prefix (``2026-11-25_10:00:00.1.json``). When the store fails the submit still stands:
``assignments.response_uri`` stays NULL and ``flush_worker_responses`` writes the file later. Writing is
idempotent: a file already holding exactly this answer (a retry after a crash) is reused, never duplicated.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select, update

from gtcore.context import Context
from gtcore.core import db as dbm

log = logging.getLogger(__name__)

A = dbm.assignments
J = dbm.jobs
U = dbm.users
ITERATION = "iteration-1"
MAX_SUFFIX = 1000
FLUSH_INTERVAL_SECONDS = 60.0
FLUSH_BATCH = 500

# Per-process hints for the opportunistic flush: databases where a write failed in this process, and when
# each database was last flushed. Only an optimisation: flush_worker_responses reads the truth from the DB.
_failed_dbs: set[str] = set()
_last_flush: dict[str, float] = {}


def gt_time(ts: float) -> str:
    """Epoch seconds -> ``2026-11-25T10:00:00.123Z`` (worker-response submissionTime / acceptanceTime)."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def file_stamp(ts: float) -> str:
    """Epoch seconds -> ``2026-11-25_10:00:00`` (worker-response file name)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d_%H:%M:%S")


def issuer(ctx: Context) -> str:
    host = urlsplit(ctx.settings.portal_url).netloc or "localhost"
    return f"gtcore://{host}"


def response_folder(ctx: Context, output_path: str, job_name: str, object_idx: int) -> str:
    return ctx.storage.join(output_path, job_name, "annotations", "worker-response", ITERATION, str(object_idx))


def build_answer(ctx: Context, row: Any) -> dict:
    """One element of ``answers`` in Ground Truth's key order (alphabetical, as its files have it)."""
    return {
        "acceptanceTime": gt_time(row.accepted_at),
        "answerContent": json.loads(row.answer_json),
        "submissionTime": gt_time(row.submitted_at),
        "timeSpentInSeconds": round(float(row.time_spent or 0.0), 3),
        "workerId": row.public_worker_id,
        "workerMetadata": {"identityData": {"identityProviderType": "Cognito", "issuer": issuer(ctx), "sub": row.sub}},
    }


def _rows(ctx: Context, where: list[Any], limit: int | None = None) -> list[Any]:
    q = (
        select(
            A.c.id,
            A.c.object_idx,
            A.c.accepted_at,
            A.c.submitted_at,
            A.c.time_spent,
            A.c.answer_json,
            J.c.name.label("job_name"),
            J.c.output_path,
            U.c.worker_id.label("public_worker_id"),
            U.c.sub,
        )
        .select_from(A.join(J, J.c.id == A.c.job_id).join(U, U.c.id == A.c.worker_id))
        .where(A.c.status == "submitted", A.c.response_uri.is_(None), *where)
        .order_by(A.c.id)
    )
    if limit:
        q = q.limit(limit)
    with ctx.db.read() as conn:
        return list(conn.execute(q))


def _store(ctx: Context, row: Any) -> str:
    """Write the file for one submitted assignment row; return its URI (StorageError propagates)."""
    body = {"answers": [build_answer(ctx, row)]}
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    parts = (row.job_name, "annotations", "worker-response", ITERATION, str(row.object_idx))
    stamp = file_stamp(row.submitted_at)
    for n in range(MAX_SUFFIX):
        uri = ctx.storage.join(row.output_path, *parts, f"{stamp}.json" if n == 0 else f"{stamp}.{n}.json")
        if ctx.storage.write_if_absent(uri, data):
            return uri
        try:
            if json.loads(ctx.storage.read_text(uri)) == body:
                return uri  # written by an earlier attempt that did not get to record it
        except ValueError:
            pass
    raise RuntimeError(f"more than {MAX_SUFFIX} worker responses for one object in one second under {uri}")


RECORD = update(A).where(A.c.id == bindparam("aid"), A.c.response_uri.is_(None)).values(response_uri=bindparam("uri"))


def _record(ctx: Context, assignment_id: int, uri: str) -> None:
    with ctx.db.write() as conn:
        if ctx.db.is_postgres:
            # derived data: if a crash loses this row the next flush finds the file and records it again,
            # so this commit need not wait for the WAL flush (the answer itself was committed durably)
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        conn.execute(RECORD, {"aid": assignment_id, "uri": uri})


def write_row(ctx: Context, row: Any) -> str | None:
    """Write the file for a submitted assignment already loaded by the caller (the attributes ``_rows`` reads:
    id, object_idx, accepted_at, submitted_at, time_spent, answer_json, job_name, output_path,
    public_worker_id, sub) and record its URI; None (logged, retried by flush) if the store failed."""
    try:
        uri = _store(ctx, row)
    except Exception as exc:  # the answer is committed; the file is retried by flush_worker_responses
        log.warning("worker response of assignment %s not written yet: %s", row.id, exc)
        _failed_dbs.add(ctx.db.url)
        return None
    _record(ctx, row.id, uri)
    return uri


def write_response(ctx: Context, assignment_id: int) -> str | None:
    """Write the worker-response file of a submitted assignment (reads it first); None if the store failed."""
    rows = _rows(ctx, [A.c.id == assignment_id])
    if not rows:  # not submitted, or already written
        with ctx.db.read() as conn:
            return conn.execute(select(A.c.response_uri).where(A.c.id == assignment_id)).scalar()
    return write_row(ctx, rows[0])


def flush_worker_responses(ctx: Context, *, job_id: int | None = None) -> int:
    """Write every missing worker-response file (submitted answers whose response_uri is NULL); return count.

    Stops at the first store failure (the store is likely down) and leaves the rest for the next flush.
    """
    written = 0
    while True:
        rows = _rows(ctx, [] if job_id is None else [A.c.job_id == job_id], limit=FLUSH_BATCH)
        if not rows:
            break
        for row in rows:
            try:
                uri = _store(ctx, row)
            except Exception as exc:
                log.warning("flushing worker responses stopped at assignment %s: %s", row.id, exc)
                _failed_dbs.add(ctx.db.url)
                return written
            _record(ctx, row.id, uri)
            written += 1
    if job_id is None:
        _failed_dbs.discard(ctx.db.url)
    return written


def maybe_flush(ctx: Context, job_id: int) -> int:
    """Cheap opportunistic retry after a successful write: flush when this process saw a failure, or
    (for failures in other processes) at most every ``FLUSH_INTERVAL_SECONDS``."""
    key = ctx.db.url
    t = time.monotonic()
    if key not in _failed_dbs and t - _last_flush.get(key, 0.0) < FLUSH_INTERVAL_SECONDS:
        return 0
    _last_flush[key] = t
    if key in _failed_dbs:
        return flush_worker_responses(ctx)
    return flush_worker_responses(ctx, job_id=job_id)
