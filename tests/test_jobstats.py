"""Job progress for the status page: counters, per-worker table, submit times, access checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import NotFound, PermissionDenied
from gtcore.jobs.progress import job_progress
from tests.fixtures.core import make_team, make_user
from tests.fixtures.outputjobs import class_answer, decline, insert_job, insert_objects, submit_answer


def test_job_progress_counters_workers_and_times(any_ctx: Context, tmp_path: Path) -> None:
    ctx = any_ctx
    team = make_team(ctx.db, "crew")
    job = insert_job(
        ctx.db,
        name="progress",
        task_type="ImageClassification",
        labels=["x", "y"],
        output_path=str(tmp_path / "o"),
        workers_per_object=2,
        team_id=team,
    )
    insert_objects(ctx.db, job, [{"source-ref": f"s3://b/{k}.jpg"} for k in range(6)], skipped=frozenset({5}))
    ann = make_user(ctx.db, "ann@example.test", team_ids=(team,))
    bob = make_user(ctx.db, "bob@example.test", team_ids=(team,))
    for k, spent in zip(range(3), (10.0, 20.0, 60.0), strict=True):
        submit_answer(ctx.db, job, k, ann, class_answer("x"), submitted_at=1000.0 + k, time_spent=spent)
    submit_answer(ctx.db, job, 0, bob, class_answer("y"), submitted_at=2000.0, time_spent=5.0)
    decline(ctx.db, job, 1, bob)
    with ctx.db.write() as c:
        c.execute(update(dbm.objects).where(dbm.objects.c.idx == 4).values(status="failed"))
        t = dbm.now()
        c.execute(  # a live lease of bob on object 2
            dbm.assignments.insert().values(
                job_id=job,
                object_idx=2,
                worker_id=bob.user_id,
                status="leased",
                accepted_at=t,
                lease_expires_at=t + 600,
                updated_at=t,
            )
        )
    admin = make_user(ctx.db, "lead@example.test", roles=("admin",))
    p = job_progress(ctx, admin, job)
    assert p.name == "progress" and p.status == "InProgress" and p.workers_per_object == 2
    assert p.objects == {"open": 3, "done": 1, "failed": 1, "skipped": 1, "machine": 0}
    assert p.total_objects == 6 and p.fraction_done == pytest.approx(3 / 6)
    assert p.label_counters == {
        "TotalLabeled": 1,
        "HumanLabeled": 1,
        "MachineLabeled": 0,
        "FailedNonRetryableError": 1,
        "Unlabeled": 3,
    }
    assert p.answers_submitted == 4 and p.answers_needed == 5 * 2
    assert p.in_progress == 1
    assert [(w.email, w.submitted, w.declined, w.median_seconds) for w in p.workers] == [
        ("ann@example.test", 3, 0, 20.0),
        ("bob@example.test", 1, 1, 5.0),
    ]
    assert p.workers[0].worker_id == ann.worker_id
    assert p.submit_times == [1000.0, 1001.0, 1002.0, 2000.0]
    auditor = make_user(ctx.db, "aud@example.test", roles=("auditor",))
    assert job_progress(ctx, auditor, job).answers_submitted == 4


def test_job_progress_access_and_missing_job(ctx: Context, tmp_path: Path) -> None:
    team = make_team(ctx.db, "crew")
    job = insert_job(
        ctx.db, name="secret", task_type="BoundingBox", labels=["x"], output_path=str(tmp_path / "o"), team_id=team
    )
    worker = make_user(ctx.db, "w@example.test", team_ids=(team,))
    with pytest.raises(PermissionDenied, match="w@example.test"):
        job_progress(ctx, worker, job)
    admin = make_user(ctx.db, "lead@example.test", roles=("admin",))
    with pytest.raises(NotFound, match="9999"):
        job_progress(ctx, admin, 9999)
    empty = job_progress(ctx, admin, job)
    assert empty.workers == [] and empty.submit_times == [] and empty.fraction_done == 0.0
