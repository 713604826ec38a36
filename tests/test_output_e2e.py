"""Ground Truth output end to end, on SQLite and PostgreSQL: jobs made by ``gtcore.jobs.api``, answered by several
workers through ``gtcore.queue.claim`` (claim, submit, decline), finished by the queue, stopped, chained and adjusted;
every ``output.manifest`` is read back by ``gtcore.manifests.augmented`` and compared with hand-computed expectations.

Also: StoppingConditions stop a job through the queue, the intermediate manifest is kept up to date while a job
runs (and a store failure never fails a submit), and jobs older than 30 days fail at the next claim.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from gtcore.consolidation.classification import dawid_skene
from gtcore.consolidation.multilabel import multilabel_em
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import TaskError
from gtcore.jobs import api as jobs
from gtcore.jobs import due
from gtcore.manifests.augmented import AugmentedManifest, read_augmented
from gtcore.manifests.label_values import boxes_of, classes_of
from gtcore.output import writer as output
from gtcore.queue import api as queue
from gtcore.work.handlers import maintenance
from tests.fixtures.core import make_user, run_work
from tests.fixtures.jobs import JobFactory

SYSTEM = Actor.system_actor()
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
BOX_META_KEYS = ["objects", "class-map", "type", "human-annotated", "creation-date", "job-name"]


# --- helpers -----------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def every_intermediate(monkeypatch: pytest.MonkeyPatch) -> None:
    """No minimum interval between intermediate rewrites (test_intermediate_interval checks the interval)."""
    monkeypatch.setattr(due, "INTERMEDIATE_MIN_SECONDS", 0.0)


def submit(ctx: Context, worker: Actor, assignment_id: int, answer: dict[str, Any]) -> queue.SubmitResult:
    """Submit, then run the background work it made due (as the app's worker would, right after)."""
    result = queue.submit(ctx, worker, assignment_id, answer)
    run_work(ctx)
    return result


def crew(ctx: Context, team_id: int, n: int, tag: str = "w") -> list[Actor]:
    return [make_user(ctx.db, f"{tag}{k}@example.test", ("worker",), (team_id,)) for k in range(n)]


def boxes(*items: tuple[str, float, float, float, float], w: int = 64, h: int = 48) -> dict[str, Any]:
    """crowd-bounding-box answerContent from (label, left, top, width, height) tuples."""
    drawn = [{"height": bh, "label": lab, "left": x, "top": y, "width": bw} for lab, x, y, bw, bh in items]
    return {"boundingBox": {"boundingBoxes": drawn, "inputImageProperties": {"height": h, "width": w}}}


def pick(label: str) -> dict[str, Any]:
    return {"crowd-image-classifier": {"label": label}}


def picks(*labels: str) -> dict[str, Any]:
    return {"crowd-image-classifier-multi-select": {"labels": list(labels)}}


def drain(ctx: Context, worker: Actor, job_id: int, answer_for: Any) -> list[queue.SubmitResult]:  # noqa: D103
    """The worker claims and submits until the job offers him nothing (or is over); ``answer_for(task)`` answers."""
    results: list[queue.SubmitResult] = []
    while not (results and results[-1].job_done) and (task := queue.claim_next(ctx, worker, job_id)) is not None:
        results.append(submit(ctx, worker, task.assignment_id, answer_for(task)))
    return results


def noting(offered: list[int], answer: dict[str, Any]) -> Any:
    """An ``answer_for`` for ``drain`` giving the same answer to every task and noting the objects offered."""

    def answer_for(task: queue.Task) -> dict[str, Any]:
        offered.append(task.object_idx)
        return answer

    return answer_for


def job_row(ctx: Context, job_id: int) -> Any:
    with ctx.db.read() as conn:
        return conn.execute(select(dbm.jobs).where(dbm.jobs.c.id == job_id)).one()


def read_back(ctx: Context, uri: str) -> AugmentedManifest:
    manifest = read_augmented(ctx.storage, uri)
    assert manifest.problems == []
    text = Path(uri).read_text(encoding="utf-8")
    assert text.endswith("\n") and ", " not in text and '": ' not in text  # compact JSON, trailing newline
    return manifest


def without_date(record: dict[str, Any], attr: str) -> dict[str, Any]:
    """A copy of the record with ``<attr>-metadata.creation-date`` checked (microseconds, no zone) and removed."""
    out = json.loads(json.dumps(record))
    meta = out.get(f"{attr}-metadata")
    if meta is not None:
        assert DATE_RE.match(meta.pop("creation-date")), meta
    return out


def box_meta(job: str, confidences: list[float], class_map: dict[str, str]) -> dict[str, Any]:
    return {
        "objects": [{"confidence": c} for c in confidences],
        "class-map": class_map,
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "job-name": "labeling-job/" + job.lower(),
    }


# --- consolidated output of three workers per object, through the queue -------------------------------------------


def test_boxes_three_workers_through_the_queue(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="Birds-E2E", n_images=3, workers_per_object=3, label_attribute="animals")
    workers = crew(any_ctx, made.team_id, 3)
    # object 0: three cats slightly apart (+ a dog only worker 0 saw); object 1: a dog by two of three; 2: nothing
    drawn = {
        0: [
            boxes(("cat", 10, 5, 30, 40), ("dog", 50, 30, 10, 10)),
            boxes(("cat", 12, 5, 30, 40)),
            boxes(("cat", 14, 5, 30, 40)),
        ],
        1: [boxes(("dog", 5, 5, 20, 20)), boxes(("dog", 5, 5, 20, 20)), boxes()],
        2: [boxes(), boxes(), boxes()],
    }
    results = []
    for k, w in enumerate(workers):
        results += drain(any_ctx, w, made.job_id, lambda t, k=k: drawn[t.object_idx][k])
    assert len(results) == 9 and [r.job_done for r in results] == [False] * 8 + [True]
    row = job_row(any_ctx, made.job_id)
    assert row.status == "Completed"

    manifest = read_back(any_ctx, output.output_manifest_uri(row))
    got = [without_date(r, "animals") for r in manifest.records]
    # IoU of cats at left 10/12/14 (30x40): 10-12 and 12-14 overlap 28x40 -> 1120/1280; 10-14 26x40 -> 1040/1360
    mean_iou = (1120 / 1280 + 1040 / 1360 + 1120 / 1280) / 3
    size = [{"width": 64, "height": 48, "depth": 3}]
    assert got[0] == {
        "source-ref": str(made.images[0]),
        "animals": {
            "image_size": size,
            "annotations": [{"class_id": 0, "top": 5, "left": 12, "height": 40, "width": 30}],
        },
        "animals-metadata": box_meta("Birds-E2E", [round(mean_iou, 2)], {"0": "cat"}),
    }
    assert got[1] == {
        "source-ref": str(made.images[1]),
        "animals": {
            "image_size": size,
            "annotations": [{"class_id": 1, "top": 5, "left": 5, "height": 20, "width": 20}],
        },
        "animals-metadata": box_meta("Birds-E2E", [0.67], {"1": "dog"}),  # 2 of 3 workers, IoU 1
    }
    assert got[2] == {
        "source-ref": str(made.images[2]),
        "animals": {"image_size": size, "annotations": []},
        "animals-metadata": box_meta("Birds-E2E", [], {}),
    }
    assert list(manifest.records[0]["animals-metadata"]) == BOX_META_KEYS  # 2022+ key order
    assert [(b.class_name, b.left, b.confidence) for b in boxes_of(manifest.records[0], "animals")] == [
        ("cat", 12, 0.84)
    ]
    (attr,) = manifest.attributes
    assert (attr.name, attr.output_type, attr.count) == ("animals", "groundtruth/object-detection", 3)
    # the rest of the tree: one file per object with its 3 answers, the consolidation request naming all three
    folder = Path(output.job_folder(row))
    for idx in range(3):
        (only,) = (folder / f"annotations/worker-response/iteration-1/{idx}").iterdir()
        answers = json.loads(only.read_text())["answers"]
        assert len({a["workerId"] for a in answers}) == 3
    # a request per intermediate batch (each object as it completed: the last one's rewrite ran before the
    # finish) and the final one covering all three; names are timestamps, never suffixed
    payloads = [json.loads(p.read_text()) for p in (folder / output.REQUEST_DIR).iterdir()]
    assert sorted(len(p) for p in payloads) == [1, 1, 1, 3]
    names = sorted(p.name for p in (folder / output.REQUEST_DIR).iterdir())
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d\.json", n) for n in names)
    assert names == sorted(p.name for p in (folder / output.RESPONSE_DIR).iterdir())
    (payload,) = [p for p in payloads if len(p) == 3]
    assert [p["datasetObjectId"] for p in payload] == ["0", "1", "2"]
    assert {a["workerId"] for a in payload[0]["annotations"]} == {w.worker_id for w in workers}
    inter = read_back(any_ctx, output.intermediate_manifest_uri(row))
    assert inter.records == manifest.records  # a Completed job: the intermediate equals the final


def test_classification_three_workers_through_the_queue(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="pets-ic", n_images=3, workers_per_object=3, task_type="ImageClassification",
                                  label_attribute="pet")  # fmt: skip
    workers = crew(any_ctx, made.team_id, 3)
    votes = {0: ["dog", "dog", "dog"], 1: ["cat", "cat", "bird"], 2: ["bird", "bird", "bird"]}
    for k, w in enumerate(workers):
        drain(any_ctx, w, made.job_id, lambda t, k=k: pick(votes[t.object_idx][k]))
    row = job_row(any_ctx, made.job_id)
    assert row.status == "Completed"
    manifest = read_back(any_ctx, output.output_manifest_uri(row))
    classes = {"cat": 0, "dog": 1, "bird": 2}
    em = dawid_skene([[(w.worker_id, classes[v]) for w, v in zip(workers, votes[i], strict=True)] for i in range(3)],
                     3)  # fmt: skip
    expected_labels = [1, 0, 2]  # dog, cat (2 of 3), bird
    assert [r.label for r in em] == expected_labels
    # unanimous: near the cap. Issue 17's EM gives a 3-object job's unanimous bird 0.94 (worker c's one error
    # named bird, so the model keeps some doubt); it was the cap 0.95 exactly before
    assert 0.9 <= em[2].confidence <= em[0].confidence == 0.95
    for i, record in enumerate(manifest.records):
        assert without_date(record, "pet") == {
            "source-ref": str(made.images[i]),
            "pet": expected_labels[i],
            "pet-metadata": {
                "class-name": ["cat", "dog", "bird"][expected_labels[i]],
                "job-name": "labeling-job/pets-ic",
                "confidence": em[i].confidence,
                "type": "groundtruth/image-classification",
                "human-annotated": "yes",
            },
        }
        (c,) = classes_of(record, "pet")
        assert (c.class_id, c.confidence) == (expected_labels[i], em[i].confidence)
    assert 0.5 <= em[1].confidence <= 0.95


def test_multilabel_three_workers_through_the_queue(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="pets-ml", n_images=2, workers_per_object=3,
                                  task_type="ImageMultiClassification", label_attribute="tags")  # fmt: skip
    workers = crew(any_ctx, made.team_id, 3)
    chosen = {0: [["cat", "dog"], ["cat"], ["bird", "cat"]], 1: [["dog"], ["dog"], []]}
    for k, w in enumerate(workers):
        drain(any_ctx, w, made.job_id, lambda t, k=k: picks(*chosen[t.object_idx][k]))
    row = job_row(any_ctx, made.job_id)
    assert row.status == "Completed"
    records = [without_date(r, "tags") for r in read_back(any_ctx, output.output_manifest_uri(row)).records]
    meta = {"type": "groundtruth/image-classification-multilabel", "job-name": "labeling-job/pets-ml",
            "human-annotated": "yes"}  # fmt: skip
    # issue 17: per-label EM over the job (it beat per-label agreement on every simulated crowd); before, every
    # label chosen by at least one worker was kept (cat 0.95, dog 0.33, bird 0.33 on object 0)
    classes = {"cat": 0, "dog": 1, "bird": 2}
    em = multilabel_em([[(w.worker_id, [classes[x] for x in chosen[i][k]]) for k, w in enumerate(workers)]
                        for i in range(2)], 3)  # fmt: skip
    assert [r.labels for r in em] == [[0], [1]]  # cat (all three), dog (2 of 3); the lone picks are dropped
    assert 0.9 <= em[0].confidence[0] <= 0.95 and 0.5 <= em[1].confidence[1] < 0.95
    assert records[0] == {
        "source-ref": str(made.images[0]),
        "tags": [0],
        "tags-metadata": {"class-map": {"0": "cat"}, "confidence-map": {"0": em[0].confidence[0]}, **meta},
    }
    assert records[1] == {
        "source-ref": str(made.images[1]),
        "tags": [1],
        "tags-metadata": {"class-map": {"1": "dog"}, "confidence-map": {"1": em[1].confidence[1]}, **meta},
    }
    assert list(records[0]["tags-metadata"]) == ["class-map", "confidence-map", "type", "job-name", "human-annotated"]


# --- stop, chain (same and new attribute), adjustment -------------------------------------------------------------


def _stopped_3_of_10(ctx: Context, factory: JobFactory) -> tuple[Any, Actor]:
    made = factory.create(name="stop-me", n_images=10, workers_per_object=1, label_attribute="animals")
    (w,) = crew(ctx, made.team_id, 1)
    for k in range(3):
        task = queue.claim_next(ctx, w, made.job_id)
        assert task is not None and task.object_idx == k
        submit(ctx, w, task.assignment_id, boxes(("bird", 1 + k, 2, 10, 10)))
    held = queue.claim_next(ctx, w, made.job_id)  # a task in the worker's hands when the job stops
    assert held is not None
    stopped = jobs.stop_labeling_job(ctx, SYSTEM, made.name)
    assert stopped.status == "Stopping"  # the background workers finish it
    run_work(ctx)
    assert job_row(ctx, made.job_id).status == "Stopped"
    with pytest.raises(TaskError, match="Stopped"):
        submit(ctx, w, held.assignment_id, boxes(("bird", 1, 1, 5, 5)))
    with pytest.raises(TaskError, match="no more tasks"):
        queue.claim_next(ctx, w, made.job_id)
    return made, w


def test_stop_with_3_of_10_answered(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made, _ = _stopped_3_of_10(any_ctx, any_job_factory)
    row = job_row(any_ctx, made.job_id)
    assert row.status == "Stopped" and row.ended_at is not None
    final = read_back(any_ctx, output.output_manifest_uri(row))
    assert [r["source-ref"] for r in final.records] == [str(p) for p in made.images[:3]]
    assert [boxes_of(r, "animals")[0].left for r in final.records] == [1, 2, 3]
    full = read_back(any_ctx, output.intermediate_manifest_uri(row))
    assert len(full.records) == 10 and [("animals" in r) for r in full.records] == [True] * 3 + [False] * 7
    assert full.records[3:] == [{"source-ref": str(p)} for p in made.images[3:]]  # unlabeled: as in the input
    summary = jobs.describe_labeling_job(any_ctx, SYSTEM, made.name)
    assert summary["LabelCounters"]["HumanLabeled"] == 3 and summary["LabelCounters"]["Unlabeled"] == 7


def test_chain_same_attribute_from_a_stopped_job_labels_only_the_rest(
    any_ctx: Context, any_job_factory: JobFactory
) -> None:
    made, w = _stopped_3_of_10(any_ctx, any_job_factory)
    child = jobs.chain_labeling_job(any_ctx, SYSTEM, made.name, "stop-me-more")
    assert child.label_attribute == "animals"  # the console default from a Stopped job
    assert child.total_objects == 10 and child.already_labeled == 3 and child.counters.unlabeled == 7
    offered: list[int] = []
    drain(any_ctx, w, child.job_id, noting(offered, boxes(("dog", 9, 9, 9, 9))))
    assert offered == list(range(3, 10))  # only the objects the stopped job left unlabeled
    done = jobs.job_summary(any_ctx, SYSTEM, child.name)
    assert done.status == "Completed"
    final = read_back(any_ctx, done.output_manifest_uri).records
    assert [r["source-ref"] for r in final] == [str(p) for p in made.images]  # all ten, in input order
    parent_lines = read_back(any_ctx, output.output_manifest_uri(job_row(any_ctx, made.job_id))).records
    assert final[:3] == parent_lines  # already-labeled lines pass through unchanged
    assert {r["animals-metadata"]["job-name"] for r in final[3:]} == {"labeling-job/stop-me-more"}
    assert all(boxes_of(r, "animals")[0].class_name == "dog" for r in final[3:])


def test_chain_new_attribute_relabels_everything(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="first-pass", n_images=3, workers_per_object=1, label_attribute="animals")
    (w,) = crew(any_ctx, made.team_id, 1)
    drain(any_ctx, w, made.job_id, lambda t: boxes(("cat", 1, 1, 10, 10)))
    parent = jobs.job_summary(any_ctx, SYSTEM, made.name)
    assert parent.status == "Completed"
    child = jobs.chain_labeling_job(any_ctx, SYSTEM, made.name, "second-pass")
    assert child.label_attribute == "second-pass" and child.counters.unlabeled == 3 and child.already_labeled == 0
    offered: list[int] = []
    drain(any_ctx, w, child.job_id, noting(offered, boxes(("bird", 2, 2, 20, 20))))
    assert offered == [0, 1, 2]
    final = read_back(any_ctx, jobs.job_summary(any_ctx, SYSTEM, child.name).output_manifest_uri)
    assert [a.name for a in final.attributes] == ["animals", "second-pass"]
    for record in final.records:
        assert list(record)[:3] == ["source-ref", "animals", "animals-metadata"]  # the first pair kept, in place
        assert boxes_of(record, "animals")[0].class_name == "cat"
        assert boxes_of(record, "second-pass")[0].class_name == "bird"


def test_adjustment_chain_unadjusted_and_adjusted(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="to-adjust", n_images=2, workers_per_object=2, label_attribute="animals")
    pair = crew(any_ctx, made.team_id, 2)
    # two workers, slightly different boxes: the averages are unrounded floats like Ground Truth's
    for k, w in enumerate(pair):
        drain(any_ctx, w, made.job_id, lambda t, k=k: boxes(("cat", 10.3 + 0.1 * k, 20.1, 30, 25.2 + 0.1 * k),
                                                             ("dog", 40, 5, 12.7, 9)))  # fmt: skip
    parent_row = job_row(any_ctx, made.job_id)
    assert parent_row.status == "Completed"
    parent_text = Path(output.output_manifest_uri(parent_row)).read_text(encoding="utf-8").splitlines()
    original = [json.loads(x)["animals"] for x in parent_text]
    assert original[0]["annotations"][0]["left"] not in (10.3, 10.4)  # really an average
    adj = jobs.chain_labeling_job(any_ctx, SYSTEM, made.name, "to-adjust-fix", task_type="AdjustmentBoundingBox",
                                  overrides={"HumanTaskConfig": {"NumberOfHumanWorkersPerDataObject": 1}})  # fmt: skip
    assert adj.task_type == "AdjustmentBoundingBox" and adj.counters.unlabeled == 2
    w = pair[0]
    seen: dict[int, dict[str, Any]] = {}

    def adjust(task: queue.Task) -> dict[str, Any]:
        assert task.previous is not None  # the annotator sees the previous job's boxes on the canvas
        seen[task.object_idx] = task.previous
        shown = [dict(b) for b in task.previous["boundingBoxes"]]
        if task.object_idx == 1:
            shown[0]["left"] = shown[0]["left"] + 6  # moves the cat
        return {"boundingBox": {"boundingBoxes": shown, "inputImageProperties": task.previous["inputImageProperties"]}}

    results = drain(any_ctx, w, adj.job_id, adjust)
    assert [r.job_done for r in results] == [False, True]
    assert seen[0]["attribute"] == "animals"
    assert [(b["label"], b["left"]) for b in seen[0]["boundingBoxes"]] == [
        ("cat", original[0]["annotations"][0]["left"]), ("dog", 40)]  # fmt: skip
    row = job_row(any_ctx, adj.job_id)
    text = Path(output.output_manifest_uri(row)).read_text(encoding="utf-8").splitlines()
    final = read_back(any_ctx, output.output_manifest_uri(row)).records
    # unchanged: status unadjusted, the boxes byte-identical to the original's
    original_text = parent_text[0].split('"animals":', 1)[1].split(',"animals-metadata"', 1)[0]
    assert f'"to-adjust-fix":{original_text},' in text[0]
    assert final[0]["to-adjust-fix"] == original[0]
    meta0 = final[0]["to-adjust-fix-metadata"]
    assert meta0["adjustment-status"] == "unadjusted" and meta0["type"] == "groundtruth/object-detection"
    assert meta0["class-map"] == {"0": "cat", "1": "dog"} and len(meta0["objects"]) == 2
    # changed: adjusted, the moved box
    meta1 = final[1]["to-adjust-fix-metadata"]
    assert meta1["adjustment-status"] == "adjusted"
    moved = boxes_of(final[1], "to-adjust-fix")
    assert [(b.class_name, b.left) for b in moved] == [("cat", original[1]["annotations"][0]["left"] + 6), ("dog", 40)]
    for k in (0, 1):  # the original attribute untouched
        assert final[k]["animals"] == original[k]
    adj_attr = next(a for a in read_back(any_ctx, output.output_manifest_uri(row)).attributes
                    if a.name == "to-adjust-fix")  # fmt: skip
    assert adj_attr.adjustment


# --- StoppingConditions, intermediate manifest while running, overdue jobs ---------------------------------------


def test_max_human_labeled_object_count_stops_the_job(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="capped", n_images=5, workers_per_object=1, label_attribute="animals",
                                  StoppingConditions={"MaxHumanLabeledObjectCount": 2})  # fmt: skip
    (w,) = crew(any_ctx, made.team_id, 1)
    first = queue.claim_next(any_ctx, w, made.job_id)
    assert first is not None
    assert not submit(any_ctx, w, first.assignment_id, boxes(("cat", 1, 1, 5, 5))).job_done
    assert job_row(any_ctx, made.job_id).status == "InProgress"
    second = queue.claim_next(any_ctx, w, made.job_id)
    assert second is not None
    submit(any_ctx, w, second.assignment_id, boxes(("dog", 2, 2, 5, 5)))
    row = job_row(any_ctx, made.job_id)
    assert row.status == "Stopped"
    final = read_back(any_ctx, output.output_manifest_uri(row)).records
    assert len(final) == 2 and [boxes_of(r, "animals")[0].class_name for r in final] == ["cat", "dog"]
    with pytest.raises(TaskError, match="no more tasks"):
        queue.claim_next(any_ctx, w, made.job_id)


def test_max_percentage_labeled_counts_declined_objects_out(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="pct", n_images=4, workers_per_object=1, label_attribute="animals",
                                  StoppingConditions={"MaxPercentageOfInputDatasetLabeled": 50})  # fmt: skip
    (w,) = crew(any_ctx, made.team_id, 1)
    task = queue.claim_next(any_ctx, w, made.job_id)
    assert task is not None
    queue.decline(any_ctx, w, task.assignment_id, "blurred")  # failed: not labeled
    for _ in range(2):
        task = queue.claim_next(any_ctx, w, made.job_id)
        assert task is not None
        submit(any_ctx, w, task.assignment_id, boxes(("cat", 1, 1, 5, 5)))
    row = job_row(any_ctx, made.job_id)
    assert row.status == "Stopped"  # 2 of 4 labeled = 50 %
    assert len(read_back(any_ctx, output.output_manifest_uri(row)).records) == 2


def test_intermediate_manifest_while_running(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="running", n_images=4, workers_per_object=2, label_attribute="animals")
    a, b = crew(any_ctx, made.team_id, 2)
    row = job_row(any_ctx, made.job_id)
    inter = Path(output.intermediate_manifest_uri(row))
    ta = queue.claim_next(any_ctx, a, made.job_id)
    assert ta is not None
    submit(any_ctx, a, ta.assignment_id, boxes(("cat", 4, 4, 10, 10)))
    assert not inter.exists()  # one answer of two: nothing completed yet
    tb = queue.claim_next(any_ctx, b, made.job_id)
    assert tb is not None and tb.object_idx == ta.object_idx == 0
    result = submit(any_ctx, b, tb.assignment_id, boxes(("cat", 6, 4, 10, 10)))
    assert result.object_done and not result.job_done
    lines = read_back(any_ctx, str(inter)).records
    assert len(lines) == 4 and boxes_of(lines[0], "animals")[0].left == 5
    assert lines[1:] == [{"source-ref": str(p)} for p in made.images[1:]]
    assert not Path(output.output_manifest_uri(row)).exists()
    # the store fails: the submit still stands, and the next completed object writes the manifest again
    inter.parent.rename(inter.parent.with_name("moved"))
    inter.parent.parent.joinpath("1").write_text("not a folder")
    for w in (a, b):
        t = queue.claim_next(any_ctx, w, made.job_id)
        assert t is not None and t.object_idx == 1
        submit(any_ctx, w, t.assignment_id, boxes(("dog", 1, 1, 8, 8)))  # stands though the store fails
    assert job_row(any_ctx, made.job_id).status == "InProgress" and not inter.exists()
    inter.parent.unlink()
    with any_ctx.db.write() as conn:  # the failed write is retried after its backoff (2 s): make it due now
        conn.execute(update(dbm.work_items).where(dbm.work_items.c.status == "pending").values(run_after=dbm.now()))
    for w in (a, b):
        t = queue.claim_next(any_ctx, w, made.job_id)
        assert t is not None and t.object_idx == 2
        submit(any_ctx, w, t.assignment_id, boxes(("bird", 1, 1, 8, 8)))
    lines = read_back(any_ctx, str(inter)).records
    assert [boxes_of(x, "animals")[0].class_name if "animals" in x else None for x in lines] == [
        "cat", "dog", "bird", None]  # fmt: skip


def test_overdue_job_fails_at_the_next_sweep(any_ctx: Context, any_job_factory: JobFactory) -> None:
    made = any_job_factory.create(name="too-old", n_images=2, label_attribute="animals")
    (w,) = crew(any_ctx, made.team_id, 1)
    with any_ctx.db.write() as conn:
        conn.execute(update(dbm.jobs).where(dbm.jobs.c.id == made.job_id)
                     .values(created_at=dbm.now() - 31 * 86_400))  # fmt: skip
    assert maintenance.sweep(any_ctx)["JobsFailedOverdue"] == ["too-old"]
    run_work(any_ctx)
    with pytest.raises(TaskError, match="Failed"):
        queue.claim_next(any_ctx, w, made.job_id)
    row = job_row(any_ctx, made.job_id)
    assert row.status == "Failed" and "30 days" in row.failure_reason
    assert Path(output.intermediate_manifest_uri(row)).exists()  # a Failed job can be chained to carry on


def test_intermediate_interval_defers_rewrites(
    any_ctx: Context, any_job_factory: JobFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intermediate manifest is written at most every INTERMEDIATE_MIN_SECONDS per job: the first completed
    object makes the rewrite due after that interval; objects completed meanwhile add nothing and are in it."""
    made = any_job_factory.create(name="busy", n_images=4, workers_per_object=1, label_attribute="animals")
    (w,) = crew(any_ctx, made.team_id, 1)
    inter = Path(output.intermediate_manifest_uri(job_row(any_ctx, made.job_id)))

    def labeled() -> list[bool]:
        return ["animals" in r for r in read_back(any_ctx, str(inter)).records]

    def one() -> None:
        task = queue.claim_next(any_ctx, w, made.job_id)
        assert task is not None
        submit(any_ctx, w, task.assignment_id, boxes(("cat", 1, 1, 5, 5)))

    monkeypatch.setattr(due, "INTERMEDIATE_MIN_SECONDS", 3600.0)
    one()
    one()
    assert not inter.exists()  # due in an hour
    assert run_work_at(any_ctx, dbm.now() + 3601) >= 1
    assert labeled() == [True, True, False, False]  # one write with both objects
    one()
    assert labeled() == [True, True, False, False]  # the next one waits for its interval again
    run_work_at(any_ctx, dbm.now() + 3601)
    assert labeled() == [True, True, True, False]


def run_work_at(ctx: Context, now: float) -> int:
    from gtcore.work import runner

    return runner.run_until_idle(ctx, now=now)


# --- format: key for key (and in key order) like Ground Truth's newest real files ----------------------------------


def _shape(value: Any, attr: str) -> Any:
    """The structure of a manifest line: keys in order (the label attribute renamed), leaf types (numbers as one)."""
    if isinstance(value, dict):
        return [(("ATTR" + k[len(attr) :]) if k.startswith(attr) else k, _shape(v, attr)) for k, v in value.items()]
    if isinstance(value, list):
        return ["list", _shape(value[0], attr)] if value else ["list"]
    return "number" if type(value) in (int, float) else type(value).__name__


@pytest.mark.parametrize(
    "real, task_type, attr",
    [
        ("bbox-birds-5workers-consolidated/sample_output.manifest", "BoundingBox", "category"),
        ("ic-vehicles-2023/output.manifest", "ImageClassification", "vehicle-labeling-demo"),
    ],
)
def test_queue_output_has_the_keys_and_key_order_of_real_files(
    realdata: Path, any_ctx: Context, any_job_factory: JobFactory, real: str, task_type: str, attr: str
) -> None:
    theirs = json.loads((realdata / real).read_text(encoding="utf-8").splitlines()[0])
    made = any_job_factory.create(name="parity-e2e", n_images=1, workers_per_object=2, task_type=task_type,
                                  label_attribute="mine")  # fmt: skip
    for k, w in enumerate(crew(any_ctx, made.team_id, 2)):
        answer = boxes(("cat", 10 + k, 5, 30, 20)) if task_type == "BoundingBox" else pick("dog")
        drain(any_ctx, w, made.job_id, lambda t, a=answer: a)
    (ours,) = read_back(any_ctx, output.output_manifest_uri(job_row(any_ctx, made.job_id))).records
    assert _shape(ours, "mine") == _shape(theirs, attr)


def test_intermediate_step_mark_is_shared_by_every_worker(
    any_ctx: Context, any_job_factory: JobFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A large job's intermediate manifest is rewritten once per 1 % step whichever worker runs it: the mark is in
    the job row (it was remembered per process, so each worker wrote every step again)."""
    from gtcore.jobs import settling
    from tests.fixtures.core import make_settings

    monkeypatch.setattr(output, "INTERMEDIATE_SMALL_JOB", 2)  # "large" from 3 objects: steps of 1 % apply
    made = any_job_factory.create(name="steps", n_images=4, workers_per_object=1, label_attribute="animals")
    (w,) = crew(any_ctx, made.team_id, 1)
    task = queue.claim_next(any_ctx, w, made.job_id)
    assert task is not None
    queue.submit(any_ctx, w, task.assignment_id, boxes(("cat", 1, 1, 5, 5)))  # 1 of 4 settled: step 25
    assert settling.write_intermediate_if_due(any_ctx, made.job_id) is not None
    other = Context.from_settings(make_settings(tmp_path, database_url=any_ctx.db.url))  # another worker process
    try:
        assert settling.write_intermediate_if_due(other, made.job_id) is None  # step 25 is written already
        assert job_row(any_ctx, made.job_id).intermediate_step == 25
        task = queue.claim_next(any_ctx, w, made.job_id)
        assert task is not None
        queue.submit(any_ctx, w, task.assignment_id, boxes(("dog", 1, 1, 5, 5)))  # step 50: due again, anyone
        assert settling.write_intermediate_if_due(other, made.job_id) is not None
        assert settling.write_intermediate_if_due(any_ctx, made.job_id) is None
        assert job_row(any_ctx, made.job_id).intermediate_step == 50
        for k in range(2):  # the last two objects: every object settled, the finish writes the manifest instead
            task = queue.claim_next(any_ctx, w, made.job_id)
            assert task is not None
            queue.submit(any_ctx, w, task.assignment_id, boxes(("dog", 1, 1, 5 + k, 5)))
        assert settling.write_intermediate_if_due(other, made.job_id) is None
        assert job_row(any_ctx, made.job_id).intermediate_step == 50
    finally:
        other.db.dispose()
