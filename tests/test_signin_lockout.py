"""A lockout that does not lock the rightful user out (SQLite and PostgreSQL): a client without failures gets in
while others lock the account; failures count per client and per account; an admin unlocks an account (roster,
CLI); a password reset clears the lock."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from gtcore.cli.command import main
from gtcore.context import Context
from gtcore.core.errors import InvalidCredentials, PermissionDenied, Throttled
from gtcore.workforce import invitations, roster, signin, throttle
from tests.fixtures.people import PASSWORD, People

PeopleFactory = Callable[[Context], People]
T0 = 2_000_000_000.0


def _lock(ctx: Context, email: str, t: float, rounds: int = 8) -> float:
    """Rotating clients guess, waiting out each lock and failing once more (the issue's attack): returns the time."""
    for i in range(throttle.ACCOUNT_LIMIT):
        with pytest.raises(InvalidCredentials):
            signin.sign_in(ctx, email, f"guess {i}", f"rotating-{i}", now=t + i)
    t += throttle.ACCOUNT_LIMIT
    for k in range(rounds):
        with ctx.db.read() as conn:
            until = throttle.locked_until(conn, email, t)
        assert until is not None
        t = until + 1  # the lock just ended
        with pytest.raises(InvalidCredentials):
            signin.sign_in(ctx, email, "another guess", f"rotating-{k % 3}", now=t)
    return t


def test_the_rightful_user_gets_in_while_others_lock_his_account(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    admin = p.root()
    t = _lock(any_ctx, admin.email, T0)
    with pytest.raises(Throttled, match="unlock"):  # a client that failed stays out, even with the password
        signin.sign_in(any_ctx, admin.email, PASSWORD, "rotating-1", now=t + 1)
    assert signin.throttle_retry_after(any_ctx, admin.email, "rotating-1", now=t + 1) > 0
    assert signin.throttle_retry_after(any_ctx, admin.email, "admin's laptop", now=t + 1) == 0
    s = signin.sign_in(any_ctx, admin.email, PASSWORD, "admin's laptop", now=t + 1)
    assert s.user_id == admin.user_id


def test_a_client_without_failures_is_slowed_not_refused(
    any_ctx: Context, people: PeopleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "GUARDED_SLOT_SECONDS", 2.0)
    monkeypatch.setattr(throttle, "GUARDED_MAX_WAIT", 3.0)
    w = people(any_ctx).worker()
    t = _lock(any_ctx, w.email, T0, rounds=1)
    first = throttle.reserve(any_ctx, w.email, "fresh-1", now=t + 1)
    second = throttle.reserve(any_ctx, w.email, "fresh-2", now=t + 1)  # the next slot: waits
    assert first.wait == 0 and second.wait == pytest.approx(2.0)
    with pytest.raises(Throttled, match="many failed sign-ins"):  # more than MAX_WAIT of slots taken
        throttle.reserve(any_ctx, w.email, "fresh-3", now=t + 1)


def test_failures_count_per_client_and_per_account(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    a, b = p.worker(), p.worker()
    for i in range(throttle.ACCOUNT_LIMIT - 1):  # one client, under the account's limit
        with pytest.raises(InvalidCredentials):
            signin.sign_in(any_ctx, a.email, "bad", "shared-nat", now=T0 + i)
    # another account from the same client is not locked by a's failures
    assert signin.sign_in(any_ctx, b.email, PASSWORD, "shared-nat", now=T0 + 10).user_id == b.user_id
    with pytest.raises(InvalidCredentials):
        signin.sign_in(any_ctx, a.email, "bad", "shared-nat", now=T0 + 11)
    with pytest.raises(Throttled):
        signin.sign_in(any_ctx, a.email, PASSWORD, "shared-nat", now=T0 + 12)
    assert signin.sign_in(any_ctx, b.email, PASSWORD, "shared-nat", now=T0 + 13).user_id == b.user_id


def test_an_admin_unlocks_an_account(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    admin, w = p.root(), p.worker()
    t = _lock(any_ctx, w.email, T0, rounds=2)
    locked = [r for r in roster.list_workers(any_ctx, admin, now=t + 1) if r.user_id == w.user_id][0]
    assert locked.sign_in_locked_until is not None and locked.sign_in_locked_until > t + 1
    with pytest.raises(PermissionDenied):
        roster.unlock_sign_in(any_ctx, w, w.user_id)
    assert roster.unlock_sign_in(any_ctx, admin, w.user_id) is True
    assert signin.sign_in(any_ctx, w.email, PASSWORD, "rotating-1", now=t + 2).user_id == w.user_id


def test_a_password_reset_clears_the_lock(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    admin, w = p.root(), p.worker()
    t = _lock(any_ctx, w.email, T0, rounds=1)
    d = invitations.reset_password(p._quiet, admin, w.user_id, now=t)
    assert d.temporary_password
    s = signin.sign_in(any_ctx, w.email, d.temporary_password, "rotating-1", now=t + 1)
    assert s.must_change_password


def test_cli_unlock_user(
    any_ctx: Context, people: PeopleFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    w = people(any_ctx).worker()
    t = _lock(any_ctx, w.email, T0, rounds=1)
    settings = any_ctx.settings
    monkeypatch.setenv("GT_HOME", str(settings.home))
    monkeypatch.setenv("GT_DATABASE_URL", settings.database_url)
    assert main(["unlock-user", "--email", w.email.upper()]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["unlocked"] is True and out["had_failures"] is True
    assert signin.sign_in(any_ctx, w.email, PASSWORD, "rotating-1", now=t + 1).user_id == w.user_id
    assert main(["unlock-user", "--email", "nobody@example.test"]) != 0


def test_a_client_only_reservation_for_other_secrets(any_ctx: Context) -> None:
    """The API's failed signatures count per client like failed sign-ins (signin.reserve_client / settle_attempt)."""
    for i in range(throttle.CLIENT_LIMIT):
        r = signin.reserve_client(any_ctx, "api:10.0.0.7", now=T0 + i)
        signin.settle_attempt(any_ctx, r, False, now=T0 + i)
    with pytest.raises(Throttled):
        signin.reserve_client(any_ctx, "api:10.0.0.7", now=T0 + throttle.CLIENT_LIMIT)
    good = signin.reserve_client(any_ctx, "api:10.0.0.8", now=T0)  # another client is not affected
    signin.settle_attempt(any_ctx, good, True, now=T0)
    assert throttle.retry_after(any_ctx, None, "api:10.0.0.8", now=T0 + 1) == 0


def test_the_workforce_page_shows_the_lock_and_unlocks(app_world: Any) -> None:
    from gtcore.core import db as dbm
    from tests.fixtures.labeling import app_as, open_page

    world = app_world
    w = world.worker("locked@example.test")
    now = dbm.now()
    for i in range(throttle.ACCOUNT_LIMIT):
        with pytest.raises(InvalidCredentials):
            signin.sign_in(world.ctx, w.email, f"guess {i}", f"rotating-{i}", now=now)
    at = open_page(app_as(world, world.admin), "pages/workforce.py")
    at.selectbox(key="wf_worker").select(w.user_id).run()
    assert not at.exception
    assert any("locked" in str(x.value) for x in at.warning), [x.value for x in at.warning]
    at.button(key="wf_unlock").click().run()
    assert not at.exception
    assert any("unlocked" in str(x.value) for x in at.info)
    assert signin.sign_in(world.ctx, w.email, PASSWORD, "rotating-1").user_id == w.user_id
