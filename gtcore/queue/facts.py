"""Per-process caches of what never changes once a job runs, for the hot claim and submit paths.

- ``JobFacts``: the job's columns fixed at creation (name, team, task type, labels, instructions, time limits,
  MaxConcurrentTaskCount, object count), remembered from the first claim or submit that read the whole row
  while the job was ``InProgress`` (``total_objects`` is set before a job starts). Never its status, and
  nothing about users or leases: those are read, or guarded in SQL, by every call.
- the job and object of an assignment (never change), remembered when it is claimed, so a submit can check the
  answer before it touches the database.

Keys carry the database URL (like ``gtcore.jobs.settling``). A miss only means the slower path that reads the
rows; a cache never decides a refusal, it only lets a call try the guarded statement first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gtcore.core.access import WORKER, Actor
from gtcore.output.writer import gold_attribute

MAX_ENTRIES = 100_000  # assignments remembered per process before the map starts over


@dataclass(frozen=True)
class JobFacts:
    id: int
    name: str
    team_id: int | None
    task_type: str
    labels_json: str
    labels: tuple[str, ...]
    instructions_json: str | None
    spec_json: str
    parent_job_id: int | None
    label_attribute: str
    max_concurrent: int
    task_time_limit: int
    total_objects: int
    created_at: float
    availability_lifetime: int
    gold: str | None  # GoldStandard.LabelAttributeName (gtcore.output.writer.gold_attribute)


_jobs: dict[tuple[str, int], JobFacts] = {}
_assignments: dict[tuple[str, int], tuple[int, int]] = {}  # (db, assignment) -> (job, object idx)


def job(url: str, job_id: int) -> JobFacts | None:
    return _jobs.get((url, job_id))


def remember_job(url: str, row: Any) -> JobFacts | None:
    """Keep the fixed facts of a jobs row read while it is InProgress; return them (None otherwise)."""
    if row is None or row.status != "InProgress":
        return None
    facts = JobFacts(
        id=int(row.id),
        name=row.name,
        team_id=row.team_id,
        task_type=row.task_type,
        labels_json=row.labels_json,
        labels=tuple(json.loads(row.labels_json)),
        instructions_json=row.instructions_json,
        spec_json=row.spec_json,
        parent_job_id=row.parent_job_id,
        label_attribute=row.label_attribute,
        max_concurrent=int(row.max_concurrent),
        task_time_limit=int(row.task_time_limit),
        total_objects=int(row.total_objects or 0),
        created_at=float(row.created_at),
        availability_lifetime=int(row.availability_lifetime),
        gold=gold_attribute(row),
    )
    _jobs[(url, facts.id)] = facts
    return facts


def assignment(url: str, assignment_id: int) -> tuple[int, int] | None:
    return _assignments.get((url, assignment_id))


def remember_assignment(url: str, assignment_id: int, job_id: int, object_idx: int) -> None:
    if len(_assignments) >= MAX_ENTRIES:
        _assignments.clear()
    _assignments[(url, assignment_id)] = (job_id, object_idx)


def forget_assignment(url: str, assignment_id: int) -> None:
    _assignments.pop((url, assignment_id), None)


def in_team(actor: Actor, team_id: int | None) -> bool:
    """Whether ``gtcore.core.access.require_team_member`` lets the actor work on a job of this team."""
    return actor.system or (actor.has(WORKER) and team_id is not None and team_id in actor.team_ids)
