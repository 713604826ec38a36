"""Invitations, resends and resets: a real SMTP server (aiosmtpd) and the 0600 outbox."""

from __future__ import annotations

import re
import socket
import stat
from collections.abc import Callable
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import AUDITOR, WORKER
from gtcore.core.errors import (
    Conflict,
    InvalidCredentials,
    NotFound,
    PasswordChangeRequired,
    SessionExpired,
    ValidationError,
)
from gtcore.workforce import invitations, roster, signin, teams
from gtcore.workforce import users as workforce
from tests.fixtures.core import make_settings
from tests.fixtures.people import PASSWORD, People
from tests.fixtures.services import SmtpServer

PeopleFactory = Callable[[Context], People]


def _body(msg: Message) -> str:
    part = msg.get_payload(decode=True)
    assert isinstance(part, bytes)
    return part.decode()


def _temp_password(text: str) -> str:
    m = re.search(r"Temporary password: (\S+)", text)
    assert m, text
    return m.group(1)


def _user_count(ctx: Context) -> int:
    with ctx.db.read() as c:
        return int(c.execute(select(func.count()).select_from(dbm.users)).scalar_one())


@pytest.fixture
def smtp_ctx(tmp_path: Path, smtp_server: SmtpServer) -> Context:
    env = smtp_server.env() | {"GT_PORTAL_URL": "https://label.example.test/portal"}
    c = Context.from_settings(make_settings(tmp_path, **env))
    yield c  # type: ignore[misc]
    c.db.dispose()


def test_invitation_by_smtp_then_first_sign_in(
    smtp_ctx: Context, smtp_server: SmtpServer, people: PeopleFactory
) -> None:
    admin = people(smtp_ctx).admin()
    teams.create_team(smtp_ctx, admin, "night-shift")
    result = invitations.invite(smtp_ctx, admin, "Ann@Example.com\nbob@example.com", "night-shift")
    assert [d.email for d in result.invited] == ["Ann@Example.com", "bob@example.com"]
    assert all(d.delivery == "smtp" and d.temporary_password is None for d in result.invited)
    assert not smtp_ctx.settings.outbox.exists() or not any(smtp_ctx.settings.outbox.iterdir())
    assert len(smtp_server.messages) == 2
    msg = next(m for m in smtp_server.messages if m["To"] == "Ann@Example.com")
    assert msg["From"] == "labeling@example.test"
    assert "invited" in msg["Subject"]
    text = _body(msg)
    assert "https://label.example.test/portal" in text and "night-shift" in text and "Ann@Example.com" in text
    temp = _temp_password(text)

    # first sign-in with the mailed password: a password change is forced
    s = signin.sign_in(smtp_ctx, "ann@example.com", temp, "browser-1")
    assert s.must_change_password
    with pytest.raises(PasswordChangeRequired):
        workforce.actor_for_token(smtp_ctx, s.token)
    signin.change_password(smtp_ctx, s.token, temp, "ann's own password")
    again = signin.sign_in(smtp_ctx, "ANN@example.com", "ann's own password", "browser-1")
    actor = workforce.actor_for_token(smtp_ctx, again.token)
    assert actor.roles == {WORKER} and actor.team_ids == {teams.get_team(smtp_ctx, admin, "night-shift").id}
    with smtp_ctx.db.read() as c:
        rows = c.execute(select(dbm.invitations.c.delivery, dbm.invitations.c.delivered_to)).all()
    assert [tuple(r) for r in rows] == [("smtp", "127.0.0.1")] * 2


def test_outbox_delivery_is_private_and_shown_once(ctx: Context, people: PeopleFactory) -> None:
    admin = people(ctx).admin()
    teams.create_team(ctx, admin, "t1")
    result = invitations.invite(ctx, admin, ["w@example.com"], "t1")
    (d,) = result.invited
    assert d.delivery == "outbox" and d.temporary_password and d.error is None
    path = Path(d.delivered_to)
    assert path.parent == ctx.settings.outbox
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(ctx.settings.outbox.stat().st_mode) == 0o700
    text = path.read_text()
    assert _temp_password(text) == d.temporary_password
    assert "To: w@example.com" in text and ctx.settings.portal_url in text
    assert not [p for p in ctx.settings.outbox.iterdir() if p.name.startswith(".")]  # no temp files left
    assert "temporary_password" not in repr(d)  # never printed by accident
    assert signin.sign_in(ctx, "w@example.com", d.temporary_password, "c").must_change_password


