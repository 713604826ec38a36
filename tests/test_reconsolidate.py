"""`gtcore consolidate` over Ground Truth's own worker-response tree (groundtruth-reference.md §2), `gtcore
worker-quality` and the job status page's worker quality with gold objects (issue 17), and the GoldStandard
extension of the job spec."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gtcore.cli.command import main
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import PermissionDenied
from gtcore.jobs.quality import job_quality
from gtcore.jobs.spec import check_job_spec
from gtcore.output import writer as output
from gtcore.queue import api as queue
from tests.fixtures.core import make_user, run_work
from tests.fixtures.jobs import JobFactory
from tests.test_jobspec import base_request

DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path))
    for name in ("GT_DATABASE_URL", "GT_S3_ENDPOINT_URL", "GT_ALLOWED_BUCKETS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _answer(worker: str, content: dict[str, Any], second: int) -> dict[str, Any]:
    """One answer as Ground Truth writes it (Dec-2020+ keys, private workforce)."""
    return {
        "acceptanceTime": f"2021-03-04T10:00:{second:02d}.000Z",
        "answerContent": content,
        "submissionTime": f"2021-03-04T10:01:{second:02d}.000Z",
        "timeSpentInSeconds": 12.5,
        "workerId": worker,
        "workerMetadata": {
            "identityData": {
                "identityProviderType": "Cognito",
                "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc",
                "sub": f"sub-{worker}",
            }
        },
    }


def _write(root: Path, iteration: str, idx: int, stamp: str, answers: list[dict[str, Any]]) -> None:
    folder = root / iteration / str(idx)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stamp}.json").write_text(json.dumps({"answers": answers}))


def _cls(label: str) -> dict[str, Any]:
    return {"crowd-image-classifier": {"label": label}}


def _tree(tmp: Path) -> tuple[Path, Path, Path]:
    """A Ground Truth job folder: input manifest (4 lines), labels, worker responses in two iterations."""
    job = tmp / "out" / "pets-2021"
    responses = job / "annotations" / "worker-response"
    lines = [{"source-ref": f"s3://bucket/img{k}.jpg", "id": k} for k in range(4)]
    manifest = tmp / "input.manifest"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
    labels = tmp / "labels.json"
    labels.write_text(json.dumps({"document-version": "2018-11-28", "labels": [{"label": "cat"}, {"label": "dog"}]}))
    # object 0: 5 workers in one file, as Ground Truth writes it (4 dog, 1 cat)
    votes0 = ["dog", "dog", "cat", "dog", "dog"]
    _write(responses, "iteration-1", 0, "2021-03-04_10:02:00",
           [_answer(f"private.us-east-1.w{k}", _cls(v), k) for k, v in enumerate(votes0)])  # fmt: skip
    # object 1: 3 answers in iteration-1, then w2 again in iteration-2 (a later file): his later answer counts once
    _write(responses, "iteration-1", 1, "2021-03-04_10:03:00",
           [_answer(f"private.us-east-1.w{k}", _cls("cat"), k) for k in range(3)])  # fmt: skip
    _write(responses, "iteration-2", 1, "2021-03-05_09:00:00", [_answer("private.us-east-1.w2", _cls("dog"), 9)])
    # object 2: one answer only (confidence 0); object 3: no answers (line unchanged)
    _write(responses, "iteration-2", 2, "2021-03-05_09:01:00", [_answer("private.us-east-1.w4", _cls("dog"), 3)])
    return manifest, labels, responses


def test_consolidate_reads_ground_truths_worker_response_tree(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest, labels, responses = _tree(env)
    out = env / "result" / "output.manifest"
    args = ["consolidate", "--manifest", str(manifest), "--worker-responses", str(responses) + "/",
            "--label-attribute", "pet", "--task-type", "ImageClassification", "--output", str(out)]  # fmt: skip
    assert main([*args, "--label-category-config", str(labels)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["Lines"] == 4 and report["Consolidated"] == 3 and report["WorkerResponseFiles"] == 4
    assert report["Answers"] == 5 + 3 + 1  # w2's two answers to object 1 count once
    assert report["Labels"] == ["cat", "dog"]
    text = out.read_text()
    assert text.endswith("\n") and ", " not in text
    got = [json.loads(x) for x in text.splitlines()]
    assert [g["id"] for g in got] == [0, 1, 2, 3]
    assert got[3] == {"source-ref": "s3://bucket/img3.jpg", "id": 3}
    meta0 = got[0]["pet-metadata"]
    assert list(got[0]) == ["source-ref", "id", "pet", "pet-metadata"]
    assert got[0]["pet"] == 1 and meta0["class-name"] == "dog"
    assert list(meta0) == ["class-name", "job-name", "confidence", "type", "human-annotated", "creation-date"]
    assert meta0["job-name"] == "labeling-job/pets-2021"  # the folder above annotations/
    assert meta0["type"] == "groundtruth/image-classification" and DATE_RE.match(meta0["creation-date"])
    assert 0.5 < meta0["confidence"] <= 0.95
    assert got[1]["pet"] == 0  # cat, cat, dog (w2's later answer replaced his cat)
    assert got[2]["pet"] == 1 and got[2]["pet-metadata"]["confidence"] == 0  # one worker
    # the output manifest as input (it carries the attribute already): replaced in place, labels from its class-names
    again = env / "again.manifest"
    assert main([*args[:2], str(out), *args[3:-1], str(again)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["Labels"] == ["cat", "dog"]
    got2 = [json.loads(x) for x in again.read_text().splitlines()]
    assert [(g.get("pet"), list(g)) for g in got2] == [(g.get("pet"), list(g)) for g in got]


def test_consolidate_boxes_and_multilabel(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    responses = env / "boxjob" / "annotations" / "worker-response"
    manifest = env / "in.manifest"
    manifest.write_text(json.dumps({"source-ref": "s3://b/a.jpg"}) + "\n")

    def box(*bs: tuple[str, int]) -> dict[str, Any]:
        drawn = [{"label": lab, "left": x, "top": 10, "width": 50, "height": 40} for lab, x in bs]
        return {"boundingBox": {"boundingBoxes": drawn, "inputImageProperties": {"width": 200, "height": 100}}}

    _write(responses, "iteration-1", 0, "2021-01-01_00:00:00",
           [_answer("w1", box(("bird", 10), ("bird", 120)), 1), _answer("w2", box(("bird", 12)), 2)])  # fmt: skip
    out = env / "boxes.manifest"
    code = main(["consolidate", "--manifest", str(manifest), "--worker-responses", str(responses),
                 "--label-attribute", "birds", "--task-type", "BoundingBox", "--output", str(out)])  # fmt: skip
    assert code == 0
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    anns = line["birds"]["annotations"]
    assert len(anns) == 1 and anns[0]["left"] == 11  # the box only w1 drew is dropped (2 workers need both)
    assert line["birds"]["image_size"] == [{"width": 200, "height": 100, "depth": 3}]
    assert line["birds-metadata"]["job-name"] == "labeling-job/boxjob"
    # multi-label: per-label EM
    ml = env / "mljob" / "annotations" / "worker-response"
    picks = {"crowd-image-classifier-multi-select": {"labels": ["sky", "sea"]}}
    _write(ml, "iteration-1", 0, "2021-01-01_00:00:00", [_answer(f"w{k}", picks, k) for k in range(3)])
    out = env / "ml.manifest"
    code = main(["consolidate", "--manifest", str(manifest), "--worker-responses", str(ml), "--label-attribute",
                 "tags", "--task-type", "ImageMultiClassification", "--output", str(out)])  # fmt: skip
    assert code == 0
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(line["tags"]) == [0, 1] and line["tags-metadata"]["class-map"] == {"0": "sky", "1": "sea"}
    capsys.readouterr()


def test_consolidate_bad_input_names_the_file(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest, _labels, responses = _tree(env)
    bad = responses / "iteration-3" / "0" / "2021-03-06_00:00:00.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"answers": "nope"}')
    out = env / "x.manifest"
    code = main(["consolidate", "--manifest", str(manifest), "--worker-responses", str(responses),
                 "--label-attribute", "pet", "--task-type", "ImageClassification", "--output", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "2021-03-06_00:00:00.json" in err and "not a worker-response file" in err
    assert not out.exists()
    bad.unlink()
    (responses / "iteration-3" / "7").mkdir()
    (responses / "iteration-3" / "7" / "t.json").write_text('{"answers": []}')
    code = main(["consolidate", "--manifest", str(manifest), "--worker-responses", str(responses),
                 "--label-attribute", "pet", "--task-type", "ImageClassification", "--output", str(out)])  # fmt: skip
    assert code == 1 and "datasetObjectId 7 has no line" in capsys.readouterr().err


def test_gold_standard_spec_extension() -> None:
    req = base_request()
    req["GoldStandard"] = {"LabelAttributeName": "known"}
    _spec, problems = check_job_spec(req)
    assert [p.field for p in problems] == ["GoldStandard"]  # a bounding-box job
    req["HumanTaskConfig"]["PreHumanTaskLambdaArn"] = (
        "arn:aws:lambda:us-east-1:432418664414:function:PRE-ImageMultiClass"
    )
    req["HumanTaskConfig"]["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"] = (
        "arn:aws:lambda:us-east-1:432418664414:function:ACS-ImageMultiClass"
    )
    req.pop("LabelingJobAlgorithmsConfig", None)
    spec, problems = check_job_spec(req)
    assert problems == [] and spec is not None and spec.request["GoldStandard"] == {"LabelAttributeName": "known"}
    cases = [
        ({"LabelAttributeName": "bird-boxes"}, "GoldStandard.LabelAttributeName"),
        ({"Attribute": "x"}, "GoldStandard.Attribute"),
        ({}, "GoldStandard.LabelAttributeName"),
    ]
    for bad, field in cases:
        req["GoldStandard"] = bad
        assert field in [p.field for p in check_job_spec(req)[1]]


def test_worker_quality_with_gold_objects(
    any_ctx: Context, any_job_factory: JobFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = any_ctx
    n = 24
    truth = ["cat" if k % 2 else "dog" for k in range(n)]
    lines = [{"source-ref": str(p)} for p in any_job_factory.images("gold", n)]
    for k in range(0, n, 4):  # every fourth object is gold; the worker is never told
        lines[k]["known"] = truth[k]
    made = any_job_factory.create(
        name="gold-job",
        lines=lines,
        workers_per_object=3,
        task_type="ImageClassification",
        labels=["cat", "dog", "bird"],
        GoldStandard={"LabelAttributeName": "known"},
    )
    crew = [make_user(ctx.db, f"q{k}@example.test", ("worker",), (made.team_id,)) for k in range(3)]
    flip = {"cat": "dog", "dog": "cat"}
    answer = {0: lambda t: t, 1: lambda t: t, 2: lambda t: flip[t]}  # worker 2 always names the other animal
    for k, w in enumerate(crew):
        while (task := queue.claim_next(ctx, w, made.job_id)) is not None:
            assert "known" not in repr(task)  # nothing in the task marks gold objects
            res = queue.submit(ctx, w, task.assignment_id,
                               {"crowd-image-classifier": {"label": answer[k](truth[task.object_idx])}})  # fmt: skip
            if res.job_done:
                break
    run_work(ctx)  # the background workers finish the job
    q = job_quality(ctx, Actor.system_actor(), job_id=made.job_id)
    assert q.supported and q.gold_attribute == "known" and q.gold_objects == n // 4
    by = {w.worker: w for w in q.workers}
    good, bad = by[crew[0].worker_id], by[crew[2].worker_id]  # type: ignore[attr-defined]
    assert (good.gold_right, good.gold_answered) == (6, 6) and (bad.gold_right, bad.gold_answered) == (0, 6)
    assert good.accuracy > 0.8 and bad.accuracy < 0.3 and bad.flags == ("likely adversary",)
    assert bad.confusion is not None and bad.confusion[:2] in (("cat", "dog"), ("dog", "cat"))
    with pytest.raises(PermissionDenied):
        job_quality(ctx, crew[0], job_id=made.job_id)
    # consolidation used the gold objects as fixed truths: every object has its true class, gold ones at the cap
    with ctx.db.read() as conn:
        row = conn.execute(select(dbm.jobs).where(dbm.jobs.c.id == made.job_id)).one()
    assert row.status == "Completed"
    got = [json.loads(x) for x in Path(output.output_manifest_uri(row)).read_text().splitlines()]
    assert [g["gold-job-metadata"]["class-name"] for g in got] == truth
    assert [g["known"] for g in got[::4]] == truth[::4]  # the gold attribute stays on the line
    assert {g["gold-job-metadata"]["confidence"] for g in got[::4]} == {0.95}
    # the same as JSON from the command line
    monkeypatch.setenv("GT_DATABASE_URL", ctx.db.url)
    monkeypatch.setenv("GT_HOME", str(any_job_factory.root / "home"))
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(any_job_factory.root))
    assert main(["worker-quality", "--labeling-job-name", "GOLD-JOB"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["LabelingJobName"] == "gold-job" and doc["GoldObjects"] == 6
    rows = {w["worker"]: w for w in doc["Workers"]}
    assert rows[crew[2].worker_id]["flags"] == ["likely adversary"]  # type: ignore[attr-defined]
    assert rows[crew[2].worker_id]["email"] == "q2@example.test"  # type: ignore[attr-defined]
    assert rows[crew[0].worker_id]["gold_right"] == 6  # type: ignore[attr-defined]
    assert main(["worker-quality", "--labeling-job-name", "nope"]) == 1
