"""Automated data labeling on the pages (AppTest): the Job status panel per iteration with its chart, a model that
could not be used shown plainly while people go on, the viewer's human/machine tags, and the digits sample."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gtcore.context import Context
from gtcore.core.settings import Settings
from gtcore.manifests.sample_digits import DIGIT_LABELS
from gtcore.work import runner
from tests.fixtures import simulate
from tests.fixtures.autolabel import SMALL_MIN, AutoWorld
from tests.fixtures.people import People

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def world(page_ctx: Context, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[AutoWorld, People]]:
    monkeypatch.setenv("GT_AUTOLABEL_MIN_OBJECTS", SMALL_MIN)
    ctx = Context.from_settings(Settings.from_env())
    people = People(ctx)
    w = AutoWorld(ctx, tmp_path)
    w.workers = [people.worker(w.team, email=f"w{i}@example.com") for i in range(2)]
    yield w, people
    ctx.db.dispose()


def _texts(at: AppTest) -> str:
    parts = [m.value for m in (*at.markdown, *at.caption, *at.warning, *at.info, *at.success, *at.subheader)]
    return re.sub(r"\\(.)", r"\1", "\n".join(str(x) for x in parts))


def _status(token: str, job_id: int) -> AppTest:
    at = AppTest.from_file(str(REPO / "pages" / "job_status.py"), default_timeout=60)
    at.session_state["gt_token"] = token
    at.session_state["job_status_job_id"] = job_id
    return at.run()


def test_status_page_shows_each_round_and_the_chart(world: tuple[AutoWorld, People]) -> None:
    w, people = world
    job = w.create("classification", 400, max_concurrent=50)
    assert w.run(job, "classification", 400) == "Completed"
    at = _status(people.token(people.admin()), job)
    assert not at.exception, [e.value for e in at.exception]
    shown = _texts(at)
    assert "Automated data labeling" in shown and "Phase:" in shown
    table = next(df.value for df in at.dataframe if "Threshold" in df.value.columns)
    assert {"Estimate", "Bound (95 %)", "Threshold", "Checked", "Used", "Machine"} <= set(table.columns)
    trained = table[table["Estimate"] != ""]
    assert len(trained) >= 1 and (trained["Estimate"].str.startswith("accuracy")).all()
    assert (trained["Bound (95 %)"] != "").all()
    labeled = table[table["Machine"].isin([""]) == False]  # noqa: E712
    assert labeled["Machine"].astype(int).sum() > 0
    # every round that labeled shows its threshold, the bound at it (>= 0.95) and the check on fresh labels
    for _, row in table[table["Machine"].apply(lambda v: v not in ("", "0"))].iterrows():
        assert float(row["Bound (95 %)"]) >= 0.95 and row["Used"] and row["Checked"]
    # a completed job: a finished last round, no "inferring"/"training", no None cells
    assert table.iloc[-1]["Stage"] in ("done", "ended with the job")
    assert not table["Stage"].str.contains("training|waiting|inferring").any()
    cells = [str(v) for v in table.to_numpy().ravel()]
    assert not [c for c in cells if c in ("None", "nan", "NaN", "<NA>")]
    assert "Human vs machine labels over time" in shown


def test_a_worker_waiting_for_the_next_batch_is_told_more_tasks_are_being_prepared(
    world: tuple[AutoWorld, People],
) -> None:
    w, people = world
    job = w.create("classification", 120, max_concurrent=30)
    _, truth = w.dataset("classification", 120)
    for _ in range(3):  # probe, training batch + validation set, round 3's batch: all answered
        runner.run_until_idle(w.ctx, max_seconds=60, kinds=["autolabel.step"])
        simulate.annotate(w.ctx, w.workers, job, truth, DIGIT_LABELS)
    at = AppTest.from_file(str(REPO / "pages" / "label.py"), default_timeout=60)
    at.session_state["gt_token"] = people.token(w.workers[0])
    at.session_state["label_job_id"] = job
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = _texts(at)
    assert "More tasks are being prepared" in shown and "No task is available" not in shown
    runner.run_until_idle(w.ctx, max_seconds=300)  # the model trains, labels, and the next batch goes out
    at.run()
    assert "More tasks are being prepared" not in _texts(at)
    assert at.session_state["label_task"] is not None


def test_a_model_that_cannot_be_used_is_shown_and_people_go_on(world: tuple[AutoWorld, People], tmp_path: Path) -> None:
    w, people = world
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    alg = {
        "LabelingJobAlgorithmSpecificationArn": "arn:aws:sagemaker:us-east-1:027400017018:"
        "labeling-job-algorithm-specification/image-classification",
        "InitialActiveLearningModelArn": str(bad),
    }
    job = w.create("classification", 120, max_concurrent=30, LabelingJobAlgorithmsConfig=alg)
    w.run(job, "classification", 120, rounds=8)  # the job still runs, with people
    at = _status(people.token(people.admin()), job)
    assert not at.exception
    shown = _texts(at)
    assert f"Automated data labeling stopped: {bad}: not an ONNX model" in shown
    assert "The job goes on with people only; no human answer was lost." in shown


def test_viewer_tags_machine_and_human_labels(world: tuple[AutoWorld, People]) -> None:
    w, people = world
    job = w.create("classification", 400, max_concurrent=50)
    assert w.run(job, "classification", 400) == "Completed"
    at = AppTest.from_file(str(REPO / "pages" / "viewer.py"), default_timeout=60)
    at.session_state["gt_token"] = people.token(people.auditor())
    at.session_state["viewer_source"] = {"kind": "job", "id": job}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    captions = "\n".join(c.value for c in at.caption)
    assert ":orange[machine label]" in captions and ":blue[human label]" in captions
    at.radio(key="viewer_f_by").set_value("machine").run()
    captions = "\n".join(c.value for c in at.caption)
    assert ":orange[machine label]" in captions and ":blue[human label]" not in captions
