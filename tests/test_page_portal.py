"""The Worker portal under AppTest: the jobs of the worker's teams, his counts, Start working / Resume."""

from __future__ import annotations

from typing import Any

import pytest

from gtcore.core.errors import PermissionDenied
from gtcore.jobs import api as jobs
from gtcore.queue import api as queue
from gtcore.ui.label_picker import md_escape
from tests.fixtures.core import run_work
from tests.fixtures.labeling import LabelWorld, app_as, open_page, start_in_app


def metrics(at: Any) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in at.metric]


def test_portal_lists_the_jobs_of_his_teams_with_his_counts(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    mine = world.jobs.create(name="birds", n_images=3, task_type="ImageClassification")
    world.people.team("team-b")
    world.jobs.create(name="elsewhere", n_images=2, team="team-b")
    at = open_page(app_as(world, ann), "pages/portal.py")
    assert not at.exception
    assert [s.value for s in at.subheader] == [md_escape("Label birds")]
    assert "Pick the animal" in [t.value for t in at.text]
    assert metrics(at) == [("Tasks available", "3"), ("Submitted by you", "0"), ("In progress (yours)", "0")]
    assert at.button(key=f"portal_start_{mine.job_id}").label == "Start working"

    task = queue.claim_next(world.ctx, ann, mine.job_id)  # he answers one and holds another
    assert task is not None
    queue.submit(world.ctx, ann, task.assignment_id, {"crowd-image-classifier": {"label": "cat"}})
    run_work(world.ctx)
    assert queue.claim_next(world.ctx, ann, mine.job_id) is not None
    at.run()
    assert metrics(at) == [("Tasks available", "1"), ("Submitted by you", "1"), ("In progress (yours)", "1")]
    assert at.button(key=f"portal_start_{mine.job_id}").label == "Resume"


def test_start_working_opens_the_label_page_on_the_job(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    job = world.jobs.create(name="cats", n_images=2, task_type="ImageClassification")
    at = start_in_app(app_as(world, ann), job.job_id)
    assert not at.exception
    assert at.query_params["job"] in (str(job.job_id), [str(job.job_id)])
    assert any(c.value.startswith("Object 1 of ") for c in at.caption)
    assert [t.value for t in at.title] == [md_escape("Label: cats")]


def test_stopped_jobs_and_other_roles(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    job = world.jobs.create(name="stopped-one", n_images=2, task_type="ImageClassification")
    jobs.stop_labeling_job(world.ctx, world.admin, job.name)
    run_work(world.ctx)
    at = open_page(app_as(world, ann), "pages/portal.py")
    assert "There are no labeling jobs for your teams right now." in [i.value for i in at.info]
    # the page is not in an admin's or auditor's menu, and gtcore refuses them the list anyway
    for person in (world.admin, world.people.auditor("aud@example.test")):
        at = app_as(world, person)
        assert "pages/portal.py" not in at.session_state["gt_nav"]
        with pytest.raises(PermissionDenied):
            queue.worker_jobs(world.ctx, person)


def test_titles_are_shown_as_text(app_world: LabelWorld) -> None:
    world = app_world
    ann = world.worker("ann@example.test")
    world.jobs.create(
        name="md",
        n_images=1,
        task_type="ImageClassification",
        extra_human={"TaskTitle": "Cats **now** [x](http://e.test) :red[y]"},
    )
    at = open_page(app_as(world, ann), "pages/portal.py")
    (shown,) = [s.value for s in at.subheader]
    assert shown == md_escape("Cats **now** [x](http://e.test) :red[y]")
    assert shown.startswith(r"Cats \*\*now\*\* \[x\]\(`http://e.test)`") and r"\:red\[y\]" in shown
