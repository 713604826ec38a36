"""Automated data labeling end to end on a small digits set (GT_AUTOLABEL_MIN_OBJECTS lowered for CI): the real
create-job API, simulated annotators through the real queue, the real background runner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from gtcore.autolabel import batches, models
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import SpecError
from gtcore.jobs import actions as jobactions
from gtcore.jobs import api as jobs
from gtcore.manifests.sample_digits import DIGIT_LABELS
from gtcore.queue import api as queue
from gtcore.work import runner
from tests.fixtures import simulate
from tests.fixtures.autolabel import AutoWorld

SYSTEM = Actor.system_actor()


def _describe(w: AutoWorld, job_id: int) -> dict:
    return jobs.describe_labeling_job(w.ctx, SYSTEM, w.name(job_id))


def _iterations(ctx: Context, job_id: int) -> list:
    it = dbm.autolabel_iterations
    with ctx.db.read() as c:
        return list(c.execute(select(it).where(it.c.job_id == job_id).order_by(it.c.iteration)))


def _lines(w: AutoWorld, job_id: int) -> list[dict]:
    uri = _describe(w, job_id)["LabelingJobOutput"]["OutputDatasetS3Uri"]
    return [json.loads(x) for x in w.ctx.storage.read_text(uri).splitlines()]


def test_held_objects_wait_for_the_loop_then_a_probe_of_ten(auto_world: AutoWorld) -> None:
    w = auto_world
    job = w.create("classification", 120)
    assert queue.claim_next(w.ctx, w.workers[0], job) is None  # everything is held until the loop releases it
    runner.run_until_idle(w.ctx, max_seconds=60)
    with w.ctx.db.read() as c:
        c_ = batches.counts(c, job)
    assert (c_.claimable, c_.held, c_.probe_total) == (10, 110, 10)
    assert queue.claim_next(w.ctx, w.workers[0], job) is not None


def test_classification_loop_end_to_end(any_auto_world: AutoWorld) -> None:
    w = any_auto_world
    job = w.create("classification", 400, max_concurrent=50)
    assert w.run(job, "classification", 400) == "Completed"
    d = _describe(w, job)
    counters = d["LabelCounters"]
    assert counters["MachineLabeled"] > 0 and counters["HumanLabeled"] + counters["MachineLabeled"] == 400
    its = _iterations(w.ctx, job)
    assert [i.released for i in its[:2]] == [10, 80 + 40]  # probe; validation (20 % of 400) + training batch (50-10)
    assert all(i.released <= 50 for i in its[2:])  # one batch of MaxConcurrentTaskCount a round
    trained = [i for i in its if i.model_id is not None]
    assert trained and trained[0].validation_count == 80
    for i in trained:  # every threshold rests on the lower bound, never the estimate
        if i.validation_threshold is not None:
            assert i.bound >= 0.95 and i.metric >= i.bound
        if i.finished_at is not None and i.threshold >= 0:
            # kept or raised by the check; or, with no validation threshold, found on validation + fresh labels
            assert i.validation_threshold is None or i.threshold >= i.validation_threshold
    labeled_by = {i.iteration: i.machine_labeled or 0 for i in its}
    _, truth = w.dataset("classification", 400)
    attr = w.name(job)
    with w.ctx.db.read() as c:  # every round's machine labels meet the target against the truth
        rows = c.execute(
            select(dbm.objects.c.al_iteration, dbm.objects.c.source_ref, dbm.objects.c.consolidated_json).where(
                dbm.objects.c.job_id == job, dbm.objects.c.status == "machine"
            )
        ).all()
    for n in {r.al_iteration for r in rows}:
        mine = [r for r in rows if r.al_iteration == n]
        right = sum(
            json.loads(r.consolidated_json)[f"{attr}-metadata"]["class-name"] == truth[Path(r.source_ref).name]
            for r in mine
        )
        assert len(mine) == labeled_by[n] and right / len(mine) >= 0.95, (n, right, len(mine))
    # output: machine lines exactly as Ground Truth writes them, and correct against the truth
    lines = _lines(w, job)
    machine = [x for x in lines if x[f"{attr}-metadata"]["human-annotated"] == "no"]
    assert len(machine) == counters["MachineLabeled"] and len(lines) == 400
    meta = machine[0][f"{attr}-metadata"]
    assert list(meta) == ["class-name", "job-name", "confidence", "type", "human-annotated", "creation-date"]
    assert meta["type"] == "groundtruth/image-classification" and 0 < meta["confidence"] <= 1
    right = sum(truth[Path(x["source-ref"]).name] == x[f"{attr}-metadata"]["class-name"] for x in machine)
    assert right / len(machine) >= 0.95
    # the folders of the reference (section 2) and the final model, checksummed
    folder = Path(d["LabelingJobOutput"]["OutputDatasetS3Uri"]).parents[2]
    n = next(i.iteration for i in trained if i.machine_labeled)
    for rel in (f"training/{n}/train.manifest", f"training/{n}/model.npz", f"training/{n}/metrics.json",
                f"activelearning/{n}/validation/input.manifest",
                f"activelearning/{n}/validation/auto_annotator_output.txt",
                f"activelearning/{n}/auto-annotation/auto_annotator_output.txt",
                f"inference/{n}/input.manifest", f"inference/{n}/output.jsonl"):  # fmt: skip
        assert (folder / rel).is_file(), rel
    first = (folder / f"activelearning/{n}/auto-annotation/auto_annotator_output.txt").read_text().splitlines()[0]
    token, rec = first.split(" ", 1)
    assert token.isdigit() and json.loads(rec)[f"{attr}-metadata"]["human-annotated"] == "no"
    responses = list((folder / "annotations/worker-response").rglob("*.json"))
    assert len(responses) == counters["HumanLabeled"]  # every human answer kept its worker-response file
    # iterations continue: the probe is iteration-1, training batch + validation set iteration-2, later batches on
    per_iteration = {p.parent.parent.name: 0 for p in responses}
    for p in responses:
        per_iteration[p.parent.parent.name] += 1
    assert per_iteration["iteration-1"] == 10 and per_iteration["iteration-2"] == 120
    later = sorted(int(k.split("-")[1]) for k in per_iteration if k not in ("iteration-1", "iteration-2"))
    assert later and later == list(range(3, 3 + len(later)))  # people labeled later batches: numbered on
    assert sum(per_iteration.values()) == counters["HumanLabeled"]
    final = d["LabelingJobOutput"]["FinalActiveLearningModelArn"]
    saved = models.find(w.ctx, final)
    assert saved is not None and models.load(w.ctx, saved) is not None
    assert labeled_by[saved.id and _model_iteration(w, saved.id)] > 0  # the final model labeled something
    for i in its[2:]:  # one intermediate manifest per round
        assert (folder / f"manifests/intermediate/{i.iteration}/output.manifest").is_file(), i.iteration


def _model_iteration(w: AutoWorld, model_id: int) -> int:
    m = dbm.autolabel_models
    with w.ctx.db.read() as c:
        return int(c.execute(select(m.c.iteration).where(m.c.id == model_id)).scalar_one())


def test_boxes_loop_end_to_end(auto_world: AutoWorld) -> None:
    w = auto_world
    job = w.create("boxes", 300, max_concurrent=50)
    assert w.run(job, "boxes", 300) == "Completed"
    counters = _describe(w, job)["LabelCounters"]
    assert counters["HumanLabeled"] + counters["MachineLabeled"] == 300 and counters["MachineLabeled"] > 0
    attr = w.name(job)
    machine = [x for x in _lines(w, job) if x[f"{attr}-metadata"]["human-annotated"] == "no"]
    assert len(machine) == counters["MachineLabeled"]
    for x in machine:
        meta = x[f"{attr}-metadata"]
        assert list(meta) == ["objects", "class-map", "type", "human-annotated", "creation-date", "job-name"]
        assert len(meta["objects"]) == len(x[attr]["annotations"])
        assert x[attr]["image_size"] == [{"width": 160, "height": 120, "depth": 3}]
    folder = Path(_describe(w, job)["OutputConfig"]["S3OutputPath"]) / attr
    for i in _iterations(w.ctx, job):
        if i.validation_threshold is not None:
            assert i.metric_name == "mean-iou" and i.bound >= 0.6
        if i.model_id is not None:  # the model's validation records declare the image's size, never null
            for line in (folder / f"activelearning/{i.iteration}/validation/auto_annotator_output.txt").open():
                rec = json.loads(line.split(" ", 1)[1])
                assert rec[attr]["image_size"] == [{"width": 160, "height": 120, "depth": 3}]


def test_a_failing_probe_fails_the_job(auto_world: AutoWorld) -> None:
    w = auto_world
    job = w.create("classification", 120)
    runner.run_until_idle(w.ctx, max_seconds=60)
    for k in range(2):  # 2 of 10 probe objects declined by everyone who could label them: failed
        task = queue.claim_next(w.ctx, w.workers[0], job)
        queue.decline(w.ctx, w.workers[0], task.assignment_id, "unreadable")
        task2 = queue.claim_next(w.ctx, w.workers[1], job)
        if task2 is not None and task2.object_idx == task.object_idx:
            queue.decline(w.ctx, w.workers[1], task2.assignment_id, "unreadable")
        elif task2 is not None:
            queue.release(w.ctx, w.workers[1], task2.assignment_id)
        assert k < 2
    assert w.run(job, "classification", 120) == "Failed"
    reason = _describe(w, job)["FailureReason"]
    assert "2 of the 10 objects of the first (probe) batch failed" in reason


@pytest.mark.parametrize(
    ("condition", "value"), [("MaxHumanLabeledObjectCount", 70), ("MaxPercentageOfInputDatasetLabeled", 60)]
)
def test_stopping_conditions_end_the_loop(auto_world: AutoWorld, condition: str, value: int) -> None:
    w = auto_world
    job = w.create("classification", 160, max_concurrent=20, StoppingConditions={condition: value})
    assert w.run(job, "classification", 160) == "Stopped"
    c = _describe(w, job)["LabelCounters"]
    if condition == "MaxHumanLabeledObjectCount":
        assert c["HumanLabeled"] == 70
    else:
        assert c["HumanLabeled"] + c["MachineLabeled"] == 96  # 60 % of 160: machine labels counted too


def test_a_bad_model_means_people_label_everything(auto_world: AutoWorld, tmp_path: Path) -> None:
    w = auto_world
    bad = tmp_path / "team-model.onnx"
    bad.write_bytes(b"PK\x03\x04 a zip, not ONNX")
    req_alg = {
        "LabelingJobAlgorithmSpecificationArn": "arn:aws:sagemaker:us-east-1:027400017018:"
        "labeling-job-algorithm-specification/image-classification",
        "InitialActiveLearningModelArn": str(bad),
    }
    job = w.create("classification", 120, max_concurrent=30, LabelingJobAlgorithmsConfig=req_alg)
    assert w.run(job, "classification", 120) == "Completed"
    c = _describe(w, job)["LabelCounters"]
    assert (c["HumanLabeled"], c["MachineLabeled"]) == (120, 0)  # no answer lost, nothing machine-labeled
    with w.ctx.db.read() as conn:
        st = conn.execute(select(dbm.autolabel_jobs).where(dbm.autolabel_jobs.c.job_id == job)).first()
    assert st.phase == "human-only" and str(bad) in st.error and "not an ONNX model" in st.error


def test_model_reuse_by_uri_and_by_chaining(auto_world: AutoWorld) -> None:
    w = auto_world
    first = w.create("classification", 400, max_concurrent=50)
    assert w.run(first, "classification", 400) == "Completed"
    final = _describe(w, first)["LabelingJobOutput"]["FinalActiveLearningModelArn"]
    alg = {
        "LabelingJobAlgorithmSpecificationArn": "arn:aws:sagemaker:us-east-1:027400017018:"
        "labeling-job-algorithm-specification/image-classification",
        "InitialActiveLearningModelArn": final,
    }
    second = w.create("classification", 400, max_concurrent=50, LabelingJobAlgorithmsConfig=alg)
    assert w.run(second, "classification", 400) == "Completed"
    its = _iterations(w.ctx, second)
    assert its[1].released == 80  # starting from a model: the validation set only, no training batch
    assert _describe(w, second)["LabelCounters"]["MachineLabeled"] > 0
    # chaining a stopped job with the same attribute starts from its final model (one that labeled something)
    third = w.create("classification", 400, max_concurrent=50, LabelingJobAlgorithmsConfig=alg)
    for _ in range(100):
        w.run(third, "classification", 400, rounds=1)
        if _describe(w, third)["LabelCounters"]["MachineLabeled"]:
            break
    jobactions.stop_labeling_job(w.ctx, SYSTEM, w.name(third))
    runner.run_until_idle(w.ctx, max_seconds=60)  # Stopping -> Stopped by the background workers
    chained = jobactions.chain_labeling_job(w.ctx, SYSTEM, w.name(third), w.name(third) + "-more")
    with w.ctx.db.read() as conn:
        parent = conn.execute(select(dbm.autolabel_jobs).where(dbm.autolabel_jobs.c.job_id == third)).first()
    runner.run_until_idle(w.ctx, max_seconds=60)
    with w.ctx.db.read() as conn:
        st = conn.execute(select(dbm.autolabel_jobs).where(dbm.autolabel_jobs.c.job_id == chained.job_id)).first()
        uri = conn.execute(
            select(dbm.autolabel_models.c.uri).where(dbm.autolabel_models.c.id == parent.final_model_id)
        ).scalar()
    assert parent.final_model_id is not None and st.initial_model_uri == uri


def test_fewer_objects_than_the_rule_is_refused_with_the_rule(auto_world: AutoWorld) -> None:
    with pytest.raises(SpecError) as err:
        auto_world.create("classification", 60)
    assert "automated data labeling needs at least 100 objects; the input manifest has 60" in str(err.value.problems)


def test_other_task_types_refuse_the_config(auto_world: AutoWorld) -> None:
    req = auto_world.request("classification", 120)
    req["HumanTaskConfig"]["PreHumanTaskLambdaArn"] = (
        "arn:aws:lambda:us-east-1:432418664414:function:PRE-ImageMultiClassMultiLabel"
    )
    req["HumanTaskConfig"]["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"] = (
        "arn:aws:lambda:us-east-1:432418664414:function:ACS-ImageMultiClassMultiLabel"
    )
    with pytest.raises(SpecError) as err:
        jobs.create_labeling_job(auto_world.ctx, SYSTEM, req)
    assert any(p.field == "LabelingJobAlgorithmsConfig" and "not available" in p.message for p in err.value.problems)


_KILLED_WORKER = """
import sys, time
from pathlib import Path
from gtcore.autolabel import learner
from gtcore.context import Context
from gtcore.work import runner
from tests.fixtures.core import make_settings

