"""Worker-response files (gtcore.output.worker_responses): format, naming, S3, store failures, the repairing flush."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.output import worker_responses as responses
from gtcore.queue import api as queue
from tests.fixtures.core import make_settings
from tests.fixtures.queue import QueueWorld, box_answer, make_world

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def claim_submit(w: QueueWorld, worker: Any, job: int, now: float, answer: dict | None = None) -> Any:
    task = queue.claim_next(w.ctx, worker, job, now=now)
    assert task is not None
    return queue.submit(w.ctx, worker, task.assignment_id, answer or box_answer(), now=now + 0.25)


def test_time_formats() -> None:
    assert responses.gt_time(T0) == "2027-01-15T08:00:00.000Z"
    assert responses.gt_time(T0 + 1.2349) == "2027-01-15T08:00:01.234Z"
    assert responses.file_stamp(T0 + 59.999) == "2027-01-15_08:00:59"


def test_two_answers_in_the_same_second_get_suffixed_names(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=1, workers_per_object=3)
    uris = [claim_submit(w, worker, job, T0 + 0.1 * i).response_uri for i, worker in enumerate(w.workers[:3])]
    folder = w.out / w.job_row(job).name / "annotations" / "worker-response" / "iteration-1" / "0"
    assert uris == [
        str(folder / "2027-01-15_08:00:00.json"),
        str(folder / "2027-01-15_08:00:00.1.json"),
        str(folder / "2027-01-15_08:00:00.2.json"),
    ]
    workers = [json.loads(Path(u).read_text())["answers"][0]["workerId"] for u in uris]
    assert workers == [x.worker_id for x in w.workers[:3]]
    assert sorted(p.name for p in folder.iterdir()) == sorted(Path(u).name for u in uris)  # no temp files left


def test_issuer_names_the_portal_host(tmp_path: Path) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, GT_PORTAL_URL="https://label.example.org:8443/portal"))
    try:
        w = make_world(ctx, tmp_path)
        job = w.new_job(n_objects=1)
        result = claim_submit(w, w.workers[0], job, T0)
        ident = json.loads(Path(result.response_uri).read_text())["answers"][0]["workerMetadata"]["identityData"]
        assert ident["issuer"] == "gtcore://label.example.org:8443"
    finally:
        ctx.db.dispose()


class CheckingStorage:
    """The real Storage, plus a look at the database at the moment a response file is written."""

    def __init__(self, real: Any, db_url: str) -> None:
        self.real = real
        self.seen: list[str] = []
        from gtcore.core.db import Database

        self.db = Database(db_url, create=False)

    def write_if_absent(self, uri: str, data: bytes) -> bool:
        if "/worker-response/" in uri:  # (a completed object also gets consolidation files: not looked at)
            with self.db.read() as c:  # another connection: sees only committed rows
                status = c.execute(dbm.assignments.select()).one().status
            self.seen.append(status)
        return bool(self.real.write_if_absent(uri, data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_the_answer_is_committed_before_the_file_is_written(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=2)  # the job does not complete (finish_job would write files too)
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


def test_store_failure_keeps_the_submit_and_flush_writes_it_later(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=2)
    blocker = block_job_folder(w, job)
    result = claim_submit(w, w.workers[0], job, T0)
    assert result.response_uri is None and result.object_done  # the answer stands
    (row,) = w.assignments(job)
    assert row.status == "submitted" and row.response_uri is None and row.answer_json
    assert responses.flush_worker_responses(w.ctx) == 0  # store still failing: nothing written, no error
    blocker.unlink()
    assert responses.flush_worker_responses(w.ctx, job_id=job) == 1
    (row,) = w.assignments(job)
    assert row.response_uri and Path(row.response_uri).is_file()
    assert json.loads(Path(row.response_uri).read_text())["answers"][0]["answerContent"] == box_answer()
    assert responses.flush_worker_responses(w.ctx) == 0


def test_a_later_submit_flushes_earlier_missing_responses(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=3)
    blocker = block_job_folder(w, job)
    assert claim_submit(w, w.workers[0], job, T0).response_uri is None
    assert claim_submit(w, w.workers[1], job, T0 + 1).response_uri is None
    blocker.unlink()
    assert claim_submit(w, w.workers[2], job, T0 + 2).response_uri is not None
    rows = w.assignments(job)
    assert all(r.response_uri and Path(r.response_uri).is_file() for r in rows)
    assert len({r.response_uri for r in rows}) == 3


def test_flush_after_a_crash_between_write_and_record_does_not_duplicate(world: QueueWorld) -> None:
    w = world
    job = w.new_job(n_objects=1)
    blocker = block_job_folder(w, job)
    claim_submit(w, w.workers[0], job, T0)
    blocker.unlink()
    (row,) = responses._rows(w.ctx, [dbm.assignments.c.job_id == job])
    written = responses._store(w.ctx, row)  # the file got written, then the process died before recording it
    assert responses.flush_worker_responses(w.ctx) == 1
    (stored,) = w.assignments(job)
    assert stored.response_uri == written
    assert len(list(Path(written).parent.iterdir())) == 1


def test_worker_responses_on_s3(tmp_path: Path, s3_server: Any) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    try:
        w = make_world(ctx, tmp_path)
        bucket = "gt-resp-" + uuid.uuid4().hex[:12]
        job = w.new_job(n_objects=2, output_path=f"s3://{bucket}/labels/out")
        # the bucket does not exist yet: the submit stands, the file waits
        first = claim_submit(w, w.workers[0], job, T0)
        assert first.response_uri is None
        s3_server.client().create_bucket(Bucket=bucket)
        second = claim_submit(w, w.workers[1], job, T0 + 1)  # also flushes the first
        name = w.job_row(job).name
        assert second.response_uri == (
            f"s3://{bucket}/labels/out/{name}/annotations/worker-response/iteration-1/1/2027-01-15_08:00:01.json"
        )
        listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
        keys = sorted(o["Key"] for o in listed if "/worker-response/" in o["Key"])
        assert keys == [
            f"labels/out/{name}/annotations/worker-response/iteration-1/0/2027-01-15_08:00:00.json",
            f"labels/out/{name}/annotations/worker-response/iteration-1/1/2027-01-15_08:00:01.json",
        ]
        body = s3_server.client().get_object(Bucket=bucket, Key=keys[0])["Body"].read()
        ans = json.loads(body)["answers"][0]
        assert ans["workerId"] == w.workers[0].worker_id and ans["answerContent"] == box_answer()
        assert all(r.response_uri for r in w.assignments(job))
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
    job = w.new_job(n_objects=1, task_type=task_type, labels=labels)
    result = claim_submit(w, w.workers[0], job, T0, answer)
    assert json.loads(Path(result.response_uri).read_text())["answers"][0]["answerContent"] == answer
