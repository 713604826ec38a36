"""Clone and chain (groundtruth-reference.md section 8) on SQLite and PostgreSQL, with answers given through
the real queue, so the chained input is the output manifest ``lifecycle.finish_job`` wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import Conflict, SpecError
from gtcore.jobs import api as jobs
from gtcore.queue import api as queue
from tests.fixtures.core import make_user, run_work
from tests.fixtures.jobs import JobFactory

SYSTEM = Actor.system_actor()


def box_answer(label: str = "cat", left: int = 3) -> dict[str, Any]:
    return {
        "boundingBox": {
            "boundingBoxes": [{"height": 10, "label": label, "left": left, "top": 4, "width": 12}],
            "inputImageProperties": {"height": 48, "width": 64},
        }
    }


def worker_for(ctx: Context, team_id: int, email: str = "w@example.test") -> Actor:
    return make_user(ctx.db, email, ("worker",), (team_id,))


def work(
    ctx: Context, actor: Actor, job_id: int, *, submit: int, decline: int = 0, answer: dict[str, Any] | None = None
) -> list[int]:
    """Claim and submit ``submit`` tasks, then decline ``decline``; returns the submitted object indices."""
    done = []
    for _ in range(submit):
        task = queue.claim_next(ctx, actor, job_id)
        assert task is not None
        queue.submit(ctx, actor, task.assignment_id, answer or box_answer())
        run_work(ctx)
        done.append(task.object_idx)
    for _ in range(decline):
        task = queue.claim_next(ctx, actor, job_id)
        assert task is not None
        queue.decline(ctx, actor, task.assignment_id, "cannot see anything")
    run_work(ctx)
    return done


def objects_of(ctx: Context, job_id: int) -> list[Any]:
    with ctx.db.read() as conn:
        return conn.execute(select(dbm.objects).where(dbm.objects.c.job_id == job_id).order_by(dbm.objects.c.idx)).all()


def output_lines(summary: jobs.JobSummary) -> list[dict[str, Any]]:
    return [json.loads(x) for x in Path(summary.output_manifest_uri).read_text().splitlines()]


@pytest.fixture
def completed(any_ctx: Context, any_job_factory: JobFactory) -> tuple[jobs.JobSummary, Actor]:
    """A Completed bounding-box job of 3 images: objects 0 and 1 labeled, one declined (failed)."""
    made = any_job_factory.create(name="boxes-1", label_attribute="animals", n_images=3, workers_per_object=1)
    w = worker_for(any_ctx, made.team_id)
    work(any_ctx, w, made.job_id, submit=2, decline=1)
    summary = jobs.job_summary(any_ctx, SYSTEM, "boxes-1")
    assert summary.status == "Completed", summary
    assert summary.counters.human_labeled == 2 and summary.counters.failed_non_retryable_error == 1
    return summary, w


def test_chain_same_attribute_labels_only_unlabeled(any_ctx: Context, completed: Any) -> None:
    parent, w = completed
    assert sum("animals" in line for line in output_lines(parent)) == 2
    child = jobs.chain_labeling_job(any_ctx, SYSTEM, parent.name, "boxes-1-more", label_attribute_name="animals")
    assert child.status == "InProgress" and child.origin == "chain" and child.parent_job_id == parent.job_id
    assert child.input_manifest_uri == parent.output_manifest_uri
    assert child.total_objects == 3 and child.already_labeled == 2 and child.counters.unlabeled == 1
    rows = objects_of(any_ctx, child.job_id)
    assert [(r.status, r.needed) for r in rows] == [("skipped", 0), ("skipped", 0), ("open", 1)]
    assert ["animals" in json.loads(r.line_json) for r in rows] == [True, True, False]
    assert child.progress == pytest.approx(2 / 3)
    # the object declined in the parent is offered in the chained job; then the chain completes, every line labeled
    task = queue.claim_next(any_ctx, w, child.job_id)
    assert task is not None and task.object_idx == 2
    assert queue.submit(any_ctx, w, task.assignment_id, box_answer("dog")).job_done
    run_work(any_ctx)
    done = jobs.job_summary(any_ctx, SYSTEM, child.name)
    assert done.status == "Completed"
    lines = output_lines(done)
    assert len(lines) == 3 and all("animals" in line for line in lines)
    assert lines[:2] == output_lines(parent)[:2]  # already-labeled lines pass through unchanged
    d = jobs.describe_labeling_job(any_ctx, SYSTEM, child.name)
    assert d["LabelCounters"]["HumanLabeled"] == 1 and d["LabelCounters"]["Unlabeled"] == 0


def test_chain_new_attribute_relabels_all(any_ctx: Context, completed: Any) -> None:
    parent, _ = completed
    child = jobs.chain_labeling_job(any_ctx, SYSTEM, parent.name, "boxes-1-second")
    assert child.label_attribute == "boxes-1-second"  # console default from a Completed job: the new name
    assert child.already_labeled == 0 and child.counters.unlabeled == 3
    assert {(r.status, r.needed) for r in objects_of(any_ctx, child.job_id)} == {("open", 1)}
    with any_ctx.db.read() as conn:
        spec = json.loads(conn.execute(select(dbm.jobs.c.spec_json).where(dbm.jobs.c.id == child.job_id)).scalar_one())
    assert spec["ChainedFrom"] == {"LabelingJobName": "boxes-1", "LabelAttributeName": "animals"}
    assert spec["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"] == parent.output_manifest_uri


def test_chain_everything_labeled_completes_at_once(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="all-done", label_attribute="animals", n_images=2)
    work(any_ctx, worker_for(any_ctx, made.team_id), made.job_id, submit=2)
    child = jobs.chain_labeling_job(any_ctx, SYSTEM, "all-done", "all-done-again", label_attribute_name="animals")
    assert child.status == "InProgress"  # nothing to label: finishing it is due at once
    run_work(any_ctx)
    child = jobs.job_summary(any_ctx, SYSTEM, "all-done-again")
    assert child.status == "Completed" and child.already_labeled == 2 and child.progress == 1.0
    assert len(output_lines(child)) == 2


def test_chain_adjustment_of_boxes(any_ctx: Context, completed: Any) -> None:
    parent, w = completed
    with pytest.raises(SpecError) as err:
        jobs.chain_labeling_job(
            any_ctx, SYSTEM, parent.name, "adj-same", label_attribute_name="animals", task_type="AdjustmentBoundingBox"
        )
    assert any(p.field == "LabelAttributeName" and "different" in p.message for p in err.value.problems)
    adj = jobs.chain_labeling_job(any_ctx, SYSTEM, parent.name, "boxes-1-adjust", task_type="AdjustmentBoundingBox")
    assert adj.task_type == "AdjustmentBoundingBox" and adj.label_attribute == "boxes-1-adjust"
    assert adj.counters.unlabeled == 3
    with any_ctx.db.read() as conn:
        spec = json.loads(conn.execute(select(dbm.jobs.c.spec_json).where(dbm.jobs.c.id == adj.job_id)).scalar_one())
    human = spec["HumanTaskConfig"]
    assert human["PreHumanTaskLambdaArn"].endswith(":function:PRE-AdjustmentBoundingBox")
    assert human["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"].endswith(
        ":function:ACS-AdjustmentBoundingBox"
    )
    assert human["PreHumanTaskLambdaArn"].startswith("arn:aws:lambda:us-east-1:432418664414:")
    # annotators see the previous boxes
    task = queue.claim_next(any_ctx, w, adj.job_id)
    assert task is not None and task.task_type == "AdjustmentBoundingBox"
    assert task.object_idx == 0 and "animals" in task.line  # objects 0 and 1 were labeled, 2 declined
    assert task.previous is not None and task.previous["boundingBoxes"][0]["label"] == "cat"


def test_adjustment_keeps_the_original_labels(any_ctx: Context, completed: Any, any_job_factory: JobFactory) -> None:
    parent, _ = completed
    fewer = any_job_factory.write_labels("fewer", ["cat", "dog"])
    with pytest.raises(SpecError) as err:
        jobs.chain_labeling_job(
            any_ctx,
            SYSTEM,
            parent.name,
            "adj-fewer",
            task_type="AdjustmentBoundingBox",
            overrides={"LabelCategoryConfigS3Uri": str(fewer)},
        )
    assert any(p.field == "LabelCategoryConfigS3Uri" and "bird" in p.message for p in err.value.problems)
    more = any_job_factory.write_labels("more", ["cat", "dog", "bird", "fish"])
    ok = jobs.chain_labeling_job(
        any_ctx,
        SYSTEM,
        parent.name,
        "adj-more",
        task_type="AdjustmentBoundingBox",
        overrides={"LabelCategoryConfigS3Uri": str(more)},
    )
    assert ok.status == "InProgress"


def test_chain_allowed_only_from_final_states(any_ctx: Context, any_job_factory: JobFactory) -> None:
    running = any_job_factory.create(name="still-running", n_images=2).summary
    with pytest.raises(Conflict, match="InProgress"):
        jobs.chain_labeling_job(any_ctx, SYSTEM, running.name, "too-early")
    made = any_job_factory.create(name="to-stop", label_attribute="animals", n_images=3)
    work(any_ctx, worker_for(any_ctx, made.team_id), made.job_id, submit=1)
    jobs.stop_labeling_job(any_ctx, SYSTEM, "to-stop")
    run_work(any_ctx)
    child = jobs.chain_labeling_job(any_ctx, SYSTEM, "to-stop", "to-stop-2")
    assert child.label_attribute == "animals"  # console default from a Stopped job: the old attribute
    made = any_job_factory.create(name="to-fail", label_attribute="animals", n_images=2)
    work(any_ctx, worker_for(any_ctx, made.team_id, "w2@example.test"), made.job_id, submit=1)
    failed = jobs.fail_labeling_job(any_ctx, SYSTEM, "to-fail", "broken bucket")
    assert len(output_lines(failed)) == 1  # the answered object
    again = jobs.chain_labeling_job(any_ctx, SYSTEM, "to-fail", "to-fail-2", label_attribute_name="fresh")
    # a Failed (or Stopped) job chains from its full-length intermediate manifest: both lines are relabeled
    full = failed.output_manifest_uri.replace("/manifests/output/", "/manifests/intermediate/1/")
    assert again.status == "InProgress" and again.counters.unlabeled == 2 and again.input_manifest_uri == full
    Path(full).unlink()
    with pytest.raises(Conflict, match="no output manifest"):
        jobs.chain_labeling_job(any_ctx, SYSTEM, "to-fail", "to-fail-3")


def test_chain_task_type_must_fit(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="classes-1", task_type="ImageClassification", n_images=1)
    w = worker_for(any_ctx, made.team_id)
    work(any_ctx, w, made.job_id, submit=1, answer={"crowd-image-classifier": {"label": "dog"}})
    for bad in ("AdjustmentBoundingBox", "BoundingBox", "Polygon"):
        with pytest.raises(SpecError) as err:
            jobs.chain_labeling_job(any_ctx, SYSTEM, "classes-1", f"classes-{bad.lower()}", task_type=bad)
        assert "HumanTaskConfig.TaskType" in {p.field for p in err.value.problems}
    child = jobs.chain_labeling_job(any_ctx, SYSTEM, "classes-1", "classes-2", label_attribute_name="classes-1")
    run_work(any_ctx)
    child = jobs.job_summary(any_ctx, SYSTEM, "classes-2")
    assert child.task_type == "ImageClassification" and child.status == "Completed"  # the one line was labeled


def test_clone_copies_setup_and_input(any_ctx: Context, any_job_factory: JobFactory) -> None:
    src = any_job_factory.create(
        name="orig", n_images=3, workers_per_object=2, extra_human={"Instructions": {"Short": "Box animals"}}
    ).summary
    clone = jobs.clone_labeling_job(any_ctx, SYSTEM, "orig", "orig-copy")
    assert clone.origin == "clone" and clone.parent_job_id == src.job_id
    assert clone.input_manifest_uri == src.input_manifest_uri
    assert clone.label_attribute == src.label_attribute and clone.workers_per_object == 2
    assert clone.counters.unlabeled == 3 and clone.status == "InProgress"
    d_src = jobs.describe_labeling_job(any_ctx, SYSTEM, "orig")
    d_new = jobs.describe_labeling_job(any_ctx, SYSTEM, "orig-copy")
    assert d_new["HumanTaskConfig"] == d_src["HumanTaskConfig"]
    assert d_new["JobReferenceCode"] != d_src["JobReferenceCode"]
    changed = jobs.clone_labeling_job(
        any_ctx, SYSTEM, "orig", "orig-3", overrides={"HumanTaskConfig": {"NumberOfHumanWorkersPerDataObject": 5}}
    )
    assert changed.workers_per_object == 5
    with pytest.raises(SpecError) as err:
        jobs.clone_labeling_job(any_ctx, SYSTEM, "orig", "ORIG-COPY")
    assert "LabelingJobName" in {p.field for p in err.value.problems}
    jobs.stop_labeling_job(any_ctx, SYSTEM, "orig")  # any status can be cloned
    run_work(any_ctx)
    assert jobs.clone_labeling_job(any_ctx, SYSTEM, "orig", "orig-4").status == "InProgress"