stage, marker = sys.argv[2], Path(sys.argv[3])
real_train, real_predict = learner.Learner.train, learner.Learner.predict
calls = []
def slow_train(self, *a, **k):
    marker.write_text("training")
    time.sleep(60)
    return real_train(self, *a, **k)
def slow_predict(self, *a, **k):
    calls.append(1)
    if len(calls) == 5:  # a few objects predicted, then killed
        marker.write_text("inferring")
        time.sleep(60)
    return real_predict(self, *a, **k)
if stage == "train":
    learner.Learner.train = slow_train
else:
    learner.Learner.predict = slow_predict
ctx = Context.from_settings(make_settings(Path(sys.argv[1]), GT_AUTOLABEL_MIN_OBJECTS="100"))
runner.run_until_idle(ctx, max_seconds=120, kinds=["autolabel." + stage])
"""


@pytest.mark.parametrize("stage", ["train", "infer"])
def test_sigkill_during_training_or_inference_leaves_nothing_half_done(
    auto_world: AutoWorld, tmp_path: Path, stage: str
) -> None:
    w = auto_world
    job = w.create("classification", 400, max_concurrent=50)
    _, truth = w.dataset("classification", 400)
    for _ in range(3):  # probe, then the training batch and the validation set, then round 3: training is due
        runner.run_until_idle(w.ctx, max_seconds=60, kinds=["autolabel.step"])
        simulate.annotate(w.ctx, w.workers, job, truth, DIGIT_LABELS)
    if stage == "infer":  # trained; round 3's batch answered above: inference is due
        runner.run_until_idle(w.ctx, max_seconds=60, kinds=["autolabel.train"])
    with w.ctx.db.read() as c:
        due = c.execute(select(dbm.work_items).where(dbm.work_items.c.kind == f"autolabel.{stage}")).all()
    assert [r.status for r in due] == ["pending"]
    marker = tmp_path / "started"
    proc = subprocess.Popen(  # a worker process, killed with SIGKILL in the middle of the step
        [sys.executable, "-c", _KILLED_WORKER, str(tmp_path), stage, str(marker)],
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    job_folder = Path(_describe(w, job)["OutputConfig"]["S3OutputPath"]) / w.name(job)
    assert not list(job_folder.rglob("*.tmp*")) and not list(job_folder.rglob(".gttmp*"))
    if stage == "train":
        assert not list(job_folder.glob("training/*/model.npz"))
        assert all(i.model_id is None for i in _iterations(w.ctx, job))
    else:
        assert not list(job_folder.glob("inference/*/output.jsonl"))
        assert _describe(w, job)["LabelCounters"]["MachineLabeled"] == 0  # machine labels are stored in one go
        assert all(i.finished_at is None for i in _iterations(w.ctx, job) if i.model_id is not None)
    # the lease runs out; another worker takes the item over and the job finishes
    runner.run_until_idle(w.ctx, max_seconds=60, now=time.time() + 1000, kinds=[f"autolabel.{stage}"])
    assert w.run(job, "classification", 400) == "Completed"
    assert list(job_folder.glob("training/*/model.npz"))
    assert _describe(w, job)["LabelCounters"]["MachineLabeled"] > 0


def test_a_worker_without_the_learning_libraries_hands_the_job_to_people(
    auto_world: AutoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = auto_world
    job = w.create("classification", 120, max_concurrent=30)
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)  # import fails as if scikit-learn were missing
    assert w.run(job, "classification", 120) == "Completed"
    c = _describe(w, job)["LabelCounters"]
    assert (c["HumanLabeled"], c["MachineLabeled"]) == (120, 0)
    with w.ctx.db.read() as conn:
        st = conn.execute(select(dbm.autolabel_jobs).where(dbm.autolabel_jobs.c.job_id == job)).first()
    assert st.phase == "human-only" and "pip install 'gtcore[autolabel]'" in st.error
