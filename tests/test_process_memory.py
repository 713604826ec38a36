"""What a process remembers (``Context.memory``, gtcore.core.memory) and the rules that drop it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import JobClosed
from gtcore.core.memory import JobFlags, ProcessMemory
from gtcore.jobs import actions as jobactions
from gtcore.jobs import due
from gtcore.jobs import finishing as lifecycle
from gtcore.output import worker_responses as responses
from gtcore.queue import api as queue
from tests.fixtures.core import make_settings
from tests.fixtures.queue import QueueWorld, box_answer, make_world

T0 = 1_800_000_000.0


def test_a_claim_remembers_the_job_and_the_assignment_and_a_submit_forgets_the_assignment(
    any_world: QueueWorld,
) -> None:
    w = any_world
    job = w.new_job(n_objects=2, labels=["cat", "dog"])
    task = queue.claim_next(w.ctx, w.workers[0], job, now=T0)
    assert task is not None
    facts = w.ctx.memory.job_facts(job)
    assert facts is not None and facts.labels == ("cat", "dog") and facts.total_objects == 2
    assert w.ctx.memory.assignment(task.assignment_id) == (job, task.object_idx)
    queue.submit(w.ctx, w.workers[0], task.assignment_id, box_answer(), now=T0 + 1)
    assert w.ctx.memory.assignment(task.assignment_id) is None
    assert w.ctx.memory.job_facts(job) == facts  # the job still runs: its facts stay


def test_decline_and_release_forget_the_assignment(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=3)
    first = queue.claim_next(w.ctx, w.workers[0], job, now=T0)
    assert first is not None
    queue.decline(w.ctx, w.workers[0], first.assignment_id, "blurry", now=T0 + 1)
    assert w.ctx.memory.assignment(first.assignment_id) is None
    second = queue.claim_next(w.ctx, w.workers[0], job, now=T0 + 2)
    assert second is not None and w.ctx.memory.assignment(second.assignment_id) is not None
    queue.release(w.ctx, w.workers[0], second.assignment_id, now=T0 + 3)
    assert w.ctx.memory.assignment(second.assignment_id) is None


def test_stopping_a_job_here_drops_everything_remembered_about_it(any_world: QueueWorld) -> None:
    w = any_world
    job, other = w.new_job(n_objects=2), w.new_job(n_objects=2)
    held = [queue.claim_next(w.ctx, w.workers[0], j, now=T0) for j in (job, other)]
    with w.ctx.db.read() as conn:
        assert due.job_flags(conn, w.ctx.memory, job) == JobFlags(2, False, False)
    assert w.ctx.memory.job_facts(job) is not None and w.ctx.memory.job_flags(job) is not None
    jobactions.stop_labeling_job(w.ctx, Actor.system_actor(), w.job_row(job).name)
    assert w.ctx.memory.job_facts(job) is None
    assert w.ctx.memory.job_flags(job) is None
    assert held[0] is not None and w.ctx.memory.assignment(held[0].assignment_id) is None
    assert w.ctx.memory.job_facts(other) is not None  # another job's entries stay
    assert held[1] is not None and w.ctx.memory.assignment(held[1].assignment_id) is not None


def test_a_full_read_that_finds_the_job_no_longer_running_drops_its_facts(any_world: QueueWorld) -> None:
    """Another process stopped the job: this one's fast claim takes nothing (its SQL guards the status), the full
    claim reads the row, refuses, and the memory forgets the job."""
    w = any_world
    job = w.new_job(n_objects=3)
    assert queue.claim_next(w.ctx, w.workers[0], job, now=T0) is not None
    assert w.ctx.memory.job_facts(job) is not None
    with w.ctx.db.write() as conn:  # as another process would: this Context's memory is not told
        conn.execute(update(dbm.jobs).where(dbm.jobs.c.id == job).values(status="Stopping"))
    assert w.ctx.memory.job_facts(job) is not None
    with pytest.raises(JobClosed):
        queue.claim_next(w.ctx, w.workers[1], job, now=T0 + 1)
    assert w.ctx.memory.job_facts(job) is None


def test_finishing_a_job_drops_what_the_finishing_process_remembered(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=1)
    task = queue.claim_next(w.ctx, w.workers[0], job, now=T0)
    assert task is not None
    queue.submit(w.ctx, w.workers[0], task.assignment_id, box_answer(), now=T0 + 1)
    with w.ctx.db.read() as conn:
        due.job_flags(conn, w.ctx.memory, job)
    assert w.ctx.memory.job_flags(job) is not None
    lifecycle.finish_job(w.ctx, job, "Completed")
    assert w.job_row(job).status == "Completed"
    assert set(w.ctx.memory.sizes().values()) == {0}


def test_two_contexts_on_two_databases_do_not_see_each_others_facts(tmp_path: Path) -> None:
    """Both databases are fresh, so both jobs get id 1: what one Context remembers must not answer the other."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    ctxs = [Context.from_settings(make_settings(tmp_path / name)) for name in ("a", "b")]
    try:
        worlds = [make_world(c, tmp_path / name) for c, name in zip(ctxs, ("a", "b"), strict=True)]
        jobs = [wd.new_job(n_objects=1, labels=labels) for wd, labels in zip(worlds, (["cat"], ["boat"]), strict=True)]
        assert jobs[0] == jobs[1]  # the same id in both databases
        for wd, job in zip(worlds, jobs, strict=True):
            task = queue.claim_next(wd.ctx, wd.workers[0], job, now=T0)
            assert task is not None
        facts = [c.memory.job_facts(jobs[0]) for c in ctxs]
        assert [f.labels if f else None for f in facts] == [("cat",), ("boat",)]
        again = [queue.claim_next(wd.ctx, wd.workers[1], job, now=T0 + 1) for wd, job in zip(worlds, jobs, strict=True)]
        assert again == [None, None]  # each job's one object is taken in its own database
        ctxs[0].memory.forget_job(jobs[0])
        assert ctxs[0].memory.job_facts(jobs[0]) is None and ctxs[1].memory.job_facts(jobs[1]) is not None
    finally:
        for c in ctxs:
            c.db.dispose()


