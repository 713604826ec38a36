"""Every page in the menu exists and renders for a user holding one of its roles, without an exception."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gtcore.context import Context
from gtcore.settings import Settings
from gtcore.ui.nav import PAGES, PageSpec
from tests.fixtures.people import People

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def page_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    home = tmp_path / "gt-home"
    monkeypatch.setenv("GT_HOME", str(home))
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{home / 'gt.sqlite3'}")
    monkeypatch.setenv("GT_LOCAL_ROOTS", str(tmp_path))
    for name in ("GT_SMTP_HOST", "GT_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    c = Context.from_settings(Settings.from_env())
    yield c
    c.db.dispose()


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
