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


def test_status_page_shows_each_iteration_and_the_chart(world: tuple[AutoWorld, People]) -> None:
    w, people = world
    job = w.create("classification", 120, max_concurrent=30)
    assert w.run(job, "classification", 120) == "Completed"
    at = _status(people.token(people.admin()), job)
    assert not at.exception, [e.value for e in at.exception]
    shown = _texts(at)
    assert "Automated data labeling" in shown and "Phase:" in shown
    table = next(df.value for df in at.dataframe if "Threshold" in df.value.columns)
    trained = table[table["Training s"].notna()]
    assert len(trained) >= 1 and (trained["Validation"].str.startswith("accuracy")).all()
    assert table["Machine-labeled"].fillna(0).sum() > 0
    assert "Human vs machine labels over time" in shown


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
    w.run(job, "classification", 120, rounds=3, limit=60)  # the job still runs, with people
    at = _status(people.token(people.admin()), job)
    assert not at.exception
    shown = _texts(at)
    assert f"Automated data labeling stopped: {bad}: not an ONNX model" in shown
    assert "The job goes on with people only; no human answer was lost." in shown


def test_viewer_tags_machine_and_human_labels(world: tuple[AutoWorld, People]) -> None:
    w, people = world
    job = w.create("classification", 120, max_concurrent=30)
    assert w.run(job, "classification", 120) == "Completed"
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