def test_first_objects_are_remembered_only_once_all_ten_are_known(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=12)
    for k in range(3):
        queue.claim_next(w.ctx, w.workers[k], job, now=T0)
    assert responses.first_objects(w.ctx, job) == frozenset({0, 1, 2})
    assert w.ctx.memory.first_objects(job) is None  # not fixed yet: the next call reads again
    for k in range(7):
        task = queue.claim_next(w.ctx, w.workers[3], job, now=T0 + 1 + k)
        assert task is not None
        queue.submit(w.ctx, w.workers[3], task.assignment_id, box_answer(), now=T0 + 1 + k)
    assert responses.first_objects(w.ctx, job) == frozenset(range(10))
    assert w.ctx.memory.first_objects(job) == frozenset(range(10))


def test_the_assignment_map_starts_over_past_its_bound() -> None:
    memory = ProcessMemory(max_assignments=3)
    for aid in range(3):
        memory.remember_assignment(aid, 7, aid)
    assert memory.assignment(2) == (7, 2)
    memory.remember_assignment(3, 7, 3)
    assert memory.sizes()["assignments"] == 1 and memory.assignment(0) is None and memory.assignment(3) == (7, 3)
    memory.clear()
    assert memory.assignment(3) is None


def test_the_shared_context_is_one_per_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("GT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{tmp_path / 'one.sqlite3'}")
    first = Context.shared()
    assert Context.shared() is first and first.memory is Context.shared().memory
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{tmp_path / 'two.sqlite3'}")
    second = Context.shared()
    assert second is not first and second.memory is not first.memory
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{tmp_path / 'one.sqlite3'}")
    assert Context.shared() is first
    for c in (first, second):
        c.db.dispose()


def test_forget_job_drops_only_that_jobs_entries() -> None:
    memory = ProcessMemory()
    for job in (1, 2):
        memory.remember_job_flags(job, JobFlags(5, False, False))
        memory.remember_first_objects(job, frozenset(range(10)))
        memory.remember_flagged(job, 3)
        memory.remember_assignment(100 + job, job, 3)
    memory.forget_job(1)
    assert (memory.job_flags(1), memory.first_objects(1), memory.flagged(1, 3), memory.assignment(101)) == (
        None, None, False, None
    )  # fmt: skip
    assert memory.job_flags(2) is not None and memory.flagged(2, 3) and memory.assignment(102) == (2, 3)
    assert memory.first_objects(2) == frozenset(range(10))
