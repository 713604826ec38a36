"""The Jobs page through Streamlit's AppTest: the table, filters, a job's detail, Stop (confirmed), Clone and
Chain opening the Create job page prefilled (through app.py's navigation), and the auditor's read-only view.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gtcore.context import Context
from gtcore.core.errors import PermissionDenied
from gtcore.jobs import api as jobs
from gtcore.queue import api as queue
from tests.fixtures.core import run_work
from tests.fixtures.jobs import JobFactory
from tests.fixtures.people import People

REPO = Path(__file__).resolve().parents[1]
PAGE = str(REPO / "pages" / "jobs.py")
APP = str(REPO / "app.py")
ACTION_KEYS = {"jobs_stop", "jobs_clone", "jobs_chain", "jobs_create"}


def _page(token: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["gt_token"] = token
    return at.run()


def _app(token: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["gt_token"] = token
    at.run()
    return at.switch_page("pages/jobs.py").run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.error, *at.warning, *at.info, *at.success, *at.caption, *at.text, *at.code)]
    return _plain("\n".join(str(p) for p in parts))


def _plain(markdown: str) -> str:
    """Text as shown: user text in messages is Markdown-escaped (``md_escape``), so drop the backslashes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _three_jobs(ctx: Context, tmp_path: Path) -> JobFactory:
    factory = JobFactory(ctx, tmp_path)
    factory.create(name="cats-1", n_images=2, team="team-a")
    factory.create(name="dogs-1", n_images=3, team="team-b", task_type="ImageClassification")
    factory.create(name="cats-2", n_images=1, team="team-a")
    return factory


