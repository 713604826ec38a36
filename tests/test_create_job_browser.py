"""The Create job form end to end in Debian chromium (Playwright) against ``streamlit run app.py``.

A team lead signs in, opens Create job from the menu, loads the sample data, renames the job, adds a label,
opens the preview (the annotators' canvas appears over the first face), creates the job, opens it on the
Jobs page, clones it from there (the Create page comes back prefilled) and creates the clone. What the
browser did is checked in the database through gtcore.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gtcore.context import Context
from gtcore.core.settings import Settings
from gtcore.jobs import api as jobs
from tests.browser import CANVAS_SELECTOR, exception_text, wait_for_idle, wait_until
from tests.fixtures.people import PASSWORD, People

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[1]


def _type(page: Any, label: str, text: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Enter")
    wait_for_idle(page)


def _click(page: Any, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).first.click()
    wait_for_idle(page)


def _see(page: Any, text: str, timeout: float = 30.0) -> None:
    page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout * 1000)


def test_create_job_form_end_to_end(tmp_path: Path, streamlit_app: Any, page: Any) -> None:
    home = tmp_path / "gt-home"
    env = {"GT_HOME": str(home), "GT_DATABASE_URL": f"sqlite:///{home / 'gt.sqlite3'}", "GT_LOCAL_ROOTS": str(tmp_path)}
    ctx = Context.from_settings(Settings.from_env(env, cwd=tmp_path))
    try:
        p = People(ctx)
        admin = p.admin()
        p.team("team-a")
        url = streamlit_app(REPO / "app.py", env)
        page.goto(url)
        wait_for_idle(page)

        _type(page, "E-mail address", admin.email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        _click(page, "Sign in")
        page.locator('[data-testid="stSidebarNavLink"]', has_text="Create job").click()
        wait_for_idle(page)
        _see(page, "Create labeling job")

        _click(page, "Load sample data")
        _see(page, "Sample data: 12 faces")
        _see(page, "12 objects from data setup.")
        assert page.get_by_label("Job name", exact=True).input_value() == "sample-faces"
        _type(page, "Job name", "browser-faces")
        _see(page, "The name is free.")
        _type(page, "New label", "nose")
        _click(page, "Add label")
        _see(page, "3: nose")

        page.get_by_text("Show the preview", exact=True).click()
        wait_for_idle(page)
        page.locator(CANVAS_SELECTOR).first.wait_for(state="visible", timeout=30_000)  # the annotators' canvas
        assert page.get_by_role("button", name="nose").first.is_visible()  # the label picker (key 4)
        assert jobs.list_jobs(ctx, admin) == []  # the preview created nothing

        _click(page, "Create labeling job")
        _see(page, "Created labeling job browser-faces with 12 objects")
        assert exception_text(page) is None
        made = jobs.describe_labeling_job(ctx, admin, "browser-faces")
        labels = json.loads(Path(made["LabelCategoryConfigS3Uri"]).read_text())["labels"]
        assert [x["label"] for x in labels] == ["eye", "mouth", "ear", "nose"]
        assert made["HumanTaskConfig"]["WorkteamArn"].endswith("/private-crowd/team-a")

        _click(page, "Open it on the Jobs page")
        _see(page, "Labeling jobs")
        _see(page, "InProgress: 0 of 12 objects finished")
        _click(page, "Clone")
        _see(page, "Cloning browser-faces")
        wait_until(
            lambda: page.get_by_label("Task title", exact=True).input_value() == "Draw a box around each object",
            what="the cloned title",
        )
        _type(page, "Job name", "browser-faces-2")
        _click(page, "Create labeling job")
        _see(page, "Created labeling job browser-faces-2 with 12 objects")
        clone = jobs.job_summary(ctx, admin, "browser-faces-2")
        assert clone.origin == "clone" and clone.parent_job_id == jobs.job_summary(ctx, admin, "browser-faces").job_id
        assert exception_text(page) is None
    finally:
        ctx.db.dispose()


def test_the_form_survives_a_visit_to_another_page(tmp_path: Path, streamlit_app: Any, page: Any) -> None:
    """Issue 18.4: leaving Create job (say, to make a team) lost the name, folder, title, description and
    instructions; title and description silently came back as the defaults."""
    home = tmp_path / "gt-home"
    env = {"GT_HOME": str(home), "GT_DATABASE_URL": f"sqlite:///{home / 'gt.sqlite3'}", "GT_LOCAL_ROOTS": str(tmp_path)}
    ctx = Context.from_settings(Settings.from_env(env, cwd=tmp_path))
    try:
        admin = People(ctx).admin()
        url = streamlit_app(REPO / "app.py", env)
        page.goto(url + "/create_job")
        wait_for_idle(page)
        _type(page, "E-mail address", admin.email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        _click(page, "Sign in")
        _see(page, "Create labeling job")
        typed = {
            "Job name": "kept-job",
            "Images folder or S3 prefix": str(tmp_path / "images"),
            "Task title": "Find the cats",
            "Task description": "Draw a tight box around every cat.",
        }
        for label, text in typed.items():
            _type(page, label, text)
        full = page.get_by_label("Full instructions (Markdown)", exact=True)
        full.fill("Boxes **touch** the fur.")
        page.get_by_label("Task title", exact=True).click()  # leave the text area: its value is sent
        wait_for_idle(page)

        page.locator('[data-testid="stSidebarNavLink"]', has_text="Workforce").click()
        _see(page, "Workforce")
        page.locator('[data-testid="stSidebarNavLink"]', has_text="Create job").click()
        _see(page, "Create labeling job")
        wait_for_idle(page)
        for label, text in typed.items():
            got = page.get_by_label(label, exact=True).input_value()
            assert got == text, f"{label}: {got!r} after visiting another page"
        assert page.get_by_label("Full instructions (Markdown)", exact=True).input_value() == "Boxes **touch** the fur."
        assert exception_text(page) is None
    finally:
        ctx.db.dispose()
