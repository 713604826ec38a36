"""Ground Truth's time limits with now=: TaskTimeLimitInSeconds from acceptance (never extended by activity) and
TaskAvailabilityLifetimeInSeconds from the job's start (unfinished objects failed, left out of consolidation,
counted; the job completes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gtcore.core.access import Actor
from gtcore.core.errors import TaskError
from gtcore.jobs import api as jobs
from gtcore.output import writer as output
from gtcore.queue import api as queue
from gtcore.queue import lifetime
from gtcore.work.handlers import maintenance
from tests.fixtures.core import run_work
from tests.fixtures.queue import QueueWorld, box_answer

T0 = 1_800_000_000.0
LIFE = 1000


def _job(w: QueueWorld) -> int:
    return w.new_job(n_objects=3, workers_per_object=2, created_at=T0, availability_lifetime=LIFE, task_time_limit=600)


def _answered(w: QueueWorld, job: int) -> queue.Task:
    a, b, c = w.workers[:3]
    for k, worker in enumerate((a, b)):
        t = queue.claim_next(w.ctx, worker, job, now=T0 + k)
        assert t is not None and t.object_idx == 0
        queue.submit(w.ctx, worker, t.assignment_id, box_answer("cat"), now=T0 + 10 + k)  # object 0: done
    t = queue.claim_next(w.ctx, a, job, now=T0 + 20)
    assert t is not None and t.object_idx == 1
    queue.submit(w.ctx, a, t.assignment_id, box_answer("dog"), now=T0 + 30)  # object 1: 1 of 2 answers
    held = queue.claim_next(w.ctx, c, job, now=T0 + 900)  # c holds object 1 when the lifetime ends
    assert held is not None and held.object_idx == 1
    return held


def _check_completed(w: QueueWorld, job: int) -> None:
    run_work(w.ctx)
    row = w.job_row(job)
    assert row.status == "Completed"
    assert [o.status for o in w.objects(job)] == ["done", "failed", "failed"]
    d = jobs.describe_labeling_job(w.ctx, Actor.system_actor(), row.name)
    assert d["LabelCounters"]["FailedNonRetryableError"] == 2 and d["LabelCounters"]["HumanLabeled"] == 1
    lines = [json.loads(x) for x in Path(output.output_manifest_uri(row)).read_text().splitlines()]
    assert ["label" in x for x in lines] == [True, False, False]  # failed objects are left out of consolidation
    folder = Path(output.job_folder(row))
    request = [json.loads(p.read_text()) for p in (folder / output.REQUEST_DIR).iterdir()]
    assert {o["datasetObjectId"] for r in request for o in r} == {"0"}
    # object 1's answer is kept in its worker-response file (answered objects get one when the job ends)
    got = sorted(p.parent.name for p in (folder / "annotations" / "worker-response").rglob("*.json"))
    assert got == ["0", "1"]


def test_lifetime_ends_at_a_claim(any_world: QueueWorld) -> None:
    w = any_world
    job = _job(w)
    held = _answered(w, job)
    assert queue.claim_next(w.ctx, w.workers[3], job, now=T0 + LIFE - 1) is not None  # still within it
    assert queue.claim_next(w.ctx, w.workers[1], job, now=T0 + LIFE + 1) is None  # ended: nothing handed out
    with pytest.raises(TaskError, match="task availability lifetime ended"):
        queue.submit(w.ctx, w.workers[2], held.assignment_id, box_answer(), now=T0 + LIFE + 2)
    _check_completed(w, job)


def test_lifetime_ends_at_the_sweep(any_world: QueueWorld) -> None:
    w = any_world
    job = _job(w)
    _answered(w, job)
    assert lifetime.expire_lifetimes(w.ctx, now=T0 + LIFE - 1) == 0
    assert maintenance.sweep(w.ctx, now=T0 + LIFE + 1)["ObjectsFailedLifetime"] == 2
    assert [a.status for a in w.assignments(job)][-1] == "expired"  # the live lease ended with it
    _check_completed(w, job)


def test_time_limit_counts_from_acceptance_through_stop_and_resume(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=1, task_time_limit=300, created_at=T0)
    a = w.workers[0]
    t = queue.claim_next(w.ctx, a, job, now=T0)
    assert t is not None and t.lease_expires_at == T0 + 300
    queue.stop_and_resume_later(w.ctx, a, t.assignment_id, now=T0 + 100)
    again = queue.claim_next(w.ctx, a, job, now=T0 + 290)  # resumed: same task, same deadline
    assert again is not None and again.assignment_id == t.assignment_id and again.lease_expires_at == T0 + 300
    assert queue.heartbeat(w.ctx, a, t.assignment_id, now=T0 + 299) == T0 + 300
    with pytest.raises(TaskError, match="time limit ended"):
        queue.submit(w.ctx, a, t.assignment_id, box_answer(), now=T0 + 301)
