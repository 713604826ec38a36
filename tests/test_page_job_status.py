"""The Job status page through Streamlit's AppTest: an admin sees the status, LabelCounters, progress, time running,
the per-worker table and the chart of tasks completed over time, downloads the output and opens it in the manifest
viewer, and stops the job (confirmed); an auditor sees the same read-only; a worker is refused (by the page and by
gtcore). Jobs are real (``gtcore.jobs.api``) and answered through the real queue.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import PermissionDenied
from gtcore.jobs import api as jobs
from gtcore.jobs import progress as jobstats
from gtcore.queue import api as queue
from tests.fixtures.core import run_work
from tests.fixtures.jobs import JobFactory
from tests.fixtures.people import People

REPO = Path(__file__).resolve().parents[1]
PAGE = str(REPO / "pages" / "job_status.py")
APP = str(REPO / "app.py")
STATUS_KEY = "job_status_job_id"


def _page(token: str, *, job_id: int | None = None, query: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["gt_token"] = token
    if job_id is not None:
        at.session_state[STATUS_KEY] = job_id
    if query is not None:
        at.query_params["job"] = query
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.error, *at.warning, *at.info, *at.success, *at.caption, *at.text, *at.code,
                               *at.subheader, *at.markdown)]  # fmt: skip
    return _plain("\n".join(str(p) for p in parts))


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _chart_spec(at: AppTest) -> dict[str, Any]:
    (chart,) = at.get("vega_lite_chart")
    return json.loads(chart.proto.spec)


def _box(label: str = "cat", left: int = 2) -> dict[str, Any]:
    return {"boundingBox": {"boundingBoxes": [{"height": 5, "label": label, "left": left, "top": 3, "width": 6}],
                            "inputImageProperties": {"height": 48, "width": 64}}}  # fmt: skip


@pytest.fixture(autouse=True)
def _intermediate_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The intermediate manifest is due right after an object completes (not after its 5 s interval)."""
    from gtcore.jobs import due

    monkeypatch.setattr(due, "INTERMEDIATE_MIN_SECONDS", 0.0)


def _running_job(ctx: Context, tmp_path: Path, p: People) -> tuple[Any, Actor, Actor]:
    """``boxes-run``: 5 images, 1 worker each; ann submits 2 and declines 1 (failed), bob submits 1: 4 of 5 finished."""
    factory = JobFactory(ctx, tmp_path)
    factory.create(name="older-job", n_images=1, team="team-a")
    made = factory.create(name="boxes-run", n_images=5, team="team-a", label_attribute="animals")
    ann, bob = p.worker("team-a", "ann@example.test"), p.worker("team-a", "bob@example.test")
    for _ in range(2):
        task = queue.claim_next(ctx, ann, made.job_id)
        assert task is not None
        queue.submit(ctx, ann, task.assignment_id, _box())
        run_work(ctx)
    task = queue.claim_next(ctx, ann, made.job_id)
    assert task is not None
    queue.decline(ctx, ann, task.assignment_id, "too dark")
    task = queue.claim_next(ctx, bob, made.job_id)
    assert task is not None
    queue.submit(ctx, bob, task.assignment_id, _box("dog"))
    run_work(ctx)
    return made, ann, bob


