"""The Workforce page's Invite tab in Debian chromium (issue 18.3): the first team is preselected once it
exists, and an invitation with no team chosen is refused with a message instead of being sent silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gtcore.context import Context
from gtcore.core.settings import Settings
from gtcore.workforce import roster
from tests.browser import REPO, wait_for_idle
from tests.fixtures.people import PASSWORD, People

pytestmark = pytest.mark.browser


def _tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_for_idle(page)


def _team_choice(page: Any) -> tuple[str, str]:
    """(value, placeholder) of the Invite tab's "Work team" box."""
    box = page.get_by_role("combobox", name="Work team")
    return box.input_value(), str(box.get_attribute("placeholder"))


def _invite(page: Any, email: str) -> None:
    page.get_by_label("E-mail addresses (up to 50; commas, spaces or one per line)").fill(email)
    page.get_by_role("button", name="Send invitations").click()
    wait_for_idle(page)


def test_invite_preselects_the_only_team_and_refuses_no_team(tmp_path: Path, streamlit_app: Any, page: Any) -> None:
    home = tmp_path / "gt-home"
    env = {"GT_HOME": str(home), "GT_DATABASE_URL": f"sqlite:///{home / 'gt.sqlite3'}", "GT_LOCAL_ROOTS": str(tmp_path)}
    ctx = Context.from_settings(Settings.from_env(env, cwd=tmp_path))
    try:
        admin = People(ctx).admin()
        url = streamlit_app(REPO / "app.py", env)
        page.goto(url + "/workforce")
        wait_for_idle(page)
        page.get_by_label("E-mail address").fill(admin.email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Workforce").wait_for(timeout=30_000)

        # the Invite tab while there is no team yet, then the first team is made on the Teams tab
        _tab(page, "Invite")
        page.get_by_text("Create a work team first (Teams tab): workers see").wait_for(timeout=30_000)
        _tab(page, "Teams")
        page.get_by_label("New team name (letters, digits, hyphens; at most 63)").fill("night-shift")
        page.get_by_role("button", name="Create team").click()
        wait_for_idle(page)
        _tab(page, "Invite")
        assert _team_choice(page)[0] == "night-shift"  # preselected: the only team
        _invite(page, "ann@example.test")
        page.get_by_text("give this temporary password to the worker now").first.wait_for(timeout=30_000)
        (ann,) = [w for w in roster.list_workers(ctx, admin) if w.email == "ann@example.test"]
        assert list(ann.teams) == ["night-shift"]

        # with two teams nothing is assumed: sending without a choice is refused, nobody is invited
        _tab(page, "Teams")
        page.get_by_label("New team name (letters, digits, hyphens; at most 63)").fill("day-shift")
        page.get_by_role("button", name="Create team").click()
        wait_for_idle(page)
        _tab(page, "Invite")
        assert _team_choice(page) == ("", "Choose a work team")
        _invite(page, "bob@example.test")
        page.get_by_text("Choose the work team the workers join").wait_for(timeout=30_000)
        assert all(w.email != "bob@example.test" for w in roster.list_workers(ctx, admin))
    finally:
        ctx.db.dispose()
