"""The task queue (gtcore.queue.claim) on SQLite and PostgreSQL: claims, leases, every refusal path, completion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import NotFound, PermissionDenied, TaskError, ValidationError
from gtcore.jobs import finishing as lifecycle
from gtcore.queue import api as queue
from tests.fixtures.core import make_settings, make_user, run_work
from tests.fixtures.queue import QueueWorld, box_answer

T0 = 1_800_000_000.0  # injected "now" (2027-01-15); leases are checked against it
LIMIT = 300


def response_files(world: QueueWorld, job_id: int) -> list[Path]:
    job = world.job_row(job_id)
    root = Path(job.output_path) / job.name / "annotations" / "worker-response" / "iteration-1"
    return sorted(root.rglob("*.json")) if root.exists() else []


def live_leases(world: QueueWorld, job_id: int, idx: int, now: float) -> int:
    return sum(
        1
        for a in world.assignments(job_id)
        if a.object_idx == idx and a.status in ("leased", "stopped") and a.lease_expires_at >= now
    )


@pytest.fixture
def finish_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """Record every lifecycle.finish_job call (and still run the real one)."""
    calls: list[tuple[int, str]] = []
    real = lifecycle.finish_job

    def recording(ctx: Context, job_id: int, final_status: str) -> None:
        calls.append((job_id, final_status))
        real(ctx, job_id, final_status)

    monkeypatch.setattr(lifecycle, "finish_job", recording)
    return calls


# --- claiming ----------------------------------------------------------------------------------------


def test_claim_returns_a_task_with_everything_the_label_page_needs(any_world: QueueWorld) -> None:
    w = any_world
    instructions = {"Short": "Box every cat", "Full": "# Cats\nall of them"}
    job = w.new_job(n_objects=3, instructions=instructions, labels=["cat", "dog"])
    task = queue.claim_next(w.ctx, w.workers[0], job, now=T0)
    assert task is not None
    assert (task.job_id, task.object_idx, task.status) == (job, 0, "leased")
    assert task.job_name == w.job_row(job).name
    assert task.source_ref == str(w.out / "images" / "img0.png")
    assert task.line == {"source-ref": task.source_ref}
    assert task.task_type == "BoundingBox" and task.labels == ["cat", "dog"]
    assert task.accepted_at == T0 and task.lease_expires_at == T0 + LIMIT
    assert task.draft is None and task.previous is None and task.instructions == instructions
    obj = w.objects(job)[0]
    assert (obj.taken, obj.answers, obj.status) == (1, 0, "open")


def test_claim_again_resumes_the_held_task_instead_of_taking_another(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=3)
    first = queue.claim_next(w.ctx, w.workers[0], job, now=T0)
    again = queue.claim_next(w.ctx, w.workers[0], job, now=T0 + 5)
    assert first is not None and again is not None
    assert again.assignment_id == first.assignment_id
    assert queue.current_task(w.ctx, w.workers[0], job, now=T0 + 5) == again
    assert [o.taken for o in w.objects(job)] == [1, 0, 0]
    assert len(w.assignments(job)) == 1


def test_distinct_workers_per_object(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=2, workers_per_object=2)
    a, b, c = w.workers[:3]
    ta = queue.claim_next(w.ctx, a, job, now=T0)
    tb = queue.claim_next(w.ctx, b, job, now=T0)
    tc = queue.claim_next(w.ctx, c, job, now=T0)
    assert ta and tb and tc
    assert (ta.object_idx, tb.object_idx, tc.object_idx) == (0, 0, 1)  # object 0 is full with 2 leases
    queue.submit(w.ctx, a, ta.assignment_id, box_answer(), now=T0 + 1)
    t2 = queue.claim_next(w.ctx, a, job, now=T0 + 2)
    assert t2 is not None and t2.object_idx == 1  # never object 0 again for a
    queue.submit(w.ctx, a, t2.assignment_id, box_answer(), now=T0 + 3)
    assert queue.claim_next(w.ctx, a, job, now=T0 + 4) is None  # answered everything he may
    assert [(o.taken, o.answers) for o in w.objects(job)] == [(2, 1), (2, 1)]


def test_max_concurrent_task_count_window(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=5, max_concurrent=2)
    a, b, c = w.workers[:3]
    ta = queue.claim_next(w.ctx, a, job, now=T0)
    tb = queue.claim_next(w.ctx, b, job, now=T0)
    assert ta and tb and {ta.object_idx, tb.object_idx} == {0, 1}
    assert queue.claim_next(w.ctx, c, job, now=T0) is None  # objects 2..4 are not released yet
    queue.submit(w.ctx, a, ta.assignment_id, box_answer(), now=T0 + 1)
    tc = queue.claim_next(w.ctx, c, job, now=T0 + 2)
    assert tc is not None and tc.object_idx == 2  # the window moved on by one
    in_flight = [o for o in w.objects(job) if o.status == "open" and o.taken > 0]
    assert len(in_flight) <= 2


def test_max_concurrent_counts_objects_not_tasks(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=3, max_concurrent=1, workers_per_object=2)
    a, b, c = w.workers[:3]
    ta, tb = queue.claim_next(w.ctx, a, job, now=T0), queue.claim_next(w.ctx, b, job, now=T0)
    assert ta and tb and ta.object_idx == tb.object_idx == 0
    assert queue.claim_next(w.ctx, c, job, now=T0) is None


def test_window_counts_open_objects_before_the_candidate(any_world: QueueWorld) -> None:
    """The claim picks the worker's first claimable object and takes it only inside the window: a worker who
    answered every object of the window gets nothing beyond it, even though later objects are untouched."""
    w = any_world
    job = w.new_job(n_objects=4, max_concurrent=2, workers_per_object=2)
    a, b = w.workers[:2]
    for i in range(2):
        t = queue.claim_next(w.ctx, a, job, now=T0 + i)
        assert t is not None and t.object_idx == i
        queue.submit(w.ctx, a, t.assignment_id, box_answer(), now=T0 + i)
    assert queue.claim_next(w.ctx, a, job, now=T0 + 3) is None  # objects 0 and 1 still open: 2, 3 wait
    tb = queue.claim_next(w.ctx, b, job, now=T0 + 3)
    assert tb is not None and tb.object_idx == 0
    queue.submit(w.ctx, b, tb.assignment_id, box_answer(), now=T0 + 4)  # object 0 done: the window moves on
    ta = queue.claim_next(w.ctx, a, job, now=T0 + 5)
    assert ta is not None and ta.object_idx == 2


def test_remembered_job_facts_never_outlive_the_rows(any_world: QueueWorld) -> None:
    """Claims and submits remember a job's fixed columns and an assignment's object per process; a job row or an
    assignment that is not what was remembered (a database made again under the same URL) is read afresh."""
    w = any_world
    job = w.new_job(n_objects=3, task_time_limit=300)
    a, b = w.workers[:2]
    ta = queue.claim_next(w.ctx, a, job, now=T0)
    assert ta is not None and ta.object_idx == 0 and ta.lease_expires_at == T0 + 300
    with w.ctx.db.write() as conn:  # the same ids, other rows: the lease is now on object 1
        conn.execute(dbm.jobs.update().where(dbm.jobs.c.id == job).values(created_at=T0 - 5, task_time_limit=77))
        conn.execute(dbm.assignments.update().where(dbm.assignments.c.id == ta.assignment_id).values(object_idx=1))
        conn.execute(dbm.objects.update().where(dbm.objects.c.job_id == job).values(taken=0))
        conn.execute(dbm.objects.update().where(dbm.objects.c.job_id == job, dbm.objects.c.idx == 1).values(taken=1))
    tb = queue.claim_next(w.ctx, b, job, now=T0 + 1)
    assert tb is not None and tb.object_idx == 0 and tb.lease_expires_at == T0 + 1 + 77
    result = queue.submit(w.ctx, a, ta.assignment_id, box_answer(), now=T0 + 2)
    assert result.object_done
    assert [(o.idx, o.status, o.answers) for o in w.objects(job)] == [(0, "open", 0), (1, "done", 1), (2, "open", 0)]


# --- submit ------------------------------------------------------------------------------------------


def test_submit_commits_and_the_worker_writes_one_ground_truth_file_per_object(any_world: QueueWorld) -> None:
    """The submit only commits; once the object's answers are complete a background worker writes ONE file with
    every answer, named by the last submission rounded up to the second (never earlier, never suffixed)."""
    w = any_world
    job = w.new_job(n_objects=2, workers_per_object=2)
    a, b = w.workers[:2]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    result = queue.submit(w.ctx, a, task.assignment_id, box_answer("dog", n=2), now=T0 + 12.5)
    assert result.object_done is False and result.job_done is False and result.response_uri is None
    run_work(w.ctx)
    assert response_files(w, job) == []  # one answer of two: the object is not complete
    tb = queue.claim_next(w.ctx, b, job, now=T0 + 13)
    assert tb is not None and tb.object_idx == 0
    assert queue.submit(w.ctx, b, tb.assignment_id, box_answer("cat"), now=T0 + 20.2).object_done
    run_work(w.ctx)
    job_row = w.job_row(job)
    expected = str(
        w.out / job_row.name / "annotations" / "worker-response" / "iteration-1" / "0" / "2027-01-15_08:00:21.json"
    )
    assert [str(p) for p in response_files(w, job)] == [expected]
    raw = Path(expected).read_text()
    assert ", " not in raw and '": ' not in raw  # compact JSON
    body = json.loads(raw)
    ans, second = body["answers"]
    assert list(ans) == [
        "acceptanceTime",
        "answerContent",
        "submissionTime",
        "timeSpentInSeconds",
        "workerId",
        "workerMetadata",
    ]
    assert ans["answerContent"] == box_answer("dog", n=2)
    assert (ans["workerId"], second["workerId"]) == (a.worker_id, b.worker_id)  # distinct, in submission order
    assert ans["acceptanceTime"] == "2027-01-15T08:00:00.000Z"
    assert ans["submissionTime"] == "2027-01-15T08:00:12.500Z"
    assert second["submissionTime"] == "2027-01-15T08:00:20.200Z"
    assert ans["timeSpentInSeconds"] == 12.5
    ident = ans["workerMetadata"]["identityData"]
    assert ident["identityProviderType"] == "Cognito" and ident["issuer"] == "https://localhost:8501"
    with w.ctx.db.read() as c:
        sub = c.execute(dbm.users.select().where(dbm.users.c.id == a.user_id)).one().sub
    assert ident["sub"] == sub
    rows = w.assignments(job)
    assert [(r.status, r.response_uri) for r in rows] == [("submitted", expected)] * 2
    assert json.loads(rows[0].answer_json) == box_answer("dog", n=2)
    obj = w.objects(job)[0]
    assert (obj.taken, obj.answers, obj.status) == (2, 2, "done")
    run_work(w.ctx)
    assert len(response_files(w, job)) == 1  # running again writes nothing new


def test_submit_twice_is_refused_and_changes_nothing(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=2)
    a = w.workers[0]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    queue.submit(w.ctx, a, task.assignment_id, box_answer("cat"), now=T0 + 1)
    with pytest.raises(TaskError, match="already submitted"):
        queue.submit(w.ctx, a, task.assignment_id, box_answer("dog"), now=T0 + 2)
    (row,) = w.assignments(job)
    assert json.loads(row.answer_json) == box_answer("cat")
    run_work(w.ctx)
    assert len(response_files(w, job)) == 1
    assert w.objects(job)[0].answers == 1


def test_submit_after_the_lease_expired_is_refused_and_the_task_goes_back(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=1)
    a, b = w.workers[:2]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    assert queue.claim_next(w.ctx, b, job, now=T0 + 10) is None  # held by a
    late = T0 + LIMIT + 1
    with pytest.raises(TaskError, match="time limit ended"):
        queue.submit(w.ctx, a, task.assignment_id, box_answer(), now=late)
    assert queue.expire_leases(w.ctx, job, now=late) == 1
    assert (w.objects(job)[0].taken, w.assignments(job)[0].status) == (0, "expired")
    tb = queue.claim_next(w.ctx, b, job, now=late)
    assert tb is not None and tb.object_idx == 0
    with pytest.raises(TaskError):
        queue.submit(w.ctx, a, task.assignment_id, box_answer(), now=late + 1)
    assert queue.submit(w.ctx, b, tb.assignment_id, box_answer(), now=late + 2).object_done
    run_work(w.ctx)
    assert response_files(w, job) and len(response_files(w, job)) == 1


def test_lease_expiry_inside_claim_returns_the_task_to_the_pool(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=1)
    a, b = w.workers[:2]
    ta = queue.claim_next(w.ctx, a, job, now=T0)
    assert ta is not None
    tb = queue.claim_next(w.ctx, b, job, now=T0 + LIMIT + 0.001)  # no separate expire_leases call
    assert tb is not None and tb.object_idx == 0
    assert w.objects(job)[0].taken == 1
    assert queue.current_task(w.ctx, a, job, now=T0 + LIMIT + 1) is None


def test_heartbeat_keeps_the_session_but_never_moves_the_deadline(any_world: QueueWorld) -> None:
    """TaskTimeLimitInSeconds counts from acceptance (Ground Truth): activity never extends it (issue 14)."""
    w = any_world
    job = w.new_job(n_objects=1)
    a = w.workers[0]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None and task.lease_expires_at == T0 + LIMIT
    assert queue.heartbeat(w.ctx, a, task.assignment_id, now=T0 + 200) == T0 + LIMIT
    queue.save_draft(w.ctx, a, task.assignment_id, {"v": 1}, now=T0 + 250)
    assert w.assignments(job)[0].lease_expires_at == T0 + LIMIT
    assert queue.current_task(w.ctx, a, job, now=T0 + LIMIT).lease_expires_at == T0 + LIMIT  # type: ignore[union-attr]
    with pytest.raises(TaskError, match="time limit ended"):
        queue.submit(w.ctx, a, task.assignment_id, box_answer(), now=T0 + LIMIT + 1)
    with pytest.raises(TaskError):
        queue.heartbeat(w.ctx, a, task.assignment_id, now=T0 + LIMIT + 2)


def test_heartbeat_after_expiry_is_refused(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=1)
    task = queue.claim_next(w.ctx, w.workers[0], job, now=T0)
    assert task is not None
    with pytest.raises(TaskError, match="time limit ended"):
        queue.heartbeat(w.ctx, w.workers[0], task.assignment_id, now=T0 + LIMIT + 1)


def test_invalid_answer_is_refused_and_the_lease_stays(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=1)
    a = w.workers[0]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    bad = box_answer("horse")
    with pytest.raises(ValidationError) as ei:
        queue.submit(w.ctx, a, task.assignment_id, bad, now=T0 + 1)
    assert any(p.field == "boundingBox.boundingBoxes[0].label" for p in ei.value.problems)
    assert w.assignments(job)[0].status == "leased" and response_files(w, job) == []
    assert queue.submit(w.ctx, a, task.assignment_id, box_answer("bird"), now=T0 + 2).object_done


# --- who may act -------------------------------------------------------------------------------------


def test_another_worker_of_the_team_cannot_touch_my_task(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=2)
    a, b = w.workers[:2]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    aid = task.assignment_id
    calls: list[Any] = [
        lambda: queue.submit(w.ctx, b, aid, box_answer(), now=T0 + 1),
        lambda: queue.heartbeat(w.ctx, b, aid, now=T0 + 1),
        lambda: queue.save_draft(w.ctx, b, aid, {"x": 1}, now=T0 + 1),
        lambda: queue.decline(w.ctx, b, aid, "nope", now=T0 + 1),
        lambda: queue.release(w.ctx, b, aid, now=T0 + 1),
        lambda: queue.stop_and_resume_later(w.ctx, b, aid, now=T0 + 1),
        lambda: queue.flag_object(w.ctx, b, aid, "broken"),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied, match="another worker"):
            call()
    (row,) = w.assignments(job)
    assert row.status == "leased" and row.draft_json is None
    assert w.objects(job)[0].image_error is None


def test_a_worker_of_another_team_gets_permission_denied_everywhere(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=2)
    task = queue.claim_next(w.ctx, w.workers[0], job, now=T0)
    assert task is not None
    o, aid = w.outsider, task.assignment_id
    for call in [
        lambda: queue.claim_next(w.ctx, o, job, now=T0),
        lambda: queue.current_task(w.ctx, o, job, now=T0),
        lambda: queue.submit(w.ctx, o, aid, box_answer(), now=T0 + 1),
        lambda: queue.heartbeat(w.ctx, o, aid, now=T0 + 1),
        lambda: queue.save_draft(w.ctx, o, aid, {}, now=T0 + 1),
        lambda: queue.decline(w.ctx, o, aid, now=T0 + 1),
        lambda: queue.release(w.ctx, o, aid, now=T0 + 1),
        lambda: queue.stop_and_resume_later(w.ctx, o, aid, now=T0 + 1),
        lambda: queue.flag_object(w.ctx, o, aid, "broken"),
    ]:
        with pytest.raises(PermissionDenied, match="not in the team"):
            call()
    assert queue.worker_jobs(w.ctx, o) == []
    assert [o.taken for o in w.objects(job)] == [1, 0]


def test_non_worker_roles_and_missing_things(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=1)
    admin = make_user(w.ctx.db, "lead@example.test", roles=("admin",), team_ids=(w.team_id,))
    with pytest.raises(PermissionDenied, match="worker role"):
        queue.claim_next(w.ctx, admin, job, now=T0)
    with pytest.raises(PermissionDenied):
        queue.worker_jobs(w.ctx, admin)
    disabled = Actor(**{**w.workers[0].__dict__, "is_active": False})
    with pytest.raises(PermissionDenied, match="disabled"):
        queue.claim_next(w.ctx, disabled, job, now=T0)
    with pytest.raises(NotFound, match="job 9999"):
        queue.claim_next(w.ctx, w.workers[0], 9999, now=T0)
    with pytest.raises(NotFound, match="task 9999"):
        queue.submit(w.ctx, w.workers[0], 9999, box_answer(), now=T0)


# --- stopped jobs and completion ---------------------------------------------------------------------


def test_stopped_job_hands_out_nothing_and_refuses_work(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=3)
    a, b = w.workers[:2]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    queue.save_draft(w.ctx, a, task.assignment_id, {"boxes": [1]}, now=T0 + 1)
    with w.ctx.db.write() as c:
        c.execute(dbm.jobs.update().where(dbm.jobs.c.id == job).values(status="Stopped"))
    with pytest.raises(TaskError, match="Stopped"):
        queue.claim_next(w.ctx, b, job, now=T0 + 2)
    for call in [
        lambda: queue.submit(w.ctx, a, task.assignment_id, box_answer(), now=T0 + 2),
        lambda: queue.heartbeat(w.ctx, a, task.assignment_id, now=T0 + 2),
        lambda: queue.save_draft(w.ctx, a, task.assignment_id, {}, now=T0 + 2),
    ]:
        with pytest.raises(TaskError, match="the job is Stopped"):
            call()
    assert queue.current_task(w.ctx, a, job, now=T0 + 2) is None
    assert queue.worker_jobs(w.ctx, a) == []
    assert w.assignments(job)[0].draft_json == json.dumps({"boxes": [1]})  # kept, never lost


def test_job_completes_through_finish_job_exactly_once(any_world: QueueWorld, finish_calls: list) -> None:
    w = any_world
    job = w.new_job(n_objects=3, workers_per_object=2)
    t = T0
    results = []
    for _ in range(4):
        for worker in w.workers[:2]:
            t += 1
            try:
                task = queue.claim_next(w.ctx, worker, job, now=t)
            except TaskError:
                continue
            if task is not None:
                results.append(queue.submit(w.ctx, worker, task.assignment_id, box_answer(), now=t + 0.5))
    assert sum(r.object_done for r in results) == 3
    assert [r.job_done for r in results] == [False] * 5 + [True]
    assert finish_calls == []  # the submit only records that finishing is due
    run_work(w.ctx)
    assert finish_calls == [(job, "Completed")]
    assert w.job_row(job).status == "Completed"
    # later maintenance and claims do not finish it again
    queue.expire_leases(w.ctx, now=t + 10_000)
    with pytest.raises(TaskError, match="Completed"):
        queue.claim_next(w.ctx, w.workers[2], job, now=t + 10_001)
    run_work(w.ctx)
    assert finish_calls == [(job, "Completed")]
    assert len(response_files(w, job)) == 3  # one file per object


# --- decline / release / stop and resume -------------------------------------------------------------


def test_declined_object_is_never_offered_to_that_worker_again(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=2, workers_per_object=2)
    a, b = w.workers[:2]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None and task.object_idx == 0
    queue.decline(w.ctx, a, task.assignment_id, "image is black", now=T0 + 1)
    row = w.assignments(job)[0]
    assert (row.status, row.decline_reason) == ("declined", "image is black")
    obj = w.objects(job)[0]
    assert (obj.taken, obj.declines, obj.status) == (0, 1, "open")
    again = queue.claim_next(w.ctx, a, job, now=T0 + 2)
    assert again is not None and again.object_idx == 1
    tb = queue.claim_next(w.ctx, b, job, now=T0 + 2)
    assert tb is not None and tb.object_idx == 0  # others still get it
    with pytest.raises(TaskError, match="declined"):
        queue.submit(w.ctx, a, task.assignment_id, box_answer(), now=T0 + 3)


def test_as_many_declines_as_answers_needed_fail_the_object(any_world: QueueWorld, finish_calls: list) -> None:
    w = any_world
    job = w.new_job(n_objects=1, workers_per_object=2)
    a, b, c = w.workers[:3]
    for i, worker in enumerate((a, b)):
        task = queue.claim_next(w.ctx, worker, job, now=T0 + i)
        assert task is not None
        queue.decline(w.ctx, worker, task.assignment_id, now=T0 + i + 0.5)
    obj = w.objects(job)[0]
    assert (obj.declines, obj.status) == (2, "failed")
    run_work(w.ctx)
    assert finish_calls == [(job, "Completed")]
    with pytest.raises(TaskError):
        queue.claim_next(w.ctx, c, job, now=T0 + 5)


def test_declines_with_a_live_lease_wait_for_it_and_an_answer_makes_the_object_labeled(
    any_world: QueueWorld,
) -> None:
    w = any_world
    job = w.new_job(n_objects=1, workers_per_object=2)
    a, b, c, d = w.workers[:4]
    ta = queue.claim_next(w.ctx, a, job, now=T0)
    tb = queue.claim_next(w.ctx, b, job, now=T0)
    assert ta and tb
    queue.decline(w.ctx, b, tb.assignment_id, now=T0 + 1)
    tc = queue.claim_next(w.ctx, c, job, now=T0 + 2)
    assert tc is not None
    queue.decline(w.ctx, c, tc.assignment_id, now=T0 + 3)
    assert w.objects(job)[0].status == "open"  # a still holds a lease on it
    assert queue.claim_next(w.ctx, d, job, now=T0 + 4) is None  # but nobody new gets it
    assert queue.submit(w.ctx, a, ta.assignment_id, box_answer(), now=T0 + 5).object_done
    obj = w.objects(job)[0]
    assert (obj.answers, obj.declines, obj.status) == (1, 2, "done")


def test_released_task_goes_back_to_others_and_to_the_same_worker_later(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=1)
    a, b = w.workers[:2]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    queue.save_draft(w.ctx, a, task.assignment_id, {"boxes": ["half done"]}, now=T0 + 1)
    queue.release(w.ctx, a, task.assignment_id, now=T0 + 2)
    assert (w.objects(job)[0].taken, w.assignments(job)[0].status) == (0, "released")
    with pytest.raises(TaskError, match="released"):
        queue.submit(w.ctx, a, task.assignment_id, box_answer(), now=T0 + 3)
    tb = queue.claim_next(w.ctx, b, job, now=T0 + 3)
    assert tb is not None and tb.object_idx == 0
    queue.release(w.ctx, b, tb.assignment_id, now=T0 + 4)
    again = queue.claim_next(w.ctx, a, job, now=T0 + 5)
    assert again is not None and again.object_idx == 0
    assert again.assignment_id == task.assignment_id  # his row is re-used (unique job/object/worker)
    assert again.draft is None and again.accepted_at == T0 + 5  # the released work was dropped
    assert queue.submit(w.ctx, a, again.assignment_id, box_answer(), now=T0 + 6).object_done
    assert w.objects(job)[0].taken == 1


def test_stop_and_resume_later_keeps_the_task_and_its_draft(any_world: QueueWorld, tmp_path: Path) -> None:
    w = any_world
    job = w.new_job(n_objects=2)
    a, b = w.workers[:2]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    draft = {"boxes": [{"label": "cat", "left": 1, "top": 2, "width": 3, "height": 4}], "note": "é"}
    queue.save_draft(w.ctx, a, task.assignment_id, draft, now=T0 + 10)
    queue.stop_and_resume_later(w.ctx, a, task.assignment_id, now=T0 + 20)
    assert w.assignments(job)[0].status == "stopped"
    # a new process (fresh Context on the same database): the draft is server-side
    other = Context.from_settings(make_settings(tmp_path, database_url=w.ctx.db.url))
    try:
        resumed = queue.current_task(other, a, job, now=T0 + 100)
        assert resumed is not None and resumed.status == "stopped" and resumed.draft == draft
        claimed = queue.claim_next(other, a, job, now=T0 + 110)
        assert claimed is not None and claimed.assignment_id == task.assignment_id
        assert claimed.status == "leased" and claimed.draft == draft
    finally:
        other.db.dispose()
    tb = queue.claim_next(w.ctx, b, job, now=T0 + 120)
    assert tb is not None and tb.object_idx == 1  # the stopped task was not handed to b
    queue.submit(w.ctx, a, task.assignment_id, box_answer(), now=T0 + 130)
    run_work(w.ctx)
    (path,) = [p for p in response_files(w, job) if p.parent.name == "0"]
    body = json.loads(path.read_text())
    # active time: 0-10 and 10-20 (drafting), 20-110 stopped (paused), 110-130 working again
    assert body["answers"][0]["timeSpentInSeconds"] == 40.0


def test_stopped_task_expires_when_its_lease_ends(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=1)
    a, b = w.workers[:2]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    queue.stop_and_resume_later(w.ctx, a, task.assignment_id, now=T0 + 1)
    assert queue.current_task(w.ctx, a, job, now=T0 + LIMIT + 1) is None
    tb = queue.claim_next(w.ctx, b, job, now=T0 + LIMIT + 1)
    assert tb is not None and tb.object_idx == 0
    with pytest.raises(TaskError, match="nothing was submitted"):
        queue.submit(w.ctx, a, task.assignment_id, box_answer(), now=T0 + LIMIT + 2)


def test_draft_survives_a_crash_that_outlived_the_lease(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=1)
    a = w.workers[0]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    queue.save_draft(w.ctx, a, task.assignment_id, {"boxes": [7]}, now=T0 + 5)
    again = queue.claim_next(w.ctx, a, job, now=T0 + 5 + LIMIT + 1)  # browser crashed, came back later
    assert again is not None and again.assignment_id == task.assignment_id and again.draft == {"boxes": [7]}


def test_save_draft_rules(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=1)
    a = w.workers[0]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    with pytest.raises(ValidationError, match="draft"):
        queue.save_draft(w.ctx, a, task.assignment_id, ["not", "a", "dict"], now=T0 + 1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not plain JSON"):
        queue.save_draft(w.ctx, a, task.assignment_id, {"x": float("nan")}, now=T0 + 1)
    queue.save_draft(w.ctx, a, task.assignment_id, {"v": 1}, now=T0 + 1)
    queue.save_draft(w.ctx, a, task.assignment_id, {"v": 2}, now=T0 + 2)  # every change replaces the last
    assert queue.current_task(w.ctx, a, job, now=T0 + 3).draft == {"v": 2}  # type: ignore[union-attr]
    assert w.assignments(job)[0].lease_expires_at == T0 + LIMIT  # saving is activity, the deadline stays
    queue.submit(w.ctx, a, task.assignment_id, box_answer(), now=T0 + 4)
    with pytest.raises(TaskError, match="already submitted"):
        queue.save_draft(w.ctx, a, task.assignment_id, {"v": 3}, now=T0 + 5)


def test_an_empty_draft_never_erases_work_the_screen_did_not_hold(any_world: QueueWorld) -> None:
    """Issue 18.1: a canvas that lost its drawing (or a stale tab) reports "no boxes": that must not wipe the draft."""
    w = any_world
    job = w.new_job(n_objects=1)
    a = w.workers[0]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    aid = task.assignment_id
    empty = {"boundingBox": {"boundingBoxes": [], "inputImageProperties": {"width": 10, "height": 10}}}
    one = {"boundingBox": {"boundingBoxes": [{"label": "cat", "left": 1, "top": 1, "width": 2, "height": 2}],
                           "inputImageProperties": {"width": 10, "height": 10}}}  # fmt: skip
    queue.save_draft(w.ctx, a, aid, empty, now=T0 + 1)  # nothing saved yet: an empty draft is fine
    queue.save_draft(w.ctx, a, aid, one, now=T0 + 2)
    for replaces in (None, empty, {"v": "another draft"}):  # a screen that did not hold this work
        with pytest.raises(TaskError, match="would erase the saved work on object 0"):
            queue.save_draft(w.ctx, a, aid, empty, replaces=replaces, now=T0 + 3)
        assert queue.current_task(w.ctx, a, job, now=T0 + 3).draft == one  # type: ignore[union-attr]
    queue.save_draft(w.ctx, a, aid, {}, replaces=one, now=T0 + 4)  # the worker deleted his own box: saved
    assert queue.current_task(w.ctx, a, job, now=T0 + 4).draft == {}  # type: ignore[union-attr]
    queue.save_draft(w.ctx, a, aid, one, now=T0 + 5)  # a non-empty draft always replaces the last
    queue.stop_and_resume_later(w.ctx, a, aid, now=T0 + 6)
    resumed = queue.claim_next(w.ctx, a, job, now=T0 + 7)
    assert resumed is not None and resumed.draft == one and resumed.object_count == 1


def test_flag_object_records_the_image_error(any_world: QueueWorld) -> None:
    w = any_world
    job = w.new_job(n_objects=1)
    a = w.workers[0]
    task = queue.claim_next(w.ctx, a, job, now=T0)
    assert task is not None
    with pytest.raises(ValidationError):
        queue.flag_object(w.ctx, a, task.assignment_id, "  ")
    queue.flag_object(w.ctx, a, task.assignment_id, "cannot decode: truncated JPEG")
    assert w.objects(job)[0].image_error == "cannot decode: truncated JPEG"
    queue.decline(w.ctx, a, task.assignment_id, "image broken", now=T0 + 1)
    assert w.objects(job)[0].status == "failed"


# --- worker portal -----------------------------------------------------------------------------------


def test_worker_jobs_lists_his_teams_running_jobs_with_counts(any_world: QueueWorld) -> None:
    w = any_world
    spec = {"HumanTaskConfig": {"TaskTitle": "Boxes around cats", "TaskDescription": "Draw a box per cat"}}
    job = w.new_job(n_objects=4, workers_per_object=1, spec=spec)
    w.new_job(n_objects=2, status="Stopped")
    w.new_job(n_objects=2, team_id=w.other_team_id)
    a = w.workers[0]
    t1 = queue.claim_next(w.ctx, a, job)
    assert t1 is not None
    queue.submit(w.ctx, a, t1.assignment_id, box_answer())
    t2 = queue.claim_next(w.ctx, a, job)
    assert t2 is not None
    (summary,) = queue.worker_jobs(w.ctx, a)
    assert (summary.job_id, summary.title, summary.description) == (job, "Boxes around cats", "Draw a box per cat")
    assert (summary.available, summary.my_submitted, summary.my_in_progress) == (2, 1, 1)
    (for_b,) = queue.worker_jobs(w.ctx, w.workers[1])
    assert (for_b.available, for_b.my_submitted, for_b.my_in_progress) == (2, 0, 0)


# --- adjustment jobs ---------------------------------------------------------------------------------


def test_adjustment_task_shows_previous_boxes_and_flags_modification(any_world: QueueWorld, realdata: Path) -> None:
    w = any_world
    lines = [json.loads(x) for x in (realdata / "bbox-cat-1worker" / "output.manifest").read_text().splitlines()]
    lines = [ln for ln in lines if ln["cat-ground-truth"]["annotations"]][:2]
    spec = {"ChainedFrom": {"LabelAttributeName": "cat-ground-truth"}}
    job = w.new_job(
        lines=lines, task_type="AdjustmentBoundingBox", labels=["Cat"], spec=spec, label_attribute="cat-adjusted"
    )
    a = w.workers[0]
    answers_given = []
    for i, change in enumerate((False, True)):
        task = queue.claim_next(w.ctx, a, job, now=T0 + i)
        assert task is not None and task.previous is not None
        prev = task.previous
        ann = lines[task.object_idx]["cat-ground-truth"]["annotations"]
        assert prev["attribute"] == "cat-ground-truth" and len(prev["boundingBoxes"]) == len(ann)
        assert prev["boundingBoxes"][0]["label"] == "Cat"
        boxes = [dict(b) for b in prev["boundingBoxes"]]
        if change:
            boxes[0]["width"] -= 1
        answer = {"boundingBox": {"boundingBoxes": boxes, "inputImageProperties": prev["inputImageProperties"]}}
        queue.submit(w.ctx, a, task.assignment_id, answer, now=T0 + i + 0.5)
        answers_given.append(change)
    stored = [json.loads(r.answer_json)["boundingBox"]["initialValueModified"] for r in w.assignments(job)]
    assert stored == answers_given == [False, True]


# --- concurrency inside one process, and completion corner cases ------------------------------------


def test_one_worker_in_many_tabs_gets_one_lease(any_world: QueueWorld) -> None:
    import threading

    w = any_world
    job = w.new_job(n_objects=10)
    a = w.workers[0]
    barrier = threading.Barrier(6)
    got: list[Any] = []
    errors: list[BaseException] = []

    def tab() -> None:
        try:
            barrier.wait()
            got.append(queue.claim_next(w.ctx, a, job, now=T0))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=tab) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len({t.assignment_id for t in got}) == 1
    assert len(w.assignments(job)) == 1 and sum(o.taken for o in w.objects(job)) == 1


def test_skipped_objects_do_not_hold_the_job_open(any_world: QueueWorld, finish_calls: list) -> None:
    w = any_world
    job = w.new_job(n_objects=3)
    with w.ctx.db.write() as c:
        o = dbm.objects
        c.execute(o.update().where(o.c.job_id == job, o.c.idx != 1).values(status="skipped", needed=0))
    task = queue.claim_next(w.ctx, w.workers[0], job, now=T0)
    assert task is not None and task.object_idx == 1  # already-labeled objects are never handed out
    assert queue.submit(w.ctx, w.workers[0], task.assignment_id, box_answer(), now=T0 + 1).job_done
    run_work(w.ctx)
    assert finish_calls == [(job, "Completed")]


def test_expire_leases_finishes_a_job_whose_finisher_died(any_world: QueueWorld, finish_calls: list) -> None:
    w = any_world
    job = w.new_job(n_objects=2, created_at=T0 - 10_000)
    with w.ctx.db.write() as c:
        c.execute(dbm.objects.update().where(dbm.objects.c.job_id == job).values(status="done", answers=1, taken=1))
    assert queue.expire_leases(w.ctx, now=T0 - 9_999) == 0
    assert finish_calls == []  # within the grace period a finisher may still be at work
    queue.expire_leases(w.ctx, now=T0)
    queue.expire_leases(w.ctx, now=T0 + 1)
    run_work(w.ctx)
    assert finish_calls == [(job, "Completed")]
    assert w.job_row(job).status == "Completed"


def test_an_actor_built_before_disabling_is_refused(any_world: QueueWorld) -> None:
    """The user row decides: a stale Actor object (is_active still True) of a disabled worker gets nothing."""
    w = any_world
    job = w.new_job(n_objects=2)
    stale = w.workers[0]
    task = queue.claim_next(w.ctx, stale, job, now=T0)
    assert task is not None
    with w.ctx.db.write() as conn:
        conn.execute(dbm.users.update().where(dbm.users.c.id == stale.user_id).values(is_active=False))
    assert stale.is_active
    with pytest.raises(PermissionDenied, match="disabled"):
        queue.claim_next(w.ctx, stale, job, now=T0 + 1)
    with pytest.raises(PermissionDenied, match="disabled"):
        queue.submit(w.ctx, stale, task.assignment_id, box_answer(), now=T0 + 1)
    with pytest.raises(PermissionDenied, match="disabled"):
        queue.save_draft(w.ctx, stale, task.assignment_id, {"boxes": []}, now=T0 + 1)


@pytest.mark.parametrize("window", [1000, 3])
def test_a_claim_expires_run_out_leases_before_taking_more_objects(any_world: QueueWorld, window: int) -> None:
    """A lease of the job that has run out sends every claim (the fast one included) through the expiry first:
    the object goes back to the pool and is handed out again, in index order, before any new object is opened;
    its holder's late submit is refused. (A one-object job cannot tell: the fast claim has nothing else to take.)"""
    w = any_world
    job = w.new_job(n_objects=6, task_time_limit=30, max_concurrent=window)
    a, b, c = w.workers[0], w.workers[1], w.workers[2]
    first = queue.claim_next(w.ctx, a, job, now=T0)  # a full claim: the process now knows the job's facts
    second = queue.claim_next(w.ctx, b, job, now=T0 + 1)  # a fast claim
    assert first is not None and second is not None
    assert (first.object_idx, second.object_idx) == (0, 1)
    late = T0 + 100  # both leases ran out at T0 + 30 / T0 + 31
    third = queue.claim_next(w.ctx, c, job, now=late)
    assert third is not None and third.object_idx == 0, third  # not object 2: the run-out leases went first
    statuses = {r.id: r.status for r in w.assignments(job)}
    assert statuses[first.assignment_id] == "expired" and statuses[second.assignment_id] == "expired"
    with pytest.raises(TaskError):
        queue.submit(w.ctx, a, first.assignment_id, box_answer(), now=late)
    again = queue.claim_next(w.ctx, a, job, now=late + 1)  # his own expired row is re-used for object 1
    assert again is not None and again.object_idx == 1


@pytest.mark.parametrize("window", [1000, 3])
def test_the_fast_claim_sees_a_lease_run_out_the_moment_after_it_ends(any_world: QueueWorld, window: int) -> None:
    """The fast claim's guard on run-out leases at its boundary: a lease ending at T is live at T (the next claim
    opens a new object) and run out just after (the next claim expires it and hands its object out again)."""
    w = any_world
    job = w.new_job(n_objects=6, task_time_limit=30, max_concurrent=window)
    a, b, c = w.workers[0], w.workers[1], w.workers[2]
    first = queue.claim_next(w.ctx, a, job, now=T0)  # a full claim: the process now knows the job's facts
    assert first is not None and first.object_idx == 0 and w.ctx.memory.job_facts(job) is not None
    at_end = queue.claim_next(w.ctx, b, job, now=T0 + 30)  # a's lease ends now: still his
    assert at_end is not None and at_end.object_idx == 1, at_end
    just_after = queue.claim_next(w.ctx, c, job, now=T0 + 30.5)
    assert just_after is not None and just_after.object_idx == 0, just_after  # a's object, not object 2
    statuses = {r.id: r.status for r in w.assignments(job)}
    assert statuses[first.assignment_id] == "expired" and statuses[at_end.assignment_id] == "leased"