def test_list_filter_detail_and_stop(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    _three_jobs(page_ctx, tmp_path)
    jobs.stop_labeling_job(page_ctx, admin, "cats-2")
    run_work(page_ctx)
    at = _page(p.token(admin))
    _ok(at)
    table = at.dataframe[0].value
    assert table["Job"].tolist() == ["cats-2", "dogs-1", "cats-1"]  # newest first
    assert table["Status"].tolist() == ["Stopped", "InProgress", "InProgress"]
    assert table["Team"].tolist() == ["team-a", "team-b", "team-a"]
    assert table["Objects"].tolist() == [1, 3, 2] and table["Unlabeled"].tolist() == [1, 3, 2]
    assert table["Task type"].tolist()[1] == "Image classification (single label)"
    assert {"Progress", "Created", "Labeled", "Failed"} <= set(table.columns)

    at.selectbox(key="jobs_status_filter").set_value("InProgress").run()
    assert at.dataframe[0].value["Job"].tolist() == ["dogs-1", "cats-1"]
    at.text_input(key="jobs_name").input("CATS").run()
    assert at.dataframe[0].value["Job"].tolist() == ["cats-1"]
    at.text_input(key="jobs_name").input("no_such").run()
    assert "NameContains" in _texts(at)  # a bad filter is explained, not crashed on
    at.text_input(key="jobs_name").input("zebra").run()
    assert "No labeling job matches." in _texts(at)
    at.text_input(key="jobs_name").input("").run()
    at.selectbox(key="jobs_status_filter").set_value("All").run()

    at.selectbox(key="jobs_pick").set_value("dogs-1").run()
    _ok(at)
    details = _texts(at)
    assert "Team: team-b" in details and "Input manifest: " in details
    out = jobs.job_summary(page_ctx, admin, "dogs-1").output_manifest_uri
    assert f"Output manifest: {out}" in details
    spec = at.json[0].value
    assert '"LabelingJobName": "dogs-1"' in spec and '"LabelingJobStatus": "InProgress"' in spec
    assert [m.label for m in at.metric] == ["Objects", "Labeled", "Failed", "Unlabeled", "Already labeled"]
    assert at.button(key="jobs_chain").disabled and not at.button(key="jobs_stop").disabled
    assert not [b for b in at.button if "delete" in (b.label or "").lower()]  # no delete anywhere

    at.button(key="jobs_stop").click().run()
    assert "Stop dogs-1? A stopped job cannot be restarted" in _texts(at)
    assert jobs.job_summary(page_ctx, admin, "dogs-1").status == "InProgress"  # only asked so far
    at.button(key="jobs_stop_no").click().run()
    assert "Stop dogs-1?" not in _texts(at)
    at.button(key="jobs_stop").click().run()
    at.button(key="jobs_stop_yes").click().run()
    _ok(at)
    assert jobs.job_summary(page_ctx, admin, "dogs-1").status == "Stopping"  # the workers finish it
    assert (
        f"Stopping dogs-1: the background workers write the answered objects' files and its output manifest at "
        f"{out}, then it is Stopped."
    ) in _texts(at)
    run_work(page_ctx)
    at.run()
    assert jobs.job_summary(page_ctx, admin, "dogs-1").status == "Stopped"
    assert at.button(key="jobs_stop").disabled and not at.button(key="jobs_chain").disabled


def test_clone_and_chain_open_the_create_page_prefilled(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    factory = _three_jobs(page_ctx, tmp_path)
    worker = p.worker("team-a")
    cats = jobs.job_summary(page_ctx, admin, "cats-1")
    task = queue.claim_next(page_ctx, worker, cats.job_id)
    assert task is not None
    queue.submit(
        page_ctx,
        worker,
        task.assignment_id,
        {
            "boundingBox": {
                "boundingBoxes": [{"height": 4, "label": "dog", "left": 1, "top": 1, "width": 5}],
                "inputImageProperties": {"height": 48, "width": 64},
            }
        },
    )
    token = p.token(admin)

    at = _app(token)
    _ok(at)
    at.selectbox(key="jobs_pick").set_value("cats-1").run()
    at.button(key="jobs_clone").click().run()
    _ok(at)
    assert [t.value for t in at.title] == ["Create labeling job"]
    assert "Cloning cats-1" in _texts(at)
    assert at.text_input(key="cj_manifest_uri").value == cats.input_manifest_uri
    assert at.text_input(key="cj_name").value == "" and at.selectbox(key="cj_team").value == "team-a"
    assert at.text_input(key="cj_title").value == factory.request(name="x")["HumanTaskConfig"]["TaskTitle"].replace(
        "x", "cats-1"
    )

    jobs.stop_labeling_job(page_ctx, admin, "cats-1")
    run_work(page_ctx)
    at = _app(token)
    at.selectbox(key="jobs_pick").set_value("cats-1").run()
    at.button(key="jobs_chain").click().run()
    _ok(at)
    assert "Chaining from cats-1 (Stopped)" in _texts(at)
    full = cats.output_manifest_uri.replace("/manifests/output/", "/manifests/intermediate/1/")  # Stopped: every line
    assert f"Input manifest: {full}" in _texts(at)
    assert at.checkbox(key="cj_chain_same").value
    assert at.session_state["cj_origin"]["job"] == "cats-1"
    # AppTest reruns the page its own switch_page() named, and loses widget values set after a switch made by
    # the script; so the chained job is created on the Create page opened with the same prefill request.
    at = AppTest.from_file(str(REPO / "pages" / "create_job.py"), default_timeout=60)
    at.session_state["gt_token"] = token
    at.session_state["create_job_prefill"] = {"origin": "chain", "job": "cats-1"}
    at.run()
    at.text_input(key="cj_name").input("cats-1-more").run()
    at.button(key="cj_create").click().run()
    _ok(at)
    chained = jobs.job_summary(page_ctx, admin, "cats-1-more")
    assert (chained.origin, chained.label_attribute, chained.parent_job_id) == ("chain", "cats-1", cats.job_id)
    assert chained.already_labeled == 1  # the labeled object is not sent to workers again
    at.button(key="cj_open_job").click().run()
    assert at.session_state["jobs_selected"] == "cats-1-more"
    assert "Open the Jobs page from the menu." in _texts(at)  # a page run on its own has no navigation
    listing = _page(token)
    assert listing.selectbox(key="jobs_pick").value == "cats-1-more"  # the newest first ...
    listing = AppTest.from_file(PAGE, default_timeout=60)
    listing.session_state["gt_token"] = token
    listing.session_state["jobs_selected"] = "dogs-1"
    listing.run()
    assert listing.selectbox(key="jobs_pick").value == "dogs-1"  # ... unless another page chose one


def test_auditor_sees_everything_read_only(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    p.admin()
    _three_jobs(page_ctx, tmp_path)
    auditor = p.auditor()
    at = _page(p.token(auditor))
    _ok(at)
    assert at.dataframe[0].value["Job"].tolist() == ["cats-2", "dogs-1", "cats-1"]
    assert "Read-only" in _texts(at)
    assert at.json  # the spec is visible
    assert not ACTION_KEYS & {b.key for b in at.button}
    for call in (
        lambda: jobs.stop_labeling_job(page_ctx, auditor, "cats-1"),
        lambda: jobs.clone_labeling_job(page_ctx, auditor, "cats-1", "copy"),
        lambda: jobs.chain_labeling_job(page_ctx, auditor, "cats-1", "next"),
    ):
        with pytest.raises(PermissionDenied):
            call()


def test_worker_is_turned_away(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    p.admin()
    _three_jobs(page_ctx, tmp_path)
    at = _page(p.token(p.worker("team-a")))
    _ok(at)
    assert "This page needs the admin or auditor role." in [w.value for w in at.warning]
    assert not at.dataframe


def test_job_status_link_passes_the_job(page_ctx: Context, tmp_path: Path) -> None:
    p = People(page_ctx)
    admin = p.admin()
    _three_jobs(page_ctx, tmp_path)
    at = _page(p.token(admin))
    at.selectbox(key="jobs_pick").set_value("dogs-1").run()
    at.button(key="jobs_status").click().run()
    _ok(at)
    assert at.session_state["job_status_job_id"] == jobs.job_summary(page_ctx, admin, "dogs-1").job_id


def test_home_and_jobs_pages_show_the_same_job_table(page_ctx: Context, tmp_path: Path) -> None:
    """One presentation of a job row (gtcore.jobs.presentation.table_rows) for both pages."""
    p = People(page_ctx)
    token = p.token(p.admin())
    _three_jobs(page_ctx, tmp_path)
    jobs_page = _page(token)
    home = AppTest.from_file(str(REPO / "pages" / "home.py"), default_timeout=60)
    home.session_state["gt_token"] = token
    home.run()
    _ok(jobs_page)
    _ok(home)
    (jobs_table,) = [d.value for d in jobs_page.dataframe]
    home_table = [d.value for d in home.dataframe if "Job" in d.value.columns][0]
    assert list(home_table.columns) == list(jobs_table.columns)
    assert home_table.to_dict("records") == jobs_table.to_dict("records")
