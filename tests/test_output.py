"""Output tree and finish_job: manifests read back line by line, Ground Truth format, stop, chain, adjustment."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, update

from gtcore.consolidation.boxes import Box
from gtcore.consolidation.classification import dawid_skene, iou
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import ValidationError
from gtcore.jobs.finishing import finish_job
from gtcore.output import writer as output
from gtcore.output.records import ImageInfo
from tests.fixtures.core import make_settings, make_user, run_work
from tests.fixtures.outputjobs import (
    box_answer,
    class_answer,
    decline,
    insert_job,
    insert_objects,
    multi_answer,
    read_lines,
    submit_answer,
)

DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
TS_FILE_RE = re.compile(r"^\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d(\.\d+)?\.json$")


def _job_row(ctx: Context, job_id: int) -> Any:
    with ctx.db.read() as c:
        return c.execute(select(dbm.jobs).where(dbm.jobs.c.id == job_id)).one()


def _strip_dates(line: dict[str, Any], attr: str) -> dict[str, Any]:
    meta = line.get(f"{attr}-metadata")
    if meta is not None:
        assert DATE_RE.match(meta.pop("creation-date")), meta
    return line


def _workers(ctx: Context, n: int) -> list[Any]:
    return [make_user(ctx.db, f"w{k}@example.test") for k in range(n)]


def _images(tmp_path: Path, n: int, mode: str = "RGB") -> list[str]:
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    paths = []
    for k in range(n):
        p = folder / f"img{k:03d}.png"
        Image.new(mode, (64, 48)).save(p)
        paths.append(str(p))
    return paths


# --- bounding boxes ---------------------------------------------------------------------------------------


def test_boxes_two_workers_output_read_back(any_ctx: Context, tmp_path: Path) -> None:
    ctx = any_ctx
    out = str(tmp_path / "out")
    job = insert_job(
        ctx.db,
        name="Birds-Job",
        task_type="BoundingBox",
        labels=["bird", "cat"],
        output_path=out,
        attr="category",
        workers_per_object=2,
    )
    imgs = _images(tmp_path, 3)
    lines = [{"source-ref": p, "note": f"keep me {k}"} for k, p in enumerate(imgs)]
    insert_objects(ctx.db, job, lines)
    w1, w2 = _workers(ctx, 2)
    # object 0: both workers drew the same bird, slightly apart
    submit_answer(ctx.db, job, 0, w1, box_answer([("bird", 10, 20, 30, 20)], 64, 48), submitted_at=1000.0)
    submit_answer(ctx.db, job, 0, w2, box_answer([("bird", 12, 21, 30, 21)], 64, 48), submitted_at=1001.0)
    # object 1: a cat by w1 only, a bird by both
    submit_answer(ctx.db, job, 1, w1, box_answer([("cat", 0, 0, 10, 10), ("bird", 40, 30, 20, 10)], 64, 48))
    submit_answer(ctx.db, job, 1, w2, box_answer([("bird", 40, 30, 20, 12)], 64, 48))
    # object 2: declined by both -> failed, no answers
    decline(ctx.db, job, 2, w1)
    decline(ctx.db, job, 2, w2)
    with ctx.db.write() as c:
        c.execute(update(dbm.objects).where(dbm.objects.c.idx == 2).values(status="failed"))

    finish_job(ctx, job, "Completed")

    row = _job_row(ctx, job)
    assert row.status == "Completed" and row.ended_at is not None
    manifest = Path(output.output_manifest_uri(row))
    assert manifest == tmp_path / "out" / "Birds-Job" / "manifests" / "output" / "output.manifest"
    got = [_strip_dates(x, "category") for x in read_lines(manifest)]
    iou0 = iou(Box("bird", 10, 20, 30, 20), Box("bird", 12, 21, 30, 21))
    iou1 = iou(Box("bird", 40, 30, 20, 10), Box("bird", 40, 30, 20, 12))
    meta = {"type": "groundtruth/object-detection", "human-annotated": "yes", "job-name": "labeling-job/birds-job"}
    assert got[0] == {
        "source-ref": imgs[0],
        "note": "keep me 0",
        "category": {
            "image_size": [{"width": 64, "height": 48, "depth": 3}],
            "annotations": [{"class_id": 0, "top": 20.5, "left": 11, "height": 20.5, "width": 30}],
        },
        "category-metadata": {"objects": [{"confidence": round(iou0, 2)}], "class-map": {"0": "bird"}, **meta},
    }
    assert got[1] == {
        "source-ref": imgs[1],
        "note": "keep me 1",
        "category": {
            "image_size": [{"width": 64, "height": 48, "depth": 3}],
            "annotations": [
                {"class_id": 1, "top": 0, "left": 0, "height": 10, "width": 10},
                {"class_id": 0, "top": 30, "left": 40, "height": 11, "width": 20},
            ],
        },
        "category-metadata": {
            "objects": [{"confidence": 0.25}, {"confidence": round(iou1, 2)}],
            "class-map": {"0": "bird", "1": "cat"},
            **meta,
        },
    }
    assert got[2] == lines[2]  # failed object: unchanged
    # 2022+ key order and compact serialisation
    text = manifest.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert '"category":{"image_size":[{"width":64,"height":48,"depth":3}],"annotations":[{"class_id":0,"top":' in first
    assert '"category-metadata":{"objects":[' in first and ", " not in first
    assert list(json.loads(first)["category-metadata"]) == [
        "objects",
        "class-map",
        "type",
        "human-annotated",
        "creation-date",
        "job-name",
    ]
    # consolidated_json stored per object equals what the manifest added
    with ctx.db.read() as c:
        stored = dict(c.execute(select(dbm.objects.c.idx, dbm.objects.c.consolidated_json)).all())
    assert stored[2] is None
    for k in (0, 1):
        full = json.loads(text.splitlines()[k])
        assert json.loads(stored[k]) == {"category": full["category"], "category-metadata": full["category-metadata"]}
    _check_consolidation_files(tmp_path / "out" / "Birds-Job", {0: 2, 1: 2}, "category")


def _check_consolidation_files(folder: Path, answers_per_object: dict[int, int], attr: str) -> None:
    req_dir = folder / "annotations/consolidated-annotation/consolidation-request/iteration-1"
    resp_dir = folder / "annotations/consolidated-annotation/consolidation-response/iteration-1"
    (req,) = list(req_dir.iterdir())
    (resp,) = list(resp_dir.iterdir())
    assert TS_FILE_RE.match(req.name) and TS_FILE_RE.match(resp.name)
    request = json.loads(req.read_text())
    assert [r["datasetObjectId"] for r in request] == [str(k) for k in answers_per_object]
    for r in request:
        assert set(r) == {"datasetObjectId", "dataObject", "annotations"}
        assert set(r["dataObject"]) == {"s3Uri"}
        assert len(r["annotations"]) == answers_per_object[int(r["datasetObjectId"])]
        for a in r["annotations"]:
            assert a["workerId"].startswith("private.local.")
            assert isinstance(json.loads(a["annotationData"]["content"]), dict)
    response = json.loads(resp.read_text())
    assert [r["datasetObjectId"] for r in response] == [str(k) for k in answers_per_object]
    for r in response:
        assert set(r["consolidatedAnnotation"]["content"]) == {attr, f"{attr}-metadata"}


def test_single_worker_boxes_keep_integers_and_zero_confidence(ctx: Context, tmp_path: Path) -> None:
    job = insert_job(ctx.db, name="solo", task_type="BoundingBox", labels=["logo"], output_path=str(tmp_path / "o"))
    imgs = _images(tmp_path, 2, mode="L")
    insert_objects(ctx.db, job, [{"source-ref": p} for p in imgs])
    (w,) = _workers(ctx, 1)
    submit_answer(ctx.db, job, 0, w, box_answer([("logo", 330, 689, 97, 50), ("logo", 555, 206, 67, 38)]))
    submit_answer(ctx.db, job, 1, w, box_answer([]))
    finish_job(ctx, job, "Completed")
    text = Path(output.output_manifest_uri(_job_row(ctx, job))).read_text()
    l0, l1 = [json.loads(x) for x in text.splitlines()]
    assert l0["category"]["annotations"] == [
        {"class_id": 0, "top": 689, "left": 330, "height": 50, "width": 97},
        {"class_id": 0, "top": 206, "left": 555, "height": 38, "width": 67},
    ]
    assert '"top":689,"left":330,"height":50,"width":97' in text  # integers stay integers
    assert l0["category-metadata"]["objects"] == [{"confidence": 0}, {"confidence": 0}]
    assert l0["category"]["image_size"] == [{"width": 640, "height": 480, "depth": 1}]  # grey PNG -> depth 1
    # an image with no boxes: empty lists and empty class-map, like Ground Truth
    assert l1["category"]["annotations"] == [] and l1["category-metadata"]["objects"] == []
    assert l1["category-metadata"]["class-map"] == {}


# --- classification ---------------------------------------------------------------------------------------


def test_classification_output_read_back(ctx: Context, tmp_path: Path) -> None:
    labels = ["cat", "dog", "bird"]
    job = insert_job(
        ctx.db,
        name="Pets",
        task_type="ImageClassification",
        labels=labels,
        output_path=str(tmp_path / "o"),
        attr="pets",
        workers_per_object=3,
    )
    lines = [{"source-ref": f"s3://bucket/p{k}.jpg"} for k in range(6)]
    insert_objects(ctx.db, job, lines)
    ws = _workers(ctx, 3)
    votes = [
        ["dog", "dog", "dog"],
        ["cat", "cat", "cat"],
        ["bird", "bird", "bird"],
        ["dog", "dog", "cat"],
        ["cat", "cat", "cat"],
        ["bird", "dog", "cat"],
    ]
    for k, v in enumerate(votes):
        for w, label in zip(ws, v, strict=True):
            submit_answer(ctx.db, job, k, w, class_answer(label))
    finish_job(ctx, job, "Completed")
    got = [_strip_dates(x, "pets") for x in read_lines(Path(output.output_manifest_uri(_job_row(ctx, job))))]
    base = {"type": "groundtruth/image-classification", "human-annotated": "yes", "job-name": "labeling-job/pets"}
    for k, (idx, name) in enumerate([(1, "dog"), (0, "cat"), (2, "bird"), (1, "dog"), (0, "cat")]):
        assert got[k]["pets"] == idx and type(got[k]["pets"]) is int
        meta = got[k]["pets-metadata"]
        assert meta == {"class-name": name, "confidence": meta["confidence"], **base}
    assert [g["pets-metadata"]["confidence"] for g in got[:3]] == [0.95, 0.95, 0.95]
    # the split objects: label and confidence from the EM posterior (the same algorithm run directly)
    expected = dawid_skene([[(w.worker_id, labels.index(x)) for w, x in zip(ws, v, strict=True)] for v in votes], 3)
    assert got[3]["pets-metadata"]["confidence"] == expected[3].confidence
    assert 0.5 < expected[3].confidence <= 0.95
    assert got[5]["pets"] == expected[5].label
    assert got[5]["pets-metadata"]["class-name"] == labels[expected[5].label]
    assert got[5]["pets-metadata"]["confidence"] == expected[5].confidence < 0.95
    assert list(read_lines(Path(output.output_manifest_uri(_job_row(ctx, job))))[0]["pets-metadata"]) == [
        "class-name",
        "job-name",
        "confidence",
        "type",
        "human-annotated",
        "creation-date",
    ]


def test_multilabel_output_read_back(ctx: Context, tmp_path: Path) -> None:
    job = insert_job(
        ctx.db,
        name="Tags",
        task_type="ImageMultiClassification",
        labels=["cat", "dog", "indoor"],
        output_path=str(tmp_path / "o"),
        attr="tags",
        workers_per_object=2,
    )
    insert_objects(ctx.db, job, [{"source-ref": f"s3://b/{k}.jpg"} for k in range(2)])
    w1, w2 = _workers(ctx, 2)
    submit_answer(ctx.db, job, 0, w1, multi_answer(["cat", "dog"]))
    submit_answer(ctx.db, job, 0, w2, multi_answer(["dog"]))
    submit_answer(ctx.db, job, 1, w1, multi_answer([]))
    submit_answer(ctx.db, job, 1, w2, multi_answer([]))
    finish_job(ctx, job, "Completed")
    got = [_strip_dates(x, "tags") for x in read_lines(Path(output.output_manifest_uri(_job_row(ctx, job))))]
    base = {
        "type": "groundtruth/image-classification-multilabel",
        "human-annotated": "yes",
        "job-name": "labeling-job/tags",
    }
    assert got[0] == {
        "source-ref": "s3://b/0.jpg",
        "tags": [1, 0],
        "tags-metadata": {"class-map": {"1": "dog", "0": "cat"}, "confidence-map": {"1": 0.95, "0": 0.5}, **base},
    }
    assert got[1] == {
        "source-ref": "s3://b/1.jpg",
        "tags": [],
        "tags-metadata": {"class-map": {}, "confidence-map": {}, **base},
    }


# --- format parity with real Ground Truth files ----------------------------------------------------------


def _key_sets(path: Path) -> dict[str, set[frozenset[str]]]:
    seen: dict[str, set[frozenset[str]]] = {"value": set(), "meta": set(), "ann": set(), "size": set()}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = json.loads(raw)
        attr = next(k[: -len("-metadata")] for k in line if k.endswith("-metadata"))
        value, meta = line[attr], line[f"{attr}-metadata"]
        seen["meta"].add(frozenset(meta))
        if isinstance(value, dict):
            seen["value"].add(frozenset(value))
            seen["ann"].update(frozenset(a) for a in value["annotations"])
            seen["size"].update(frozenset(s) for s in value["image_size"])
        else:
            seen["value"].add(frozenset({type(value).__name__}))
    return seen


@pytest.mark.parametrize(
    "folder, task_type",
    [
        ("bbox-birds-5workers-consolidated", "BoundingBox"),
        ("bbox-bcbs-logo-1worker", "BoundingBox"),
        ("bbox-cat-1worker", "BoundingBox"),
        ("bbox-hms-ayo-1worker", "BoundingBox"),
        ("ic-coral-4class", "ImageClassification"),
        ("ic-banana-with-autogen-input", "ImageClassification"),
        ("ic-vehicles-2023", "ImageClassification"),
    ],
)
def test_keys_match_real_ground_truth_files(
    realdata: Path, ctx: Context, tmp_path: Path, folder: str, task_type: str
) -> None:
    (real,) = [p for p in (realdata / folder).glob("*.manifest") if not p.name.startswith("dataset-")]
    theirs = _key_sets(real)
    job = insert_job(
        ctx.db,
        name="parity",
        task_type=task_type,
        labels=["a", "b"],
        output_path=str(tmp_path / "o"),
        workers_per_object=2,
    )
    insert_objects(ctx.db, job, [{"source-ref": f"s3://b/{k}.jpg"} for k in range(2)])
    w1, w2 = _workers(ctx, 2)
    if task_type == "BoundingBox":
        for w in (w1, w2):
            submit_answer(ctx.db, job, 0, w, box_answer([("a", 1, 2, 30, 40), ("b", 50, 50, 9, 9)]))
            submit_answer(ctx.db, job, 1, w, box_answer([]))
    else:
        for k in (0, 1):
            submit_answer(ctx.db, job, k, w1, class_answer("a"))
            submit_answer(ctx.db, job, k, w2, class_answer("b"))
    finish_job(ctx, job, "Completed")
    ours = _key_sets(Path(output.output_manifest_uri(_job_row(ctx, job))))
    assert ours["meta"] == theirs["meta"]
    assert ours["value"] == theirs["value"]
    assert ours["ann"] == theirs["ann"]
    assert ours["size"] == theirs["size"]


# --- stop, chain, adjustment, unchanged lines ------------------------------------------------------------


def test_stop_with_3_of_10_answered(any_ctx: Context, tmp_path: Path) -> None:
    ctx = any_ctx
    job = insert_job(
        ctx.db,
        name="stopme",
        task_type="ImageClassification",
        labels=["no", "yes"],
        output_path=str(tmp_path / "o"),
        attr="ok",
        workers_per_object=1,
    )
    lines = [{"source-ref": f"s3://b/{k}.jpg", "id": k} for k in range(10)]
    insert_objects(ctx.db, job, lines)
    (w,) = _workers(ctx, 1)
    for k in (1, 4, 7):
        submit_answer(ctx.db, job, k, w, class_answer("yes"))
    with ctx.db.write() as c:
        c.execute(update(dbm.jobs).where(dbm.jobs.c.id == job).values(status="Stopping"))
    finish_job(ctx, job, "Stopped")
    row = _job_row(ctx, job)
    assert row.status == "Stopped"
    final = read_lines(Path(output.output_manifest_uri(row)))
    assert [x["id"] for x in final] == [1, 4, 7]
    assert all(x["ok"] == 1 and x["ok-metadata"]["confidence"] == 0 for x in final)
    inter = read_lines(Path(output.intermediate_manifest_uri(row)))
    assert len(inter) == 10 and [("ok" in x) for x in inter].count(True) == 3
    assert inter[0] == lines[0]


def test_unlabelled_lines_are_written_exactly_as_stored(ctx: Context, tmp_path: Path) -> None:
    job = insert_job(
        ctx.db,
        name="raw",
        task_type="ImageClassification",
        labels=["x", "y"],
        output_path=str(tmp_path / "o"),
        attr="lab",
    )
    insert_objects(ctx.db, job, [{"source-ref": "s3://b/1.jpg"}, {"source-ref": "s3://b/2.jpg"}])
    raw = '{"source-ref":"s3://b/2.jpg","q":"a\\u003db","ü":"é"}'
    with ctx.db.write() as c:
        c.execute(update(dbm.objects).where(dbm.objects.c.idx == 1).values(line_json=raw))
    (w,) = _workers(ctx, 1)
    submit_answer(ctx.db, job, 0, w, class_answer("y"))
    finish_job(ctx, job, "Completed")
    text = Path(output.output_manifest_uri(_job_row(ctx, job))).read_text(encoding="utf-8")
    assert text.endswith("\n") and text.count("\n") == 2
    assert text.splitlines()[1] == raw


def test_chain_same_attribute_keeps_skipped_lines(ctx: Context, tmp_path: Path) -> None:
    job = insert_job(
        ctx.db,
        name="chain2",
        task_type="ImageClassification",
        labels=["x", "y"],
        output_path=str(tmp_path / "o"),
        attr="lab",
    )
    labelled = {
        "source-ref": "s3://b/0.jpg",
        "lab": 0,
        "lab-metadata": {"class-name": "x", "job-name": "labeling-job/chain1", "confidence": 0, "type": "t"},
    }
    lines = [labelled, {"source-ref": "s3://b/1.jpg"}, dict(labelled, **{"source-ref": "s3://b/2.jpg"})]
    insert_objects(ctx.db, job, lines, skipped=frozenset({0, 2}))
    (w,) = _workers(ctx, 1)
    submit_answer(ctx.db, job, 1, w, class_answer("y"))
    finish_job(ctx, job, "Completed")
    final = read_lines(Path(output.output_manifest_uri(_job_row(ctx, job))))
    assert len(final) == 3
    assert final[0] == lines[0] and final[2] == lines[2]
    assert final[1]["lab"] == 1 and final[1]["lab-metadata"]["job-name"] == "labeling-job/chain2"


def test_adjustment_adjusted_and_unadjusted(ctx: Context, tmp_path: Path) -> None:
    orig_value = {
        "image_size": [{"width": 680, "height": 1024, "depth": 3}],
        "annotations": [{"class_id": 0, "top": 164.60000000000002, "left": 138.8, "height": 859, "width": 443.8}],
    }
    orig_meta = {
        "objects": [{"confidence": 0.93}],
        "class-map": {"0": "Bird"},
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "creation-date": "2022-09-12T09:51:00.148118",
        "job-name": "labeling-job/first",
    }
    lines = [
        {"source-ref": f"s3://b/{k}.jpg", "category": orig_value, "category-metadata": orig_meta} for k in range(2)
    ]
    job = insert_job(
        ctx.db,
        name="adjust",
        task_type="AdjustmentBoundingBox",
        labels=["Bird"],
        output_path=str(tmp_path / "o"),
        attr="category-adjusted",
        workers_per_object=2,
        spec={"ChainedFrom": {"LabelAttributeName": "category"}},
    )
    insert_objects(ctx.db, job, lines)
    w1, w2 = _workers(ctx, 2)
    same = box_answer([("Bird", 138.8, 164.60000000000002, 443.8, 859)], 680, 1024)
    same["boundingBox"]["initialValueModified"] = False
    moved = box_answer([("Bird", 150, 170, 440, 850)], 680, 1024)
    moved["boundingBox"]["initialValueModified"] = True
    for w in (w1, w2):
        submit_answer(ctx.db, job, 0, w, same)
    submit_answer(ctx.db, job, 1, w1, same)
    submit_answer(ctx.db, job, 1, w2, moved)
    finish_job(ctx, job, "Completed")
    path = Path(output.output_manifest_uri(_job_row(ctx, job)))
    raw_lines = path.read_text(encoding="utf-8").splitlines()
    l0, l1 = [json.loads(x) for x in raw_lines]
    orig_text = json.dumps(orig_value, separators=(",", ":"))
    # unadjusted: the original boxes byte-identical, the original attribute untouched
    assert f'"category-adjusted":{orig_text}' in raw_lines[0]
    assert l0["category"] == orig_value and l0["category-metadata"] == orig_meta
    assert l0["category-adjusted-metadata"]["adjustment-status"] == "unadjusted"
    assert l0["category-adjusted-metadata"]["type"] == "groundtruth/object-detection"
    assert l0["category-adjusted-metadata"]["class-map"] == {"0": "Bird"}
    assert len(l0["category-adjusted-metadata"]["objects"]) == 1
    # adjusted: consolidated boxes of both workers
    assert l1["category-adjusted-metadata"]["adjustment-status"] == "adjusted"
    (ann,) = l1["category-adjusted"]["annotations"]
    assert ann["left"] == pytest.approx((138.8 + 150) / 2) and ann["height"] == pytest.approx((859 + 850) / 2)
    assert l1["category"] == orig_value


# --- robustness: concurrency, idempotence, bad answers, intermediate ---------------------------------------


def test_finish_twice_concurrently_runs_once(tmp_path: Path) -> None:
    ctx = Context.from_settings(make_settings(tmp_path))
    try:
        job = insert_job(
            ctx.db,
            name="twice",
            task_type="ImageClassification",
            labels=["x", "y"],
            output_path=str(tmp_path / "o"),
            workers_per_object=1,
        )
        insert_objects(ctx.db, job, [{"source-ref": f"s3://b/{k}.jpg"} for k in range(200)])
        (w,) = _workers(ctx, 1)
        for k in range(200):
            submit_answer(ctx.db, job, k, w, class_answer("x"))
        errors: list[BaseException] = []

        def run() -> None:
            try:
                finish_job(ctx, job, "Completed")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert _job_row(ctx, job).status == "Completed"
        folder = tmp_path / "o" / "twice" / "annotations/consolidated-annotation/consolidation-request/iteration-1"
        assert len(list(folder.iterdir())) == 1
        finish_job(ctx, job, "Completed")  # idempotent: nothing new
        finish_job(ctx, job, "Stopped")
        assert len(list(folder.iterdir())) == 1 and _job_row(ctx, job).status == "Completed"
    finally:
        ctx.db.dispose()


def test_malformed_answer_is_reported_and_job_can_retry(ctx: Context, tmp_path: Path) -> None:
    job = insert_job(
        ctx.db,
        name="bad",
        task_type="BoundingBox",
        labels=["cat"],
        output_path=str(tmp_path / "o"),
    )
    insert_objects(ctx.db, job, [{"source-ref": "s3://b/0.jpg"}, {"source-ref": "s3://b/1.jpg"}])
    (w,) = _workers(ctx, 1)
    submit_answer(ctx.db, job, 0, w, box_answer([("dog", 1, 1, 5, 5)]))
    submit_answer(ctx.db, job, 1, w, {"boundingBox": {"boundingBoxes": [{"label": "cat", "left": "x"}]}})
    with pytest.raises(ValidationError) as err:
        finish_job(ctx, job, "Completed")
    text = str(err.value)
    assert "object 0" in text and "'dog'" in text and "object 1" in text and w.worker_id in text
    row = _job_row(ctx, job)
    assert row.status == "InProgress" and row.ended_at is None  # claim released: a later call may retry
    assert not (tmp_path / "o" / "bad" / "manifests" / "output").exists()


def test_write_intermediate_then_final(any_ctx: Context, tmp_path: Path) -> None:
    ctx = any_ctx
    job = insert_job(
        ctx.db,
        name="inter",
        task_type="ImageClassification",
        labels=["x", "y"],
        output_path=str(tmp_path / "o"),
        attr="lab",
        workers_per_object=2,
    )
    insert_objects(ctx.db, job, [{"source-ref": f"s3://b/{k}.jpg"} for k in range(4)])
    w1, w2 = _workers(ctx, 2)
    submit_answer(ctx.db, job, 0, w1, class_answer("y"))
    submit_answer(ctx.db, job, 0, w2, class_answer("y"))
    submit_answer(ctx.db, job, 1, w1, class_answer("x"))  # one of two answers: not done yet
    uri = output.write_intermediate(ctx, job)
    assert uri == output.intermediate_manifest_uri(_job_row(ctx, job))
    inter = read_lines(Path(uri))
    assert len(inter) == 4 and inter[0]["lab"] == 1 and "lab" not in inter[1]
    resp_dir = tmp_path / "o" / "inter" / "annotations/consolidated-annotation/consolidation-response/iteration-1"
    assert [json.loads(p.read_text())[0]["datasetObjectId"] for p in resp_dir.iterdir()] == ["0"]
    finish_job(ctx, job, "Completed")
    assert output.write_intermediate(ctx, job) is None  # final: nothing rewritten
    final = read_lines(Path(output.output_manifest_uri(_job_row(ctx, job))))
    assert len(final) == 4 and final[1]["lab"] == 0 and final[1]["lab-metadata"]["confidence"] == 0


def test_intermediate_throttle() -> None:
    assert all(output.intermediate_due(500, k) for k in range(1, 501))
    due = [k for k in range(1, 100_001) if output.intermediate_due(100_000, k)]
    assert len(due) == 100 and due[-1] == 100_000


def test_job_folder_for_s3_and_local() -> None:
    row = {"output_path": "s3://bucket/out/", "name": "Job-1"}
    assert output.job_folder(row) == "s3://bucket/out/Job-1"
    assert output.output_manifest_uri(row) == "s3://bucket/out/Job-1/manifests/output/output.manifest"
    assert output.job_folder({"output_path": "/data/out", "name": "j"}) == "/data/out/j"


def test_output_tree_on_s3(s3_server: Any, s3_bucket: str, tmp_path: Path) -> None:
    ctx = Context.from_settings(make_settings(tmp_path, GT_S3_ENDPOINT_URL=s3_server.endpoint_url))
    try:
        job = insert_job(
            ctx.db,
            name="s3job",
            task_type="BoundingBox",
            labels=["cat"],
            output_path=f"s3://{s3_bucket}/out",
            workers_per_object=1,
        )
        insert_objects(ctx.db, job, [{"source-ref": f"s3://{s3_bucket}/img/{k}.jpg"} for k in range(3)])
        (w,) = _workers(ctx, 1)
        submit_answer(ctx.db, job, 0, w, box_answer([("cat", 1, 2, 3, 4)]))
        with ctx.db.write() as c:
            c.execute(update(dbm.jobs).where(dbm.jobs.c.id == job).values(status="Stopping"))
        finish_job(ctx, job, "Stopped")
        client = s3_server.client()
        keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix="out/")["Contents"])
        assert "out/s3job/manifests/output/output.manifest" in keys
        assert "out/s3job/manifests/intermediate/1/output.manifest" in keys
        assert any(k.startswith("out/s3job/annotations/consolidated-annotation/consolidation-request/") for k in keys)
        body = client.get_object(Bucket=s3_bucket, Key="out/s3job/manifests/output/output.manifest")["Body"].read()
        (line,) = [json.loads(x) for x in body.decode().splitlines()]
        assert line["category"]["image_size"] == [{"width": 640, "height": 480, "depth": 3}]
        assert _job_row(ctx, job).status == "Stopped"
    finally:
        ctx.db.dispose()


def test_image_depth_probe_stays_inside_local_roots(ctx: Context, tmp_path: Path) -> None:
    from gtcore.output.image_sizes import image_info_reader

    outside = tmp_path.parent / f"outside-{tmp_path.name}.png"
    Image.new("L", (8, 8)).save(outside)
    try:
        inside = tmp_path / "imgs"
        inside.mkdir()
        Image.new("L", (10, 6)).save(inside / "grey.png")
        Image.new("RGBA", (10, 6)).save(inside / "rgba.png")
        Image.new("P", (10, 6)).save(inside / "pal.png")
        (inside / "link.png").symlink_to(outside)
        read = image_info_reader(ctx.storage)
        assert read({"source-ref": str(inside / "grey.png")}) == ImageInfo(10, 6, 1)
        assert read({"source-ref": str(inside / "rgba.png")}).depth == 4
        assert read({"source-ref": str(inside / "pal.png")}).depth == 3
        assert read({"source-ref": "file://" + str(inside / "grey.png")}).depth == 1
        assert read({"source-ref": str(outside)}) is None  # outside the local roots
        assert read({"source-ref": str(inside / "link.png")}) is None  # symlink leading outside
        assert read({"source-ref": str(inside / ".." / ".." / outside.name)}) is None
        assert read({"source-ref": str(inside / "missing.png")}) is None
        assert read({"source-ref": "s3://bucket/x.png"}) is None
    finally:
        outside.unlink()


def test_existing_label_pair_is_overwritten_in_place(ctx: Context, tmp_path: Path) -> None:
    job = insert_job(
        ctx.db,
        name="over",
        task_type="ImageClassification",
        labels=["x", "y"],
        output_path=str(tmp_path / "o"),
        attr="lab",
    )
    line = {"source-ref": "s3://b/0.jpg", "lab": 7, "lab-metadata": {"class-name": "old"}, "z": 1}
    insert_objects(ctx.db, job, [line])
    (w,) = _workers(ctx, 1)
    submit_answer(ctx.db, job, 0, w, class_answer("y"))
    finish_job(ctx, job, "Completed")
    text = Path(output.output_manifest_uri(_job_row(ctx, job))).read_text()
    got = json.loads(text)
    assert list(got) == ["source-ref", "lab", "lab-metadata", "z"]
    assert got["lab"] == 1 and got["lab-metadata"]["class-name"] == "y" and got["z"] == 1


def test_intermediate_is_incremental_for_boxes(ctx: Context, tmp_path: Path) -> None:
    job = insert_job(
        ctx.db,
        name="incr",
        task_type="BoundingBox",
        labels=["cat"],
        output_path=str(tmp_path / "o"),
        workers_per_object=1,
    )
    insert_objects(ctx.db, job, [{"source-ref": f"s3://b/{k}.jpg"} for k in range(3)])
    (w,) = _workers(ctx, 1)
    submit_answer(ctx.db, job, 0, w, box_answer([("cat", 1, 1, 5, 5)]))
    uri = output.write_intermediate(ctx, job)
    first = read_lines(Path(uri))[0]
    submit_answer(ctx.db, job, 1, w, box_answer([("cat", 2, 2, 5, 5)]))
    second = read_lines(Path(output.write_intermediate(ctx, job)))
    assert second[0] == first  # object 0 not consolidated again: same creation-date
    assert second[1]["category"]["annotations"][0]["left"] == 2 and "category" not in second[2]
    resp_dir = tmp_path / "o" / "incr" / "annotations/consolidated-annotation/consolidation-response/iteration-1"
    ids = sorted(r["datasetObjectId"] for p in resp_dir.iterdir() for r in json.loads(p.read_text()))
    assert ids == ["0", "1"]  # each object in exactly one response file
    assert output.write_intermediate(ctx, job) == uri  # nothing new: no new files
    assert len(list(resp_dir.iterdir())) == 2


def test_end_to_end_job_api_queue_and_output(ctx: Context, job_factory: Any) -> None:
    """A job made by gtcore.jobs.api, answered through gtcore.queue: the last submit finishes it with our output."""
    from gtcore.queue import api as queue

    made = job_factory.create(n_images=2, task_type="BoundingBox", workers_per_object=2, label_attribute="animals")
    workers = [make_user(ctx.db, f"e2e{k}@example.test", team_ids=(made.team_id,)) for k in range(2)]
    results = []
    for k, w in enumerate(workers):
        for _ in range(2):
            task = queue.claim_next(ctx, w, made.summary.job_id)
            assert task is not None
            boxes = [("cat", 5 + k, 6, 20, 10)] if task.object_idx == 0 else [("dog", 1, 1, 30, 30 + k)]
            results.append(queue.submit(ctx, w, task.assignment_id, box_answer(boxes, 64, 48)))
            run_work(ctx)
    assert results[-1].job_done and not any(r.job_done for r in results[:-1])
    row = _job_row(ctx, made.summary.job_id)
    assert row.status == "Completed"
    lines = read_lines(Path(output.output_manifest_uri(row)))
    assert [x["source-ref"] for x in lines] == [str(p) for p in made.images]
    assert lines[0]["animals"]["annotations"] == [{"class_id": 0, "top": 6, "left": 5.5, "height": 10, "width": 20}]
    assert lines[1]["animals"]["annotations"] == [{"class_id": 1, "top": 1, "left": 1, "height": 30.5, "width": 30}]
    assert lines[0]["animals"]["image_size"] == [{"width": 64, "height": 48, "depth": 3}]
    assert lines[1]["animals-metadata"]["job-name"] == "labeling-job/" + made.summary.name.lower()
    folder = Path(output.job_folder(row))
    (one,) = (folder / "annotations/worker-response/iteration-1/0").iterdir()  # one file per object, both answers
    assert len(json.loads(one.read_text())["answers"]) == 2
