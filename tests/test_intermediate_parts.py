"""The intermediate manifest in per-range parts (issue 28 item 2): each settled range written once, the whole
file assembled from the parts byte for byte as a whole pass gives it, a worker killed mid-write, S3."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gtcore.context import Context
from gtcore.jobs.finishing import finish_job
from gtcore.output import parts
from gtcore.output import writer as output
from tests.browser import wait_until
from tests.fixtures.core import REPO, make_settings, make_user
from tests.fixtures.outputjobs import box_answer, insert_job, insert_objects, submit_answer

N = 10  # ranges of 4: [0, 4) [4, 8) [8, 10)


def _job(ctx: Context, out: str, name: str = "parts") -> tuple[int, Any]:
    job = insert_job(ctx.db, name=name, task_type="BoundingBox", labels=["cat"], output_path=out,
                     attr="lab", workers_per_object=1)  # fmt: skip
    insert_objects(ctx.db, job, [{"source-ref": f"s3://b/{k}.jpg", "k": k} for k in range(N)])
    return job, make_user(ctx.db, f"{name}@example.test")


def _answer(ctx: Context, job: int, w: Any, idxs: range) -> None:
    for k in idxs:
        submit_answer(ctx.db, job, k, w, box_answer([("cat", k, 2, 3, 4)]))


def _parts(ctx: Context, job: int) -> list[str]:
    return [u.rsplit("/", 1)[-1] for u in ctx.storage.list(parts.folder(output.chunks.job_row(ctx, job)) + "/")]


def _whole_without_parts(ctx: Context, job: int) -> bytes:
    """The intermediate manifest a pass that reads every range gives (the parts set aside)."""
    parts.remove(ctx, output.chunks.job_row(ctx, job))
    uri = output.write_intermediate(ctx, job)
    assert uri is not None
    return ctx.storage.read_bytes(uri)


@pytest.fixture(autouse=True)
def _small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "RANGE_OBJECTS", 4)


def test_parts_written_once_and_the_whole_file_assembled_from_them(any_ctx: Context, tmp_path: Path) -> None:
    ctx = any_ctx
    job, w = _job(ctx, str(tmp_path / "o"))
    _answer(ctx, job, w, range(0, 6))  # [0, 4) settled, [4, 8) half
    uri = output.write_intermediate(ctx, job, whole=False)
    assert uri is not None and not Path(uri).exists()  # parts only
    assert _parts(ctx, job) == ["0000000000.manifest"]
    part = Path(parts.part_uri(output.chunks.job_row(ctx, job), 0))
    first = part.stat()
    lines = part.read_text().splitlines()
    assert [line.count('"lab"') for line in lines] == [1, 1, 1, 1]
    output.write_intermediate(ctx, job)  # assembles the whole file; the part is not written again
    assert (part.stat().st_ino, part.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    text = Path(uri).read_text().splitlines()
    assert len(text) == N and text[:4] == lines and '"lab"' in text[5] and '"lab"' not in text[6]
    _answer(ctx, job, w, range(6, 10))  # every range settled
    assembled = ctx.storage.read_bytes(output.write_intermediate(ctx, job) or "")
    assert _parts(ctx, job) == ["0000000000.manifest", "0000000004.manifest", "0000000008.manifest"]
    assert (part.stat().st_ino, part.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert assembled == _whole_without_parts(ctx, job)  # byte for byte what a pass over every range gives
    finish_job(ctx, job, "Completed")
    assert _parts(ctx, job) == []  # the finished output is Ground Truth's layout only
    assert len(Path(uri).read_text().splitlines()) == N


def test_a_second_worker_writes_no_part_again(any_ctx: Context, tmp_path: Path) -> None:
    job, w = _job(any_ctx, str(tmp_path / "o"))
    _answer(any_ctx, job, w, range(0, 8))
    other = Context.from_settings(any_ctx.settings)  # another worker process's context
    try:
        output.write_intermediate(any_ctx, job, whole=False)
        names = _parts(any_ctx, job)
        stats = {n: (tmp_path / "o/parts/manifests/intermediate/1/parts" / n).stat().st_mtime_ns for n in names}
        output.write_intermediate(other, job, whole=False)
        output.write_intermediate(other, job)
        after = {n: (tmp_path / "o/parts/manifests/intermediate/1/parts" / n).stat().st_mtime_ns for n in names}
        assert names == ["0000000000.manifest", "0000000004.manifest"] and after == stats
    finally:
        other.db.dispose()


def test_checkpoints_bound_the_assemblies() -> None:
    due = []
    last = None
    for step in range(100):
        if parts.checkpoint_due(last, step):
            due.append(step)
        last = step
    assert due == [0, *parts.CHECKPOINTS]
    assert parts.checkpoint_due(3, 9) and not parts.checkpoint_due(9, 12)  # steps skipped between passes


_KILLED_CHILD = """
import sys, threading
from pathlib import Path
from gtcore.context import Context
from gtcore.output import parts, writer
from gtcore.storage.store import Storage
parts.RANGE_OBJECTS = 4
real = Storage.publish_write
def publish(self, w, uri, **kw):
    if "/parts/" in uri:
        Path(sys.argv[2]).write_text("writing")
        threading.Event().wait(600)  # hangs here until the test kills this process: written, not published
    return real(self, w, uri, **kw)