def test_admin_sees_counters_progress_workers_and_chart(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    made, ann, bob = _running_job(page_ctx, tmp_path, p)
    at = _page(p.token(admin), job_id=made.job_id)
    _ok(at)
    assert [t.value for t in at.title] == ["Job status"]
    assert at.selectbox(key="status_job").value == "boxes-run"
    assert at.query_params["job"] == "boxes-run"  # the address names the job
    texts = _texts(at)
    assert "boxes-run: InProgress" in texts
    assert "Running for " in texts and "Label attribute: animals" in texts and "Team: team-a" in texts
    (bar,) = at.get("progress")
    assert bar.proto.value == 80 and "4 of 5 objects finished (80%)" in bar.proto.text
    assert _metrics(at) == {
        "Total labeled": "3", "Human labeled": "3", "Machine labeled": "0", "Failed": "1", "Unlabeled": "1",
        "Answers submitted": "3 of 5", "Tasks in progress": "0", "Already labeled (chained)": "0",
    }  # fmt: skip
    table = at.dataframe[0].value
    assert table["Worker"].tolist() == ["ann@example.test", "bob@example.test"]
    assert table["Worker ID"].tolist() == [ann.worker_id, bob.worker_id]
    assert table["Tasks submitted"].tolist() == [2, 1] and table["Declined"].tolist() == [1, 0]
    assert all(v >= 0 for v in table["Median seconds per task"].tolist())
    spec = _chart_spec(at)
    assert spec["encoding"]["y"]["field"] == "Tasks completed" and spec["encoding"]["x"]["type"] == "temporal"
    dataset = at.get("vega_lite_chart")[0].proto.datasets[0].data.data
    assert b"Tasks completed" in dataset
    # running: the final manifest is not there yet, the intermediate one is (every line, labels so far)
    files = jobstats.output_files(page_ctx, admin, made.job_id)
    assert not files.final_ready and files.intermediate_ready
    assert files.final_uri in texts and files.intermediate_uri in texts and "not written yet" in texts
    (download,) = at.get("download_button")
    assert download.proto.label == "Download"
    assert not at.button(key="status_view").disabled
    assert not at.button(key="status_stop").disabled
    assert not [b for b in at.button if "delete" in (b.label or "").lower()]


def test_stop_asks_first_then_writes_the_output(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    made, _, _ = _running_job(page_ctx, tmp_path, p)
    at = _page(p.token(admin), query="BOXES-RUN")  # the query parameter, any case
    _ok(at)
    assert at.selectbox(key="status_job").value == "boxes-run"
    at.button(key="status_stop").click().run()
    assert "Stop boxes-run? A stopped job cannot be restarted" in _texts(at)
    assert jobs.job_summary(page_ctx, admin, "boxes-run").status == "InProgress"  # only asked so far
    at.button(key="status_stop_no").click().run()
    assert "Stop boxes-run?" not in _texts(at)
    at.button(key="status_stop").click().run()
    at.button(key="status_stop_yes").click().run()
    _ok(at)
    summary = jobs.job_summary(page_ctx, admin, "boxes-run")
    assert summary.status == "Stopping"  # the request does no heavy work: the background workers finish it
    texts = _texts(at)
    assert (
        f"Stopping boxes-run: the background workers write the answered objects' files and its output manifest at "
        f"{summary.output_manifest_uri}, then it is Stopped."
    ) in texts
    run_work(page_ctx)
    at.run()
    summary = jobs.job_summary(page_ctx, admin, "boxes-run")
    assert summary.status == "Stopped"
    texts = _texts(at)
    assert "boxes-run: Stopped" in texts and "Ran for " in texts
    assert not [b for b in at.button if b.key == "status_stop"]  # a stopped job never restarts
    lines = Path(summary.output_manifest_uri).read_text().splitlines()
    assert len(lines) == 3  # the three answered objects (the declined one failed, one was never done)
    assert len(at.get("download_button")) == 2  # final and intermediate
    assert jobstats.read_output(page_ctx, admin, made.job_id) == Path(summary.output_manifest_uri).read_bytes()


def test_open_in_the_manifest_viewer(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    made, _, _ = _running_job(page_ctx, tmp_path, p)
    jobs.stop_labeling_job(page_ctx, admin, "boxes-run")
    run_work(page_ctx)
    final = jobs.job_summary(page_ctx, admin, "boxes-run").output_manifest_uri
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["gt_token"] = p.token(admin)
    at.run()
    at.session_state[STATUS_KEY] = made.job_id
    at.switch_page("pages/job_status.py").run()
    _ok(at)
    assert [t.value for t in at.title] == ["Job status"]
    at.button(key="status_view").click().run()
    _ok(at)
    assert [t.value for t in at.title] == ["Manifest viewer"]
    assert at.session_state["viewer_source"] == {"kind": "uri", "uri": final}
    assert f"{final}: 3 lines" in _texts(at)


def test_page_alone_hands_the_uri_over_and_says_where_to_go(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    made, _, _ = _running_job(page_ctx, tmp_path, p)
    at = _page(p.token(admin), job_id=made.job_id)
    at.button(key="status_view").click().run()
    _ok(at)
    inter = jobstats.output_files(page_ctx, admin, made.job_id).intermediate_uri
    assert at.session_state["viewer_source"] == {"kind": "uri", "uri": inter}  # running: the intermediate one
    assert "Open the Manifest viewer page from the menu." in _texts(at)


def test_auditor_reads_only(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    p.admin()
    made, _, _ = _running_job(page_ctx, tmp_path, p)
    auditor = p.auditor()
    at = _page(p.token(auditor), query="boxes-run")
    _ok(at)
    assert "Read-only" in _texts(at)
    assert _metrics(at)["Total labeled"] == "3" and at.dataframe[0].value["Tasks submitted"].tolist() == [2, 1]
    assert at.get("vega_lite_chart") and at.get("download_button")
    assert not {"status_stop", "status_stop_yes"} & {b.key for b in at.button}
    with pytest.raises(PermissionDenied):
        jobs.stop_labeling_job(page_ctx, auditor, "boxes-run")
    assert jobstats.job_progress(page_ctx, auditor, made.job_id).answers_submitted == 3


def test_worker_is_refused(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    p.admin()
    made, ann, _ = _running_job(page_ctx, tmp_path, p)
    at = _page(p.token(ann), job_id=made.job_id)
    _ok(at)
    assert "This page needs the admin or auditor role." in [w.value for w in at.warning]
    assert not at.selectbox and not at.metric and not at.dataframe
    for call in (
        lambda: jobstats.job_progress(page_ctx, ann, made.job_id),
        lambda: jobstats.output_files(page_ctx, ann, made.job_id),
        lambda: jobstats.read_output(page_ctx, ann, made.job_id, final=False),
        lambda: jobs.stop_labeling_job(page_ctx, ann, "boxes-run"),
    ):
        with pytest.raises(PermissionDenied):
            call()


def test_unknown_job_in_the_address_and_no_jobs(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    token = p.token(admin)
    empty = _page(token)
    _ok(empty)
    assert "No labeling job yet." in _texts(empty)
    _running_job(page_ctx, tmp_path, p)
    at = _page(token, query="no-such-job")
    _ok(at)
    assert "No labeling job named no-such-job: pick one below." in _texts(at)
    assert at.selectbox(key="status_job").value == "boxes-run"  # the newest
    at.selectbox(key="status_job").set_value("older-job").run()
    _ok(at)
    assert "older-job: InProgress" in _texts(at) and at.query_params["job"] == "older-job"
    assert "No task completed yet." in _texts(at) and "No worker has taken a task of this job yet." in _texts(at)


def test_completed_over_time_and_durations() -> None:
    assert jobstats.completed_over_time([]) == []
    assert jobstats.completed_over_time([5.0, 6.0, 9.0]) == [(5.0, 1), (6.0, 2), (9.0, 3)]
    many = [float(t) for t in range(1000)]
    points = jobstats.completed_over_time(many, max_points=100)
    assert len(points) == 100 and points[-1] == (999.0, 1000)
    assert all(n == int(t) + 1 for t, n in points)  # every point on the exact cumulative curve
    odd = jobstats.completed_over_time(many[: 1001 - 2], max_points=100)
    assert odd[-1] == (998.0, 999)
    assert jobstats.running_seconds(100.0, None, now=160.0) == 60.0
    assert jobstats.running_seconds(100.0, 130.0, now=1e9) == 30.0
    assert [jobstats.duration_text(s) for s in (45, 725, 12_000, 190_000)] == [
        "45 s", "12 min 5 s", "3 h 20 min", "2 d 4 h"]  # fmt: skip
