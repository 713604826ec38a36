"""Worker-response files, as Ground Truth writes them: one ``{"answers":[...]}`` file per data object holding
every worker's answer for it (distinct workers, in submission order)::

    <output_path>/<job>/annotations/worker-response/iteration-<N>/<datasetObjectId>/<YYYY-MM-DD_HH:MM:SS>.json

- Written by the background workers (``gtcore.work.handlers.responses``: one work item per range of
  ``PART_OBJECTS`` objects, so a job's files are written in parallel and each by one worker), never in the
  submit: an object's file is written once its answers are complete (it left ``open``), and for every answered
  object once the job is no longer running (stopped, failed, completed). The answers themselves are durable in
  the database first.
- Iterations as Ground Truth's own files show them: the first ``ITERATION_ONE_OBJECTS`` objects handed out to
  workers (by their first assignment) form ``iteration-1``, the rest ``iteration-2``. With automated data
  labeling an object is in the loop's iteration that released it to people (``objects.al_iteration``: the probe
  is 1, the training batch and validation set 2, every later batch the next number), so the numbering continues.
- The name is the UTC time of the last submission in the file rounded *up* to the second: never earlier than any
  submission in it, never a suffix, and the same on a retry (so a retried write replaces the file with the same
  bytes instead of adding a second one). Writes are atomic (tmp-then-rename); ``assignments.response_uri`` of
  every answer in the file is set after the write, so a crash in between only causes the same write again.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, func, or_, select, update

from gtcore.context import Context
from gtcore.core import db as dbm

log = logging.getLogger(__name__)

A = dbm.assignments
O = dbm.objects  # noqa: E741
J = dbm.jobs
U = dbm.users
OI = dbm.oidc_identities  # people signed in through the OIDC identity provider
ITERATION_ONE_OBJECTS = 10
FLUSH_BATCH = 2000  # answers read per round
PART_OBJECTS = 100  # objects per work item (``due_parts``)


def gt_time(ts: float) -> str:
    """Epoch seconds -> ``2026-11-25T10:00:00.123Z`` (worker-response submissionTime / acceptanceTime)."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def file_stamp(ts: float) -> str:
    """Epoch seconds -> ``2026-11-25_10:00:00`` (worker-response file name)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d_%H:%M:%S")


def issuer(ctx: Context) -> str:
    """``workerMetadata.identityData.issuer``: the portal's URL, https as Cognito's and OIDC issuers are."""
    parts = urlsplit(ctx.settings.portal_url)
    host = parts.netloc or "localhost"
    return f"https://{host}{parts.path.rstrip('/')}"


def build_answer(ctx: Context, row: Any) -> dict:
    """One element of ``answers`` in Ground Truth's key order (alphabetical, as its files have it)."""
    return {
        "acceptanceTime": gt_time(row.accepted_at),
        "answerContent": json.loads(row.answer_json),
        "submissionTime": gt_time(row.submitted_at),
        "timeSpentInSeconds": round(float(row.time_spent or 0.0), 3),
        "workerId": row.public_worker_id,
        "workerMetadata": {"identityData": identity_data(ctx, row)},
    }


def identity_data(ctx: Context, row: Any) -> dict:
    """``workerMetadata.identityData``: Ground Truth's OIDC fields (the provider's issuer, ``sagemaker:sub``) for a
    person signed in through the identity provider, else the Cognito-style fields of a local account."""
    if getattr(row, "oidc_issuer", None):
        return {"identityProviderType": "Oidc", "issuer": row.oidc_issuer, "sub": row.oidc_sub}
    return {"identityProviderType": "Cognito", "issuer": issuer(ctx), "sub": row.sub}


def first_objects(ctx: Context, job_id: int) -> frozenset[int]:
    """The first ``ITERATION_ONE_OBJECTS`` objects handed out in the job (fixed once that many were: then kept in
    ``ctx.memory``)."""
    known = ctx.memory.first_objects(job_id)
    if known is not None:
        return known
    first = func.min(A.c.id)
    q = select(A.c.object_idx).where(A.c.job_id == job_id).group_by(A.c.object_idx).order_by(first)
    with ctx.db.read() as conn:
        found = frozenset(conn.execute(q.limit(ITERATION_ONE_OBJECTS)).scalars())
    if len(found) == ITERATION_ONE_OBJECTS:
        ctx.memory.remember_first_objects(job_id, found)
    return found


def iteration(ctx: Context, job_id: int, object_idx: int, al_iteration: int | None = None) -> str:
    if al_iteration:
        return f"iteration-{int(al_iteration)}"
    return "iteration-1" if object_idx in first_objects(ctx, job_id) else "iteration-2"