def test_malformed_listed_valid_invited_duplicates_collapsed(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    admin = p.admin()
    p.team("t1")
    before = _user_count(any_ctx)
    text = (
        "good1@example.com, GOOD1@example.com; good2@example.com\n"
        'not-an-email\n<script>alert(1)</script>@x.com\n"><img src=x onerror=alert(1)>\ngood1@EXAMPLE.COM'
    )
    result = invitations.invite(any_ctx, admin, text, "t1")
    assert sorted(d.email for d in result.invited) == ["good1@example.com", "good2@example.com"]
    bad = [str(pr) for pr in result.problems]
    assert len(bad) == 5  # spaces separate addresses too: the <img ...> line is three bad entries
    assert any("'not-an-email'" in b for b in bad)
    assert any("<script>alert(1)</script>@x.com" in b for b in bad)
    assert _user_count(any_ctx) == before + 2
    # invited again (other letter case): no second account, no password change, joins the other team
    t2 = p.team("t2")
    uid = roster.find_user_id(any_ctx, admin, "good2@example.com")
    with any_ctx.db.read() as c:
        hash_before = c.execute(select(dbm.users.c.password_hash).where(dbm.users.c.id == uid)).scalar_one()
    again = invitations.invite(any_ctx, admin, ["Good2@Example.com"], t2)
    assert again.invited == [] and again.existing == ["Good2@Example.com"]
    assert _user_count(any_ctx) == before + 2
    assert workforce.actor_for(any_ctx, uid).team_ids == {p.team("t1"), t2}
    with any_ctx.db.read() as c:
        assert c.execute(select(dbm.users.c.password_hash).where(dbm.users.c.id == uid)).scalar_one() == hash_before


def test_limits_and_unknown_team(ctx: Context, people: PeopleFactory) -> None:
    p = people(ctx)
    admin = p.admin()
    p.team("t1")
    before = _user_count(ctx)
    many = [f"w{i}@example.com" for i in range(51)]
    with pytest.raises(ValidationError, match="at most 50"):
        invitations.invite(ctx, admin, many, "t1")
    with pytest.raises(NotFound, match="no-such-team"):
        invitations.invite(ctx, admin, ["a@example.com"], "no-such-team")
    with pytest.raises(ValidationError, match="unknown role"):
        invitations.invite(ctx, admin, ["a@example.com"], "t1", roles=["superuser"])
    assert _user_count(ctx) == before
    empty = invitations.invite(ctx, admin, " ,, \n", "t1")
    assert empty.invited == [] and "no e-mail address" in str(empty.problems[0])
    # 50 distinct addresses (plus case duplicates) are fine
    fifty = [f"w{i}@example.com" for i in range(50)] + ["W0@example.com"]
    assert len(invitations.invite(ctx, admin, fifty, "t1").invited) == 50


def test_roles_and_no_team(ctx: Context, people: PeopleFactory) -> None:
    admin = people(ctx).admin()
    (d,) = invitations.invite(ctx, admin, "audit@example.com", None, roles="auditor").invited
    assert workforce.actor_for(ctx, d.user_id).roles == {AUDITOR}
    assert workforce.actor_for(ctx, d.user_id).team_ids == frozenset()
    assert "work team" not in Path(d.delivered_to).read_text()


def test_a_worker_needs_a_team(ctx: Context, people: PeopleFactory) -> None:
    """Issue 18.3: a worker invited into no team was invited silently and then saw no jobs."""
    admin = people(ctx).admin()
    for roles in (["worker"], ["worker", "auditor"]):
        with pytest.raises(ValidationError, match="choose the work team"):
            invitations.invite(ctx, admin, ["lonely@example.com"], None, roles=roles)
    with ctx.db.read() as conn:  # refused before anything was stored
        assert conn.execute(select(func.count()).where(dbm.users.c.email_lower == "lonely@example.com")).scalar() == 0


def _dead_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_smtp_down_falls_back_to_outbox(tmp_path: Path, people: PeopleFactory) -> None:
    env = {"GT_SMTP_HOST": "127.0.0.1", "GT_SMTP_PORT": str(_dead_port()), "GT_SMTP_STARTTLS": "0"}
    c = Context.from_settings(make_settings(tmp_path, **env))
    p = people(c)
    admin = p.admin()
    (d,) = invitations.invite(c, admin, ["w@example.com"], p.team("t1")).invited
    assert d.delivery == "outbox" and d.temporary_password and "not usable" in (d.error or "")
    assert Path(d.delivered_to).is_file()
    c.db.dispose()


def test_starttls_required_but_not_offered_is_not_sent_in_clear(
    tmp_path: Path, smtp_server: SmtpServer, people: PeopleFactory
) -> None:
    c = Context.from_settings(make_settings(tmp_path, **(smtp_server.env() | {"GT_SMTP_STARTTLS": "1"})))
    p = people(c)
    admin = p.admin()
    (d,) = invitations.invite(c, admin, ["w@example.com"], p.team("t1")).invited
    assert smtp_server.messages == []
    assert d.delivery == "outbox" and "STARTTLS" in (d.error or "").upper()
    c.db.dispose()


def test_resend_invitation(smtp_ctx: Context, smtp_server: SmtpServer, people: PeopleFactory) -> None:
    p = people(smtp_ctx)
    admin = p.admin()
    (d,) = invitations.invite(smtp_ctx, admin, ["late@example.com"], p.team("t1")).invited
    first = _temp_password(_body(smtp_server.messages[-1]))
    again = invitations.resend_invitation(smtp_ctx, admin, d.user_id)
    assert again.delivery == "smtp" and again.kind == "invitation"
    text = _body(smtp_server.messages[-1])
    second = _temp_password(text)
    assert second != first and "t1" in text
    with pytest.raises(InvalidCredentials):
        signin.sign_in(smtp_ctx, "late@example.com", first, "c")
    s = signin.sign_in(smtp_ctx, "late@example.com", second, "c")
    signin.change_password(smtp_ctx, s.token, second, "now my own password")
    with pytest.raises(Conflict, match="reset the password"):
        invitations.resend_invitation(smtp_ctx, admin, d.user_id)
    with pytest.raises(NotFound):
        invitations.resend_invitation(smtp_ctx, admin, 98765)


def test_reset_password_ends_sessions(ctx: Context, people: PeopleFactory) -> None:
    p = people(ctx)
    admin = p.admin()
    w = p.worker()
    token = p.token(w)
    d = invitations.reset_password(ctx, admin, w.user_id)
    assert d.kind == "reset" and d.temporary_password
    assert "reset" in Path(d.delivered_to).read_text()
    with pytest.raises(SessionExpired):
        workforce.actor_for_token(ctx, token)
    with pytest.raises(InvalidCredentials):
        signin.sign_in(ctx, w.email, PASSWORD, "c")
    s = signin.sign_in(ctx, w.email, d.temporary_password, "c")
    assert s.must_change_password
    assert roster.get_user(ctx, admin, w.user_id).status == "Invited"
    with pytest.raises(Conflict, match="Account page"):
        invitations.reset_password(ctx, admin, admin.user_id or 0)


def test_parse_emails() -> None:
    assert invitations.parse_emails("a@x.io, b@x.io;c@x.io\n d@x.io\t e@x.io") == [
        "a@x.io",
        "b@x.io",
        "c@x.io",
        "d@x.io",
        "e@x.io",
    ]
    assert invitations.parse_emails(["a@x.io b@x.io", "c@x.io"]) == ["a@x.io", "b@x.io", "c@x.io"]
