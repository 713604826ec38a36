"""The object store failing under a running job: moto's S3 server stopped and started again, and a store
endpoint pointing at a dead port that is then fixed.

While the store is down a submit still succeeds (the answer is committed in the database first; the
worker-response file is left for later, ``SubmitResult.response_uri`` is None) and everything that needs the
store fails loudly with a StoreUnavailable naming the URI: job creation, opening a manifest, the task image.
A job whose last answer came in meanwhile stays InProgress (finishing failed and was logged). Once the store
is back, ``flush_worker_responses`` writes every missing file with exactly the stored answer and the recovery
sweep finishes the job with a complete output manifest: nothing is lost.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import SpecError, StoreUnavailable
from gtcore.images import task_images as taskimages
from gtcore.jobs import api as jobs
from gtcore.queue import api as queue
from gtcore.viewer import opener as audit
from gtcore.work import runner
from tests.fixtures.core import make_settings, make_user, run_work
from tests.fixtures.jobs import JobFactory, write_png
from tests.fixtures.queue import box_answer

N_OBJECTS = 6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Moto:
    """moto's S3 server on a fixed port that can be stopped and started again (its buckets live in this
    process, so they survive a restart like a real store's data would)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(key, value)
    m = Moto()
    m.start()
    yield m
    m.stop()


