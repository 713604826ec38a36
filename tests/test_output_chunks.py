"""Finishing in chunks (issue 28): the same output whatever the chunk size, every task family; streamed writes."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.jobs.finishing import finish_job
from gtcore.output import chunks
from gtcore.output import writer as output
from tests.fixtures.core import make_settings, make_user
from tests.fixtures.outputjobs import box_answer, class_answer, insert_job, insert_objects, multi_answer, submit_answer

DATE = re.compile(r'"creation-date":"[^"]*"')
LABELS = ["cat", "dog", "bird"]


def _answer(task: str, rng: random.Random) -> dict[str, Any]:
    if task == "BoundingBox":
        x = rng.choice([10, 11, 200])
        return box_answer([(rng.choice(LABELS), x, 5, 30, 20)])
    if task == "ImageMultiClassification":
        return multi_answer(rng.sample(LABELS, rng.randint(0, 2)))
    if task == "VerificationBoundingBox":
        body = class_answer(rng.choice(["Correct", "Incorrect"]))
        body["crowd-image-classifier"]["workerComment"] = rng.choice(["", "off by a bit", "  "])
        return body
    return class_answer(rng.choice(LABELS))


def _make_job(ctx: Context, tmp_path: Path, task: str, name: str, workers: list[Any], status: str) -> int:
    labels = ["Correct", "Incorrect"] if task.startswith("Verification") else LABELS
    job = insert_job(ctx.db, name=name, task_type=task, labels=labels, output_path=str(tmp_path / "out"),
                     attr="lab", workers_per_object=3)  # fmt: skip
    lines = [{"source-ref": f"s3://bucket/img{k:03d}.jpg", "gold": LABELS[k % 3]} for k in range(23)]
    insert_objects(ctx.db, job, lines)
    rng = random.Random(7)  # the same answers for every job of the test
    for k in range(23):
        n = [0, 1, 2, 3, 3][k % 5]  # objects with no, one, two and three answers
        for w in workers[:n]:
            submit_answer(ctx.db, job, k, w, _answer(task, rng))
    with ctx.db.write() as c:
        o = dbm.objects
        c.execute(update(o).where(o.c.job_id == job, o.c.idx == 6).values(status="failed"))
        if status != "Completed":
            c.execute(update(dbm.jobs).where(dbm.jobs.c.id == job).values(status="Stopping"))
    return job


def _tree(ctx: Context, job: int) -> dict[str, str]:
    """Every output file of the job (worker responses aside), creation dates and the job name blanked."""
    with ctx.db.read() as c:
        row = c.execute(select(dbm.jobs).where(dbm.jobs.c.id == job)).one()
    folder = Path(output.job_folder(row))
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and "worker-response" not in rel:
            key = re.sub(r"\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d", "TS", rel)
            out[key] = DATE.sub('"creation-date":"D"', p.read_text()).replace(row.name.lower(), "JOB")
    return out


@pytest.mark.parametrize(
    ("task", "status"),
    [
        ("BoundingBox", "Completed"),
        ("ImageClassification", "Completed"),
        ("ImageMultiClassification", "Stopped"),
        ("VerificationBoundingBox", "Completed"),
    ],
)
def test_chunked_finish_writes_what_one_chunk_writes(
    any_ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str, status: str
) -> None:
    ctx = any_ctx
    workers = [make_user(ctx.db, f"w{k}@example.test") for k in range(3)]
    whole = _make_job(ctx, tmp_path, task, "whole", workers, status)
    parts = _make_job(ctx, tmp_path, task, "parts", workers, status)
    if task == "ImageClassification":  # gold answers too (fixed truths of the whole-job EM)
        with ctx.db.write() as c:
            c.execute(update(dbm.jobs).values(spec_json=json.dumps({"GoldStandard": {"LabelAttributeName": "gold"}})))
    finish_job(ctx, whole, status)
    monkeypatch.setattr(chunks, "CHUNK_OBJECTS", 4)  # 6 chunks, the EM fed 4 objects at a time
    finish_job(ctx, parts, status)
    a, b = _tree(ctx, whole), _tree(ctx, parts)
    assert a == b and len(a) == 4  # two manifests, the consolidation request and response
    final = [json.loads(x) for x in a["manifests/output/output.manifest"].splitlines()]
    # a stopped job: the 17 answered objects (5 have no answer, one answered object failed) only
    assert len(final) == (23 if status == "Completed" else 17)
    assert sum("lab" in x for x in final) == 17
    with ctx.db.read() as c:
        stored = [
            sorted((r.idx, DATE.sub("", r.consolidated_json or "").replace(name, "")) for r in c.execute(
                select(dbm.objects.c.idx, dbm.objects.c.consolidated_json).where(dbm.objects.c.job_id == j)))
            for j, name in ((whole, "whole"), (parts, "parts"))
        ]  # fmt: skip
    assert stored[0] == stored[1]


def test_intermediate_in_chunks_keeps_stored_results(ctx: Context, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(chunks, "CHUNK_OBJECTS", 3)
    workers = [make_user(ctx.db, f"w{k}@example.test") for k in range(3)]
    job = _make_job(ctx, tmp_path, "BoundingBox", "inter", workers, "Completed")
    uri = output.write_intermediate(ctx, job)
    assert uri is not None
    first = Path(uri).read_text().splitlines()
    assert len(first) == 23
    for w in workers:  # object 0 completes (3 answers)
        submit_answer(ctx.db, job, 0, w, box_answer([("dog", 1, 2, 3, 4)]))
    assert output.write_intermediate(ctx, job) == uri
    second = Path(uri).read_text().splitlines()
    assert second[1:] == first[1:]  # stored results reused, byte for byte
    assert json.loads(second[0])["lab"]["annotations"][0]["class_id"] == 1


def _roundtrip(ctx: Context, base: str, read: Any) -> None:
    uri = ctx.storage.join(base, "deep", "folder", "a.manifest")
    with ctx.storage.open_write(uri) as w:
        for k in range(3):
            w.write(f'{{"k":{k}}}\n'.encode())
    assert w.stored and read(uri) == b'{"k":0}\n{"k":1}\n{"k":2}\n'
    with ctx.storage.open_write(uri, if_absent=True) as w:
        w.write(b"other")
    assert not w.stored and read(uri).startswith(b'{"k":0}')
    bad = ctx.storage.join(base, "never", "b.manifest")
    with pytest.raises(RuntimeError), ctx.storage.open_write(bad) as w:
        w.write(b"half")
        raise RuntimeError("the writer failed halfway")
    assert not ctx.storage.exists(bad)
    w2 = ctx.storage.start_write(ctx.storage.join(base, "deep", "folder", "pending.json"))
    try:
        w2.write(b"[1]")
        assert not ctx.storage.publish_write(w2, uri, if_absent=True)  # taken: try another name
        assert ctx.storage.publish_write(w2, ctx.storage.join(base, "deep", "folder", "c.json"), if_absent=True)
    finally:
        w2.discard()
    assert read(ctx.storage.join(base, "deep", "folder", "c.json")) == b"[1]"
    src = ctx.settings.home / "source.bin"
    src.write_bytes(bytes(range(256)) * 9000)  # 2.3 MB: more than one block
    copied = ctx.storage.join(base, "deep", "copied.json")
    ctx.storage.write_file(copied, src)  # the same streamed write, holding the file's bytes
    assert read(copied) == src.read_bytes()
    with (
        pytest.raises(ValueError, match="takes no more pieces"),
        ctx.storage.open_write(ctx.storage.join(base, "never", "x.json"), source=str(src)) as w3,
    ):
        if uri.startswith("s3://"):
            w3.write(b"more")
        raise ValueError("a local write takes no more pieces either, here")
    assert not ctx.storage.exists(ctx.storage.join(base, "never", "x.json"))


def test_streamed_write_local(ctx: Context, tmp_path: Path) -> None:
    _roundtrip(ctx, str(tmp_path / "store"), lambda uri: Path(uri).read_bytes())
    assert not (tmp_path / "store" / "never").exists()  # no folder left behind by the failed write
    assert [p.name for p in (tmp_path / "store" / "deep" / "folder").iterdir() if p.name.startswith(".")] == []


def test_streamed_write_s3(s3_server: Any, s3_bucket: str, tmp_path: Path) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    client = s3_server.client()
    try:
        _roundtrip(ctx, f"s3://{s3_bucket}/out", lambda uri: client.get_object(
            Bucket=s3_bucket, Key=uri.split("/", 3)[3])["Body"].read())  # fmt: skip
        head = client.head_object(Bucket=s3_bucket, Key="out/deep/folder/c.json")
        assert head["ContentType"].startswith("application/json")
    finally:
        ctx.db.dispose()


def test_intermediate_round_copy_is_the_same_manifest(ctx: Context, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(chunks, "CHUNK_OBJECTS", 5)
    workers = [make_user(ctx.db, f"w{k}@example.test") for k in range(3)]
    job = _make_job(ctx, tmp_path, "ImageClassification", "rounds", workers, "Completed")
    uri = output.write_intermediate(ctx, job, iteration=2)
    assert uri is not None
    copy = Path(uri.replace("/intermediate/1/", "/intermediate/2/"))
    assert copy.read_bytes() == Path(uri).read_bytes() and len(copy.read_text().splitlines()) == 23