Storage.publish_write = publish
writer.write_intermediate(Context.from_env(), int(sys.argv[1]))
"""


def test_a_worker_killed_mid_write_leaves_nothing_half_written(any_ctx: Context, tmp_path: Path) -> None:
    ctx = any_ctx
    job, w = _job(ctx, str(tmp_path / "o"))
    _answer(ctx, job, w, range(0, 9))  # [0, 4) and [4, 8) settled
    whole = Path(output.intermediate_manifest_uri(output.chunks.job_row(ctx, job)))
    marker = tmp_path / "writing"
    env = dict(os.environ, GT_HOME=str(ctx.settings.home), GT_DATABASE_URL=ctx.db.url,
               GT_LOCAL_ROOTS=os.pathsep.join(str(r) for r in ctx.settings.local_roots))  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, str(job), str(marker)], cwd=REPO, env=env)
    try:
        wait_until(lambda: marker.exists() or child.poll() is not None, timeout=120, what="the part write")
        assert child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert _parts(ctx, job) == []  # nothing published
    assert not whole.exists()  # nor the whole file (it comes after the parts)
    uri = output.write_intermediate(ctx, job)  # the retry
    assert _parts(ctx, job) == ["0000000000.manifest", "0000000004.manifest"]
    assert uri is not None and ctx.storage.read_bytes(uri) == _whole_without_parts(ctx, job)


def test_parts_on_s3(s3_server: Any, s3_bucket: str, tmp_path: Path) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    client = s3_server.client()
    try:
        job, w = _job(ctx, f"s3://{s3_bucket}/out", "s3parts")
        _answer(ctx, job, w, range(0, 9))
        uri = output.write_intermediate(ctx, job)
        assert uri is not None
        keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix="out/s3parts/manifests/")
                      ["Contents"])  # fmt: skip
        prefix = "out/s3parts/manifests/intermediate/1/"
        assert keys == [prefix + "output.manifest", prefix + "parts/0000000000.manifest",
                        prefix + "parts/0000000004.manifest"]  # fmt: skip
        head = client.head_object(Bucket=s3_bucket, Key=prefix + "parts/0000000000.manifest")
        output.write_intermediate(ctx, job)
        again = client.head_object(Bucket=s3_bucket, Key=prefix + "parts/0000000000.manifest")
        assert again["LastModified"] == head["LastModified"] and again["ETag"] == head["ETag"]
        assembled = ctx.storage.read_bytes(uri)
        assert len(assembled.splitlines()) == N and assembled == _whole_without_parts(ctx, job)
        finish_job(ctx, job, "Completed")
        left = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix=prefix)["Contents"]]
        assert left == [prefix + "output.manifest"]
    finally:
        ctx.db.dispose()