def s3_job(ctx: Context, root: Path, bucket: str, name: str) -> Any:
    """A BoundingBox job whose images, manifest, label file and output are all in the S3 bucket."""
    st = ctx.storage
    refs = []
    for i in range(N_OBJECTS):
        uri = f"s3://{bucket}/images/img_{i}.png"
        st.write_bytes(uri, write_png(root / "png" / f"{i}.png", i).read_bytes())
        refs.append(uri)
    factory = JobFactory(ctx, root)
    req = factory.request(name=name, lines=[{"source-ref": u} for u in refs])
    for field, key in (("manifest", f"inputs/{name}.manifest"), ("labels", f"inputs/{name}.labels.json")):
        local = (req["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] if field == "manifest"
                 else req["LabelCategoryConfigS3Uri"])  # fmt: skip
        st.write_bytes(f"s3://{bucket}/{key}", Path(local).read_bytes())
    req["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] = f"s3://{bucket}/inputs/{name}.manifest"
    req["LabelCategoryConfigS3Uri"] = f"s3://{bucket}/inputs/{name}.labels.json"
    req["OutputConfig"]["S3OutputPath"] = f"s3://{bucket}/out"
    return jobs.create_labeling_job(ctx, Actor.system_actor(), req), req, factory.team()


def work(ctx: Context, actor: Actor, job_id: int, n: int) -> list[Any]:
    out = []
    for _ in range(n):
        task = queue.claim_next(ctx, actor, job_id)
        assert task is not None
        out.append((task, queue.submit(ctx, actor, task.assignment_id, box_answer(n=1, w=64, h=48))))
    return out


def submitted(ctx: Context, job_id: int) -> list[Any]:
    a = dbm.assignments
    with ctx.db.read() as conn:
        q = select(a).where(a.c.job_id == job_id, a.c.status == "submitted").order_by(a.c.id)
        return list(conn.execute(q))


def job_status(ctx: Context, job_id: int) -> str:
    with ctx.db.read() as conn:
        return str(conn.execute(select(dbm.jobs.c.status).where(dbm.jobs.c.id == job_id)).scalar())


def assert_files_hold_the_answers(ctx: Context, rows: list[Any]) -> None:
    for row in rows:
        assert row.response_uri, f"assignment {row.id} has no worker-response file"
        (answer,) = json.loads(ctx.storage.read_text(row.response_uri))["answers"]
        assert answer["answerContent"] == json.loads(row.answer_json)


@pytest.mark.slow  # every call against the stopped store waits for its retries; still run by .ci/run
def test_s3_down_then_back_loses_nothing(moto: Moto, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=moto.url))
    try:
        bucket = "gt-faults"
        ctx.storage._s3.client.create_bucket(Bucket=bucket)
        summary, req, team = s3_job(ctx, tmp_path, bucket, "s3-faults")
        worker = make_user(ctx.db, "w@example.test", ("worker",), (team,))
        auditor = make_user(ctx.db, "aud@example.test", ("auditor",))
        work(ctx, worker, summary.job_id, 2)
        run_work(ctx)  # the background worker writes their files
        assert all(r.response_uri for r in submitted(ctx, summary.job_id))

        moto.stop()  # ------------------------------------------------------------- the store goes down
        t0 = time.monotonic()
        during = work(ctx, worker, summary.job_id, N_OBJECTS - 2)  # includes the job's last answer
        down_seconds = time.monotonic() - t0
        assert during[-1][1].job_done  # every answer saved, the submits never touched the store
        run_work(ctx)  # the background work needs the store: it fails, is recorded, and waits for a retry
        assert job_status(ctx, summary.job_id) == "InProgress"
        assert not [r for r in submitted(ctx, summary.job_id)[2:] if r.response_uri]  # files pending
        with ctx.db.read() as conn:
            waiting = dbm.work_items.c.status != "done"  # (a fan-out or a finish that came again: done)
            items = {r.kind: r for r in conn.execute(select(dbm.work_items).where(waiting))}
        assert items["jobs.finish"].status == "pending" and "did not answer" in items["jobs.finish"].last_error
        assert items["responses.write"].status == "pending" and items["responses.write"].last_error
        with pytest.raises(StoreUnavailable, match=moto.url.split("//")[1]) as err:
            audit.open_manifest(ctx, auditor, req["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"])
        assert err.value.uri.startswith(f"s3://{bucket}/")
        img = taskimages.display_image(ctx, f"s3://{bucket}/images/img_0.png")
        assert img.jpeg is None and "did not answer" in (img.error or "")
        with pytest.raises(SpecError, match="cannot read the input manifest") as spec_err:
            jobs.create_labeling_job(ctx, Actor.system_actor(), {**req, "LabelingJobName": "while-down"})
        assert any("did not answer" in str(p) for p in spec_err.value.problems)
        assert not [p.name for p in ctx.storage.ping() if p.name == "s3" and p.ok]

        moto.start()  # ----------------------------------------------------------- the store is back
        runner.run_until_idle(ctx, now=time.time() + 600)  # the retries, once their backoff has passed
        rows = submitted(ctx, summary.job_id)
        assert len(rows) == N_OBJECTS
        assert_files_hold_the_answers(ctx, rows)
        assert job_status(ctx, summary.job_id) == "Completed"
        out = ctx.storage.read_text(summary.output_manifest_uri).splitlines()
        assert len(out) == N_OBJECTS
        assert all(json.loads(x)["s3-faults-metadata"]["human-annotated"] == "yes" for x in out)
        keys = list(ctx.storage.list(f"s3://{bucket}/out/s3-faults/annotations/worker-response/"))
        assert len(keys) == N_OBJECTS  # one file per object (one answer each), no duplicate from the retries
        print({"submits_while_down": len(during), "seconds_for_them": round(down_seconds, 2)})
    finally:
        moto.stop()
        ctx.db.dispose()


def test_dead_endpoint_then_fixed_configuration(moto: Moto, tmp_path: Path) -> None:
    """A server started with a wrong GT_S3_ENDPOINT_URL (a dead port) takes answers; after the fix the same
    database's flush completes the files."""
    good = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=moto.url))
    dead = Context(settings=make_settings(tmp_path, GT_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}"),
                   db=good.db)  # fmt: skip
    try:
        bucket = "gt-dead-port"
        good.storage._s3.client.create_bucket(Bucket=bucket)
        summary, _, team = s3_job(good, tmp_path, bucket, "dead-port")
        worker = make_user(good.db, "w@example.test", ("worker",), (team,))
        results = work(dead, worker, summary.job_id, 3)
        assert [r.response_uri for _, r in results] == [None, None, None]
        (status,) = [s for s in dead.storage.ping() if s.name == "s3"]
        assert not status.ok and "did not answer" in status.detail
        with pytest.raises(StoreUnavailable):  # the worker's write fails loudly (its item is retried)
            queue.flush_worker_responses(dead)
        assert queue.flush_worker_responses(good) == 3
        rows = submitted(good, summary.job_id)
        assert len(rows) == 3
        assert_files_hold_the_answers(good, rows)
        assert queue.flush_worker_responses(good) == 0  # idempotent: nothing left, nothing written twice
    finally:
        good.db.dispose()
