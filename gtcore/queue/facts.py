"""The queue's per-process facts (kept in ``Context.memory``, ``gtcore.core.memory``: the rules of what is kept
and when it is dropped live there), for the hot claim and submit paths:

- ``FixedJobFacts``: the job's columns fixed at creation (name, team, task type, labels, instructions, time limits,
  MaxConcurrentTaskCount, object count), remembered from the first claim or submit that read the whole row
  while the job was ``InProgress`` (``total_objects`` is set before a job starts); a read that finds the job in
  another status drops them. Never its status, and nothing about users or leases: those are read, or guarded in
  SQL, by every call.
- the job and object of an assignment (never change), remembered when it is claimed, so a submit can check the
  answer before it touches the database.

A miss only means the slower path that reads the rows; a cache never decides a refusal, it only lets a call try
the guarded statement first.
"""

from __future__ import annotations

import json
from typing import Any

from gtcore.core.access import WORKER, Actor
from gtcore.core.memory import FixedJobFacts, ProcessMemory
from gtcore.output.writer import gold_attribute

__all__ = ["FixedJobFacts", "remember_job", "in_team"]


def remember_job(memory: ProcessMemory, row: Any) -> FixedJobFacts | None:
    """Keep the fixed facts of a jobs row read while it is InProgress and return them; for a row in any other
    status, drop what the memory had about the job and return None."""
    if row is None:
        return None
    if row.status != "InProgress":
        memory.forget_job(int(row.id))
        return None
    facts = FixedJobFacts(
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
    memory.remember_job_facts(facts)
    return facts


def in_team(actor: Actor, team_id: int | None) -> bool:
    """Whether ``gtcore.core.access.require_team_member`` lets the actor work on a job of this team."""
    return actor.system or (actor.has(WORKER) and team_id is not None and team_id in actor.team_ids)
