"""Label verification end to end (groundtruth-reference.md 1.6): jobs over an earlier bounding-box or
semantic-segmentation job (chained) or over any manifest holding the attribute, the earlier labels handed to the
worker, the EM consolidation, and the new attribute with class-name, confidence, type and worker-feedback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gtcore.consolidation.classification import dawid_skene
from gtcore.core.errors import ManifestError, SpecError
from gtcore.core.tasktypes import DEFAULT_TEXTS
from gtcore.jobs import api as jobs
from gtcore.manifests.augmented import read_augmented
from gtcore.manifests.label_values import classes_of
from gtcore.queue import api as queue
from tests.fixtures.core import make_user, run_work
from tests.fixtures.jobs import JobFactory
from tests.test_segmentation import answer as mask_answer
from tests.test_segmentation import painted

VERIFY_META = ["class-name", "confidence", "type", "job-name", "human-annotated", "creation-date"]


def _run(f: JobFactory, job_id: int, workers: list[Any], answer_for: Any) -> None:
    for w in workers:
        while (task := queue.claim_next(f.ctx, w, job_id)) is not None:
            if queue.submit(f.ctx, w, task.assignment_id, answer_for(task, w)).job_done:
                break
    run_work(f.ctx)  # the background work: worker-response files, finishing the job


def _lines(f: JobFactory, name: str) -> list[dict[str, Any]]:
    path = f.root / "output" / name / "manifests" / "output" / "output.manifest"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def verdict(label: str, comment: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"label": label}
    if comment is not None:
        body["workerComment"] = comment
    return {"crowd-image-classifier": body}


def _box_job(f: JobFactory, n: int = 3) -> Any:
    job = f.create(task_type="BoundingBox", n_images=n)
    w = make_user(f.ctx.db, "boxer@example.test", ("worker",), (job.team_id,))
    box = {"height": 10, "label": "cat", "left": 3, "top": 4, "width": 20}
    ans = {"boundingBox": {"boundingBoxes": [box], "inputImageProperties": {"height": 48, "width": 64}}}
    _run(f, job.job_id, [w], lambda t, _w: ans)
    return job


def test_verification_of_boxes_by_chaining(any_job_factory: JobFactory) -> None:
    f = any_job_factory
    src = _box_job(f)
    labels = f.write_labels("verify", ["Correct", "Incorrect"])
    v = jobs.chain_labeling_job(
        f.ctx,
        f.actor,
        src.name,
        "boxes-checked",
        task_type="VerificationBoundingBox",
        overrides={
            "LabelCategoryConfigS3Uri": str(labels),
            "HumanTaskConfig": {"NumberOfHumanWorkersPerDataObject": 3},
        },
    )
    assert v.label_attribute == "boxes-checked"
    crew = [make_user(f.ctx.db, f"judge{k}@example.test", ("worker",), (src.team_id,)) for k in range(3)]
    plan = {  # object -> worker -> (label, comment)
        0: [("Correct", None), ("Correct", "   "), ("Correct", "fine")],
        1: [("Incorrect", "box too wide"), ("Incorrect", ""), ("Correct", None)],
        2: [("Correct", None), ("Incorrect", "missed a dog"), ("Correct", None)],
    }

    def judge(task: Any, w: Any) -> dict[str, Any]:
        assert task.previous["attribute"] == src.name
        assert task.previous["boundingBoxes"][0]["label"] == "cat"  # the earlier boxes, with class names
        label, comment = plan[task.object_idx][crew.index(w)]
        return verdict(label, comment)

    for w in crew:
        _run(f, v.job_id, [w], judge)
    lines = _lines(f, "boxes-checked")
    votes = [[(f"w{k}", ["Correct", "Incorrect"].index(lab)) for k, (lab, _c) in enumerate(plan[i])] for i in range(3)]
    expected = dawid_skene(votes, 2)
    for i, line in enumerate(lines):
        assert src.name in line and f"{src.name}-metadata" in line  # the verified attribute stays
        meta = line["boxes-checked-metadata"]
        assert line["boxes-checked"] == str(expected[i].label)  # the class index, a string as in the docs
        assert list(meta)[:6] == VERIFY_META
        assert meta["class-name"] == ["Correct", "Incorrect"][expected[i].label]
        assert meta["confidence"] == expected[i].confidence
        assert meta["type"] == "groundtruth/label-verification"
        assert meta["job-name"] == "labeling-job/boxes-checked"
    assert lines[0]["boxes-checked-metadata"]["worker-feedback"] == [{"comment": "fine"}]  # blank ones dropped
    assert lines[1]["boxes-checked-metadata"]["worker-feedback"] == [{"comment": "box too wide"}]
    assert lines[2]["boxes-checked-metadata"]["worker-feedback"] == [{"comment": "missed a dog"}]
    # the viewer reads the verdicts
    man = read_augmented(f.ctx.storage, str(f.root / "output/boxes-checked/manifests/output/output.manifest"))
    assert [c.class_name for c in classes_of(man.records[1], "boxes-checked")] == [
        ["Correct", "Incorrect"][expected[1].label]
    ]


def test_verification_of_a_mask_manifest_without_feedback(job_factory: JobFactory) -> None:
    f = job_factory
    seg = f.create(task_type="SemanticSegmentation", label_attribute="seg-ref", n_images=2)
    w = make_user(f.ctx.db, "painter@example.test", ("worker",), (seg.team_id,))
    _run(f, seg.job_id, [w], lambda t, _w: mask_answer(painted((1, 1, 1, 9, 9))))
    out = f.root / "output" / seg.name / "manifests/output/output.manifest"
    # a new job over "any manifest with the attribute": the attribute to verify named in ChainedFrom
    v = f.create(
        name="masks-checked",
        task_type="VerificationSemanticSegmentation",
        lines=[json.loads(x) for x in out.read_text().splitlines()],
        ChainedFrom={"LabelAttributeName": "seg-ref"},
    )
    task = queue.claim_next(f.ctx, w, v.job_id)
    assert task is not None and task.previous["maskUri"] == _lines(f, seg.name)[task.object_idx]["seg-ref"]
    queue.submit(f.ctx, w, task.assignment_id, verdict("Correct"))
    task = queue.claim_next(f.ctx, w, v.job_id)
    assert task is not None
    queue.submit(f.ctx, w, task.assignment_id, verdict("Incorrect", ""))
    run_work(f.ctx)
    lines = _lines(f, "masks-checked")
    assert [x["masks-checked-metadata"]["class-name"] for x in lines] == ["Correct", "Incorrect"]
    assert all("worker-feedback" not in x["masks-checked-metadata"] for x in lines)
    assert all(x["masks-checked-metadata"]["confidence"] == 0 for x in lines)  # one worker


def test_verification_needs_the_attribute_on_every_line(job_factory: JobFactory, tmp_path: Path) -> None:
    f = job_factory
    with pytest.raises(SpecError, match="a verification job needs the attribute"):
        f.create(task_type="VerificationBoundingBox")
    with pytest.raises(ManifestError, match="no line has the attribute .boxes."):
        f.create(task_type="VerificationBoundingBox", ChainedFrom={"LabelAttributeName": "boxes"})
    with pytest.raises(SpecError, match="must not end with -ref"):
        f.create(task_type="VerificationSemanticSegmentation", label_attribute="v-ref")
    # a semseg source without hex colours (from before verification existed) is refused, as in Ground Truth
    img = f.images("old", 1)[0]
    old = {
        "source-ref": str(img),
        "m-ref": "s3://b/m.png",
        "m-ref-metadata": {"type": "groundtruth/semantic-segmentation"},
    }
    with pytest.raises(ManifestError, match="no internal-color-map"):
        f.create(task_type="VerificationSemanticSegmentation", lines=[old], ChainedFrom={"LabelAttributeName": "m-ref"})


def test_a_declined_object_never_reaches_the_verification_job(job_factory: JobFactory) -> None:
    """Ground Truth verifies labeled objects only: the box job's declined object is skipped, written unchanged."""
    f = job_factory
    examples = {"Short": "Draw one tight box, pick the label first", "Full": "# Boxes", "Examples": [
        {"Kind": "good", "ImageUri": str(f.images("examples", 1)[0]), "Caption": "tight"}]}  # fmt: skip
    job = f.create(task_type="BoundingBox", n_images=3, extra_human={"Instructions": examples})
    w = make_user(f.ctx.db, "boxer@example.test", ("worker",), (job.team_id,))
    box = {"height": 10, "label": "cat", "left": 3, "top": 4, "width": 20}
    ans = {"boundingBox": {"boundingBoxes": [box], "inputImageProperties": {"height": 48, "width": 64}}}
    while (task := queue.claim_next(f.ctx, w, job.job_id)) is not None:
        if task.object_idx == 1:
            queue.decline(f.ctx, w, task.assignment_id, "cannot see anything")
        else:
            queue.submit(f.ctx, w, task.assignment_id, ans)
    run_work(f.ctx)
    assert jobs.job_summary(f.ctx, f.actor, job.name).status == "Completed"
    assert job.name not in _lines(f, job.name)[1]  # the declined object has no label
    labels = f.write_labels("verify", ["Correct", "Incorrect"])
    v = jobs.chain_labeling_job(
        f.ctx, f.actor, job.name, "boxes-checked", task_type="VerificationBoundingBox",
        overrides={"LabelCategoryConfigS3Uri": str(labels)},
    )  # fmt: skip
    assert v.already_labeled == 1
    judge = make_user(f.ctx.db, "judge@example.test", ("worker",), (job.team_id,))
    seen = []
    while (task := queue.claim_next(f.ctx, judge, v.job_id)) is not None:
        seen.append(task.object_idx)
        assert task.previous["boundingBoxes"], "asked to verify an object without labels"
        # the instructions follow the task type: the box job's drawing instructions and examples stay behind
        assert task.instructions == {"Short": DEFAULT_TEXTS["VerificationBoundingBox"][1], "Full": "", "Examples": []}
        queue.submit(f.ctx, judge, task.assignment_id, verdict("Correct"))
    run_work(f.ctx)
    assert seen == [0, 2]
    lines = _lines(f, "boxes-checked")
    assert "boxes-checked" not in lines[1] and "boxes-checked" in lines[0] and "boxes-checked" in lines[2]
    assert jobs.job_summary(f.ctx, f.actor, "boxes-checked").status == "Completed"
