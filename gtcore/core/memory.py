"""What one process remembers about one database, and when it forgets it: ``ProcessMemory``, one per Context
(``Context.memory``). Every per-process cache of job or queue state lives here, nowhere else.

A cache never decides anything: a miss only means the slower path that reads the rows, and each entry holds only
what cannot change while it is kept. The rules, one per cache:

- ``job_facts`` (``FixedJobFacts``, the queue's hot claim and submit paths, ``gtcore.queue.facts``): the job's columns
  fixed at creation, remembered from a full claim or submit that read the row while the job was ``InProgress``.
  Never its status, users or leases (every call reads or guards those in SQL). Dropped when this process sees the
  job in any other status (a full read of its row, or a status change made here: ``forget_job``).
- ``assignments``: the job and object of an assignment this process handed out, so a submit can check the answer
  before it touches the database. Dropped when the assignment ends here (submit, decline, release); the whole map
  starts over past ``max_assignments`` entries.
- ``job_flags`` (``JobFlags``, ``gtcore.jobs.due``): object count, StoppingConditions and automated labeling of a
  job (fixed at creation). Dropped by ``forget_job``.
- ``first_objects`` (``gtcore.output.worker_responses``): a job's first ten objects handed out (its
  ``iteration-1`` worker-response folder), kept only once all ten are known (then fixed). Dropped by
  ``forget_job``.
- ``flagged_objects`` (``gtcore.images.task_images``): objects whose image could not be shown and that this
  process flagged for the team lead already (so a page re-run does not flag them again). Dropped by
  ``forget_job``.

Not here, because they are not about a database's jobs: the decoded-image caches of ``gtcore.images`` (keyed by
store and URI, bounded by bytes), the viewer's caches of output files (keyed by URI and modification), and the
session-cookie codes of ``gtcore.ui.session_cookie`` (one process's web route, whatever its Context).

``forget_job`` drops everything about one job (called when a job changes status in this process); ``clear``
drops everything (a process that re-creates its database). Two Contexts never share a memory, so two databases
(or two schemas of one server) never see each other's entries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import NamedTuple

MAX_ASSIGNMENTS = 100_000  # assignments remembered per process before that map starts over


@dataclass(frozen=True)
class FixedJobFacts:
    """A job's columns fixed at creation, for the queue's hot paths (built by ``gtcore.queue.facts``)."""

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


class JobFlags(NamedTuple):
    """What decides which work becomes due when a job's object settles (``gtcore.jobs.due``)."""

    total_objects: int
    stopping: bool  # has StoppingConditions
    autolabel: bool  # has LabelingJobAlgorithmsConfig


class ProcessMemory:
    """The per-process caches of one Context (module docstring: what each keeps and when it is dropped)."""

    def __init__(self, max_assignments: int = MAX_ASSIGNMENTS) -> None:
        self.max_assignments = max_assignments
        self._lock = threading.Lock()
        self._job_facts: dict[int, FixedJobFacts] = {}
        self._job_flags: dict[int, JobFlags] = {}
        self._first_objects: dict[int, frozenset[int]] = {}
        self._assignments: dict[int, tuple[int, int]] = {}  # assignment -> (job, object idx)
        self._flagged: set[tuple[int, int]] = set()  # (job, object idx)

    # ---------------------------------------------------------------- the queue's job facts
    def job_facts(self, job_id: int) -> FixedJobFacts | None:
        return self._job_facts.get(job_id)

    def remember_job_facts(self, facts: FixedJobFacts) -> None:
        self._job_facts[facts.id] = facts

    # ---------------------------------------------------------------- assignments handed out here
    def assignment(self, assignment_id: int) -> tuple[int, int] | None:
        """(job, object idx) of an assignment this process handed out and that has not ended here."""
        return self._assignments.get(assignment_id)

    def remember_assignment(self, assignment_id: int, job_id: int, object_idx: int) -> None:
        with self._lock:
            if len(self._assignments) >= self.max_assignments:
                self._assignments.clear()
            self._assignments[assignment_id] = (job_id, object_idx)

    def forget_assignment(self, assignment_id: int) -> None:
        self._assignments.pop(assignment_id, None)

    # ---------------------------------------------------------------- due-work flags
    def job_flags(self, job_id: int) -> JobFlags | None:
        return self._job_flags.get(job_id)

    def remember_job_flags(self, job_id: int, flags: JobFlags) -> None:
        self._job_flags[job_id] = flags

    # ---------------------------------------------------------------- worker-response iterations
    def first_objects(self, job_id: int) -> frozenset[int] | None:
        return self._first_objects.get(job_id)

    def remember_first_objects(self, job_id: int, objects: frozenset[int]) -> None:
        self._first_objects[job_id] = objects

    # ---------------------------------------------------------------- objects flagged for the team lead
    def flagged(self, job_id: int, object_idx: int) -> bool:
        return (job_id, object_idx) in self._flagged

    def remember_flagged(self, job_id: int, object_idx: int) -> None:
        self._flagged.add((job_id, object_idx))

    # ---------------------------------------------------------------- invalidation
    def forget_job(self, job_id: int) -> None:
        """Drop everything about one job (its status changed, or it is gone)."""
        with self._lock:
            self._job_facts.pop(job_id, None)
            self._job_flags.pop(job_id, None)
            self._first_objects.pop(job_id, None)
            self._flagged = {f for f in self._flagged if f[0] != job_id}
            for aid in [a for a, (j, _idx) in self._assignments.items() if j == job_id]:
                del self._assignments[aid]

    def clear(self) -> None:
        """Drop everything (the database was re-created under this process)."""
        with self._lock:
            self._job_facts.clear()
            self._job_flags.clear()
            self._first_objects.clear()
            self._assignments.clear()
            self._flagged.clear()

    def sizes(self) -> dict[str, int]:
        """How many entries each cache holds (for tests and diagnostics)."""
        return {
            "job_facts": len(self._job_facts),
            "assignments": len(self._assignments),
            "job_flags": len(self._job_flags),
            "first_objects": len(self._first_objects),
            "flagged_objects": len(self._flagged),
        }
