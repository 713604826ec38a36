"""Every page in the menu exists and renders for a user holding one of its roles, without an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gtcore.context import Context
from gtcore.ui.nav import PAGES, PageSpec
from tests.fixtures.people import People

REPO = Path(__file__).resolve().parents[1]


def test_every_menu_page_exists() -> None:
    assert [p.path for p in PAGES if not (REPO / p.path).is_file()] == []


@pytest.mark.parametrize("spec", PAGES, ids=[p.path for p in PAGES])
def test_page_renders_for_its_role(spec: PageSpec, page_ctx: Context) -> None:
    people = People(page_ctx)
    role = sorted(spec.roles)[0]
    actor = {"admin": people.admin, "auditor": people.auditor, "worker": people.worker}[role]()
    at = AppTest.from_file(str(REPO / spec.path), default_timeout=60)
    at.session_state["gt_token"] = people.token(actor)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    texts = " ".join(str(e.value) for e in (*at.title, *at.header, *at.subheader, *at.markdown, *at.info, *at.warning))
    assert "needs the" not in texts  # not turned away: the role is enough
    assert not [e for e in at.error if "unexpected error" in str(e.value)]
