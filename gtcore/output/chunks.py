"""A job's objects and answers read in bounded chunks for the output writer (``gtcore.output.writer``).

``iter_chunks`` pages through the objects in index order by keyset (``idx > last``, ``LIMIT``; the primary key
``(job_id, idx)`` serves it) and reads the submitted answers of the same index range (the assignments'
``(job_id, object_idx, worker_id)`` key serves that), one short read transaction per chunk, so a worker holds one
chunk at a time whatever the job's size. ``answered`` turns a chunk into ``ObjectAnswers`` (lines and answers
parsed with ``gtcore.manifests.fastjson``); ``record_spec`` is the job row's ``RecordSpec``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import tasktypes
from gtcore.core.errors import NotFound
from gtcore.manifests import fastjson
from gtcore.output.records import ObjectAnswers, RecordSpec, WorkerAnswer, job_name_value

CHUNK_OBJECTS = 5000


def field(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        return row[name]
    mapping = getattr(row, "_mapping", None)
    return mapping[name] if mapping is not None else getattr(row, name)


def job_folder(job_row: Any) -> str:
    """``<output_path>/<job name>`` (S3 URI or local path) of a jobs row (Row, mapping or object)."""
    return str(field(job_row, "output_path")).rstrip("/") + "/" + str(field(job_row, "name"))


def previous_attribute(job: Any) -> str | None:
    try:
        spec = json.loads(field(job, "spec_json") or "{}")
        prev = (spec.get("ChainedFrom") or {}).get("LabelAttributeName")
    except (ValueError, AttributeError):
        return None
    return prev if isinstance(prev, str) and prev else None


def gold_attribute(job: Any) -> str | None:
    """The manifest attribute holding gold answers (``GoldStandard.LabelAttributeName``, our extension)."""
    try:
        gold = json.loads(field(job, "spec_json") or "{}").get("GoldStandard") or {}
        attr = gold.get("LabelAttributeName")
    except (ValueError, AttributeError):
        return None
    return attr if isinstance(attr, str) and attr else None


def record_spec(job: Any) -> RecordSpec:
    return RecordSpec(
        task_type=tasktypes.get(field(job, "task_type")),
        labels=json.loads(field(job, "labels_json")),
        label_attribute=field(job, "label_attribute"),
        job_name=field(job, "name"),
        previous_attribute=previous_attribute(job),
        gold_attribute=gold_attribute(job),
        output_folder=job_folder(job),
    )


def known_strings(spec: RecordSpec) -> list[str]:
    """Strings every record repeats (``fastjson.dumps_many``'s ``known_strings``)."""
    attr = spec.label_attribute
    return [*spec.labels, job_name_value(spec.job_name), attr, attr + "-metadata"]


def job_row(ctx: Context, job_id: int) -> Any:
    with ctx.db.read() as conn:
        job = conn.execute(select(dbm.jobs).where(dbm.jobs.c.id == job_id)).first()
    if job is None:
        raise NotFound(f"labeling job {job_id} does not exist")
    return job


@dataclass
class Chunk:
    rows: list[Any]  # objects rows (idx, line_json, status, consolidated_json), idx order
    answers: dict[int, list[tuple[str, str]]]  # idx -> [(public worker id, answer_json)], submission order
    part: str | None = None  # an intermediate manifest part standing for its range (no rows: gtcore.output.parts)


def iter_chunks(
    ctx: Context, job_id: int, *, fresh: bool = False, size: int | None = None, lo: int = 0, hi: int | None = None
) -> Iterator[Chunk]:
    """Every object of the job (or of indexes ``lo`` <= idx < ``hi``) in chunks of ``size``, with the answers of
    every object ("answered") or, with ``fresh``, only of the completed objects not consolidated yet (the
    intermediate manifest's batch). ``size`` defaults to ``CHUNK_OBJECTS`` (read at each call)."""
    size = size or CHUNK_OBJECTS
    o, a, u = dbm.objects, dbm.assignments, dbm.users
    cols = [o.c.idx, o.c.line_json, o.c.status, o.c.consolidated_json]
    after = lo - 1
    while True:
        with ctx.db.read() as conn:
            q = select(*cols).where(o.c.job_id == job_id, o.c.idx > after)
            if hi is not None:
                q = q.where(o.c.idx < hi)
            q = q.order_by(o.c.idx).limit(size)
            rows = list(conn.execute(q))
            if not rows:
                return
            last = rows[-1].idx
            aq = (
                select(a.c.object_idx, u.c.worker_id, a.c.answer_json)
                .join(u, u.c.id == a.c.worker_id)
                .where(
                    a.c.job_id == job_id,
                    a.c.object_idx > after,
                    a.c.object_idx <= last,
                    a.c.status == "submitted",
                    a.c.answer_json.is_not(None),
                )
                .order_by(a.c.object_idx, a.c.submitted_at, a.c.id)
            )
            if fresh:
                aq = aq.join(o, and_(o.c.job_id == a.c.job_id, o.c.idx == a.c.object_idx)).where(
                    and_(o.c.status == "done", o.c.consolidated_json.is_(None))
                )
            answers: dict[int, list[tuple[str, str]]] = {}
            for idx, wid, ans in conn.execute(aq):
                answers.setdefault(idx, []).append((wid, ans))
        yield Chunk(rows, answers)
        after = last


def answered(chunk: Chunk) -> list[ObjectAnswers]:
    """The chunk's objects with answers, parsed; objects ``failed`` (TaskAvailabilityLifetimeInSeconds ran out)
    are left out of consolidation, as in Ground Truth."""
    lines = {r.idx: r.line_json for r in chunk.rows if r.status != "failed"}
    pairs = [(idx, p) for idx, p in sorted(chunk.answers.items()) if idx in lines]
    parsed_lines = fastjson.loads_many([lines[idx] for idx, _ in pairs])
    parsed = iter(fastjson.loads_many([ans for _, p in pairs for _, ans in p]))
    return [
        ObjectAnswers(idx=idx, line=line, answers=[WorkerAnswer(wid, next(parsed), raw=ans) for wid, ans in p])
        for (idx, p), line in zip(pairs, parsed_lines, strict=True)
    ]
