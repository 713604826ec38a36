"""Worker-response files (gtcore.output.worker_responses), Ground Truth-exact: one file per object with every
answer, written by the background workers once the object is complete (and for answered objects at stop),
iteration-1 for the first 10 objects handed out and iteration-2 for the rest, timestamp names never earlier than
the last submission and never suffixed; S3, store failures and crash repair."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.jobs import api as jobs
from gtcore.output import worker_responses as responses
from gtcore.queue import api as queue
from gtcore.work import runner
from tests.fixtures.core import make_settings, run_work
from tests.fixtures.queue import QueueWorld, box_answer, make_world

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def claim_submit(w: QueueWorld, worker: Any, job: int, now: float, answer: dict | None = None) -> Any:
    task = queue.claim_next(w.ctx, worker, job, now=now)
    assert task is not None
    result = queue.submit(w.ctx, worker, task.assignment_id, answer or box_answer(), now=now + 0.25)
    run_work(w.ctx)
    return result


def files(w: QueueWorld, job: int) -> list[Path]:
    root = w.out / w.job_row(job).name / "annotations" / "worker-response"
    return sorted(root.rglob("*.json")) if root.exists() else []


def rel(w: QueueWorld, job: int, p: Path) -> str:
    return str(p.relative_to(w.out / w.job_row(job).name / "annotations" / "worker-response"))


def test_time_formats() -> None:
    assert responses.gt_time(T0) == "2027-01-15T08:00:00.000Z"
    assert responses.gt_time(T0 + 1.2349) == "2027-01-15T08:00:01.234Z"
    assert responses.file_stamp(T0 + 59.999) == "2027-01-15_08:00:59"


def test_answers_in_the_same_second_share_one_file_without_suffix(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=1, workers_per_object=3)
    for i, worker in enumerate(w.workers[:2]):
        claim_submit(w, worker, job, T0 + 0.1 * i)
        assert files(w, job) == []  # not complete yet
    claim_submit(w, w.workers[2], job, T0 + 0.2)  # last submission 08:00:00.450 -> named 08:00:01
    (only,) = files(w, job)
    assert rel(w, job, only) == "iteration-1/0/2027-01-15_08:00:01.json"
    answers = json.loads(only.read_text())["answers"]
    assert [a["workerId"] for a in answers] == [x.worker_id for x in w.workers[:3]]
    assert [a["submissionTime"] for a in answers] == [
        "2027-01-15T08:00:00.250Z", "2027-01-15T08:00:00.350Z", "2027-01-15T08:00:00.450Z"
    ]  # fmt: skip
    assert sorted(p.name for p in only.parent.iterdir()) == [only.name]  # no temp files left
    assert {r.response_uri for r in w.assignments(job)} == {str(only)}


def test_first_ten_objects_handed_out_are_iteration_1_the_rest_iteration_2(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=13)
    a, b = w.workers[:2]
    held = queue.claim_next(w.ctx, a, job, now=T0)  # object 0 handed out first, answered last
    assert held is not None and held.object_idx == 0
    for k in range(12):
        claim_submit(w, b, job, T0 + 1 + k)
    queue.submit(w.ctx, a, held.assignment_id, box_answer(), now=T0 + 20)
    run_work(w.ctx)
    got = {int(p.parent.name): p.parent.parent.name for p in files(w, job)}
    assert got == {i: ("iteration-1" if i < 10 else "iteration-2") for i in range(13)}
    assert responses.first_objects(w.ctx, job) == frozenset(range(10))


def test_issuer_is_the_portal_url_in_https(tmp_path: Path) -> None:
    for portal, issuer in [("https://label.example.org:8443/portal/", "https://label.example.org:8443/portal"),
                           ("http://localhost:8501", "https://localhost:8501")]:  # fmt: skip
        ctx = Context.from_settings(make_settings(tmp_path, GT_PORTAL_URL=portal))
        try:
            assert responses.issuer(ctx) == issuer
        finally:
            ctx.db.dispose()
    ctx = Context.from_settings(make_settings(tmp_path, GT_PORTAL_URL="https://label.example.org"))
    try:
        w = make_world(ctx, tmp_path)
        job = w.new_job(n_objects=1)
        claim_submit(w, w.workers[0], job, T0)
        (only,) = files(w, job)
        ident = json.loads(only.read_text())["answers"][0]["workerMetadata"]["identityData"]
        assert ident["issuer"] == "https://label.example.org"
    finally:
        ctx.db.dispose()


class CheckingStorage:
    """The real Storage, plus a look at the database at the moment a response file is written."""

    def __init__(self, real: Any, db_url: str) -> None:
        self.real = real
        self.seen: list[str] = []
        from gtcore.core.db import Database

        self.db = Database(db_url, create=False)

    def write_bytes(self, uri: str, data: bytes, content_type: str | None = None) -> None:
        if "/worker-response/" in uri:
            with self.db.read() as c:  # another connection: sees only committed rows
                status = c.execute(dbm.assignments.select()).one().status
            self.seen.append(status)
        self.real.write_bytes(uri, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_the_answer_is_committed_before_the_file_is_written(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=2)  # the job does not complete
    checking = CheckingStorage(w.ctx.storage, w.ctx.db.url)
    w.ctx.__dict__["storage"] = checking  # swap the backend object (cached_property slot)
    try:
        claim_submit(w, w.workers[0], job, T0)
    finally:
        checking.db.dispose()
    assert checking.seen == ["submitted"]


def block_job_folder(w: QueueWorld, job: int) -> Path:
    """Make the job folder a plain file so no response can be written under it."""
    blocker = w.out / w.job_row(job).name
    blocker.write_text("not a folder")
    return blocker


def work_rows(w: QueueWorld) -> list[Any]:
    with w.ctx.db.read() as c:
        return list(c.execute(dbm.work_items.select().where(dbm.work_items.c.kind == "responses.write")))


def test_store_failure_keeps_the_submit_and_the_worker_retries(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=2)
    blocker = block_job_folder(w, job)
    result = claim_submit(w, w.workers[0], job, T0)
    assert result.object_done  # the answer stands
    (row,) = w.assignments(job)
    assert row.status == "submitted" and row.response_uri is None and row.answer_json
    (item,) = [r for r in work_rows(w) if r.key == "part-0"]  # the object range's item failed, the fan-out did not
    assert item.status == "pending" and item.attempts == 1 and item.last_error
    blocker.unlink()
    assert runner.run_until_idle(w.ctx, now=dbm.now() + 3600) >= 1  # after its backoff
    (row,) = w.assignments(job)
    assert row.response_uri and Path(row.response_uri).is_file()
    assert json.loads(Path(row.response_uri).read_text())["answers"][0]["answerContent"] == box_answer()
    assert {r.status for r in work_rows(w)} == {"done"}
    assert responses.flush_worker_responses(w.ctx) == 0


def test_flush_after_a_crash_between_write_and_record_does_not_duplicate(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=1)
    task = queue.claim_next(w.ctx, w.workers[0], job, now=T0)
    assert task is not None
    queue.submit(w.ctx, w.workers[0], task.assignment_id, box_answer(), now=T0 + 1)  # no worker ran yet
    rows = responses._due(w.ctx, job)
    written = responses._write_object(w.ctx, rows)  # the file got written, then the process died
    assert w.assignments(job)[0].response_uri is None
    run_work(w.ctx)
    (stored,) = w.assignments(job)
    assert stored.response_uri == written
    assert len(list(Path(written).parent.iterdir())) == 1


def test_a_stopped_job_writes_the_answered_objects_files(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=4, workers_per_object=2)
    claim_submit(w, w.workers[0], job, T0)  # object 0: 1 of 2 answers
    claim_submit(w, w.workers[0], job, T0 + 1)  # object 1: 1 of 2
    claim_submit(w, w.workers[1], job, T0 + 2)  # object 0: complete -> file
    assert [rel(w, job, p) for p in files(w, job)] == ["iteration-1/0/2027-01-15_08:00:03.json"]
    held = queue.claim_next(w.ctx, w.workers[1], job, now=T0 + 3)  # in the worker's hands at the stop
    assert held is not None and held.object_idx == 1
    assert jobs.stop_labeling_job(w.ctx, Actor.system_actor(), w.job_row(job).name).status == "Stopping"
    run_work(w.ctx)
    assert w.job_row(job).status == "Stopped"
    assert [rel(w, job, p) for p in files(w, job)] == [
        "iteration-1/0/2027-01-15_08:00:03.json",
        "iteration-1/1/2027-01-15_08:00:02.json",  # answered but incomplete: written at the stop
    ]
    assert all(r.response_uri for r in w.assignments(job) if r.status == "submitted")


def test_worker_responses_on_s3(tmp_path: Path, s3_server: Any) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    try:
        w = make_world(ctx, tmp_path)
        bucket = "gt-resp-" + uuid.uuid4().hex[:12]
        job = w.new_job(n_objects=2, output_path=f"s3://{bucket}/labels/out")
        # the bucket does not exist yet: the submit stands, the file waits
        claim_submit(w, w.workers[0], job, T0)
        assert w.assignments(job)[0].response_uri is None
        s3_server.client().create_bucket(Bucket=bucket)
        claim_submit(w, w.workers[1], job, T0 + 1)  # its item is still in backoff
        runner.run_until_idle(ctx, now=dbm.now() + 3600)
        name = w.job_row(job).name
        listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
        keys = sorted(o["Key"] for o in listed if "/worker-response/" in o["Key"])
        assert keys == [
            f"labels/out/{name}/annotations/worker-response/iteration-1/0/2027-01-15_08:00:01.json",
            f"labels/out/{name}/annotations/worker-response/iteration-1/1/2027-01-15_08:00:02.json",
        ]
        body = s3_server.client().get_object(Bucket=bucket, Key=keys[0])["Body"].read()
        ans = json.loads(body)["answers"][0]
        assert ans["workerId"] == w.workers[0].worker_id and ans["answerContent"] == box_answer()
        assert [r.response_uri for r in w.assignments(job)] == [f"s3://{bucket}/{k}" for k in keys]
    finally:
        ctx.db.dispose()


@pytest.mark.parametrize(
    "task_type,labels,answer",
    [
        ("ImageClassification", ["cat", "dog"], {"crowd-image-classifier": {"label": "dog"}}),
        (
            "ImageMultiClassification",
            ["cat", "dog", "bird"],
            {"crowd-image-classifier-multi-select": {"labels": ["bird", "cat"]}},
        ),
    ],
)
def test_classification_answers_are_written_as_given(
    any_world: QueueWorld, task_type: str, labels: list[str], answer: dict
) -> None:
    w = any_world
    job = w.new_job(n_objects=2, task_type=task_type, labels=labels)
    claim_submit(w, w.workers[0], job, T0, answer)
    (only,) = files(w, job)
    assert json.loads(only.read_text())["answers"][0]["answerContent"] == answer