def response_folder(
    ctx: Context, output_path: str, job_name: str, object_idx: int, job_id: int, al_iteration: int | None = None
) -> str:
    it = iteration(ctx, job_id, object_idx, al_iteration)
    return ctx.storage.join(output_path, job_name, "annotations", "worker-response", it, str(object_idx))


_COLUMNS = (
    A.c.id, A.c.job_id, A.c.object_idx, A.c.accepted_at, A.c.submitted_at, A.c.time_spent, A.c.answer_json,
    J.c.name.label("job_name"), J.c.output_path, U.c.worker_id.label("public_worker_id"), U.c.sub, O.c.al_iteration,
    OI.c.issuer.label("oidc_issuer"), OI.c.worker_sub.label("oidc_sub"),
)  # fmt: skip


def _due_where(q: Any, job_id: int | None, part: int | None) -> Any:
    """Answers without a file whose object is complete (not open) or whose job no longer runs."""
    q = q.where(A.c.status == "submitted", A.c.response_uri.is_(None)).where(
        or_(O.c.status != "open", J.c.status != "InProgress")
    )
    if job_id is not None:
        q = q.where(A.c.job_id == job_id)
    if part is not None:
        q = q.where(A.c.object_idx >= part * PART_OBJECTS, A.c.object_idx < (part + 1) * PART_OBJECTS)
    return q


_JOINED = A.join(J, J.c.id == A.c.job_id).join(O, (O.c.job_id == A.c.job_id) & (O.c.idx == A.c.object_idx))


def _due(ctx: Context, job_id: int | None, part: int | None = None) -> list[Any]:
    """The due answers (``_due_where``) by object, a batch at a time."""
    q = select(*_COLUMNS).select_from(
        _JOINED.join(U, U.c.id == A.c.worker_id).outerjoin(OI, OI.c.user_id == A.c.worker_id)  # OIDC people
    )
    q = _due_where(q, job_id, part).order_by(A.c.job_id, A.c.object_idx, A.c.submitted_at, A.c.id)
    with ctx.db.read() as conn:
        return list(conn.execute(q.limit(FLUSH_BATCH)))


def due_parts(ctx: Context, job_id: int) -> list[int]:
    """The object ranges (``PART_OBJECTS`` objects each, numbered from 0) of the job holding due answers: each is
    one work item (``gtcore.work.handlers.responses``), so a job's files are written in parallel by the workers,
    and each file by exactly one of them (one item of an identity runs at a time)."""
    part = (A.c.object_idx // PART_OBJECTS).label("part")
    q = _due_where(select(part).select_from(_JOINED), job_id, None).distinct().order_by(part)
    with ctx.db.read() as conn:
        return [int(p) for p in conn.execute(q).scalars()]


def jobs_with_due_responses(ctx: Context) -> list[int]:
    """Jobs with answers whose file is due (the maintenance sweep makes their work due again)."""
    q = _due_where(select(A.c.job_id).select_from(_JOINED), None, None).distinct()
    with ctx.db.read() as conn:
        return [int(j) for j in conn.execute(q).scalars()]


RECORD = update(A).where(A.c.id == bindparam("aid"), A.c.response_uri.is_(None)).values(response_uri=bindparam("uri"))


def _write_object(ctx: Context, rows: list[Any]) -> str:
    """Write one object's file from its answer rows (same job and object); return its URI."""
    first = rows[0]
    body = {"answers": [build_answer(ctx, r) for r in rows]}
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    stamp = file_stamp(math.ceil(max(float(r.submitted_at) for r in rows)))
    folder = response_folder(ctx, first.output_path, first.job_name, first.object_idx, first.job_id, first.al_iteration)
    uri = ctx.storage.join(folder, f"{stamp}.json")
    ctx.storage.write_bytes(uri, data)
    return uri


def _record(ctx: Context, done: list[tuple[int, str]]) -> None:
    if not done:
        return
    with ctx.db.write() as conn:
        conn.execute(RECORD, [{"aid": aid, "uri": uri} for aid, uri in done])


def flush_worker_responses(ctx: Context, *, job_id: int | None = None, part: int | None = None) -> int:
    """Write every due worker-response file (see the module docstring), of the job's objects in range ``part``
    when given (``due_parts``); return how many files were written.

    A store failure propagates (the background worker retries the item with backoff); the files written before
    it are recorded first.
    """
    written = 0
    while True:
        rows = _due(ctx, job_id, part)
        if not rows:
            return written
        groups = [list(g) for _, g in groupby(rows, key=lambda r: (r.job_id, r.object_idx))]
        if len(rows) == FLUSH_BATCH and len(groups) > 1:
            groups = groups[:-1]  # the last object may continue past this batch: take it whole next round
        done: list[tuple[int, str]] = []
        try:
            for group in groups:
                uri = _write_object(ctx, group)
                done.extend((r.id, uri) for r in group)
                written += 1
        finally:
            _record(ctx, done)
