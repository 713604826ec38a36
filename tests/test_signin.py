"""Sign-in, throttling per account and per client, sessions (idle and absolute expiry), password change."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import WORKER
from gtcore.core.errors import (
    Conflict,
    InvalidCredentials,
    PasswordChangeRequired,
    SessionExpired,
    Throttled,
    ValidationError,
)
from gtcore.workforce import roster, signin
from gtcore.workforce import users as workforce
from tests.fixtures.people import PASSWORD, People

PeopleFactory = Callable[[Context], People]
T0 = 2_000_000_000.0


def test_sign_in_stores_only_the_token_hash(any_ctx: Context, people: PeopleFactory) -> None:
    w = people(any_ctx).worker()
    s = signin.sign_in(any_ctx, w.email.upper(), PASSWORD, "client-1")
    assert s.user_id == w.user_id and not s.must_change_password
    assert len(s.token) >= 40
    with any_ctx.db.read() as c:
        rows = c.execute(select(dbm.login_sessions)).all()
    hashes = [r.token_hash for r in rows]
    assert hashlib.sha256(s.token.encode()).hexdigest() in hashes
    assert all(s.token not in str(tuple(r)) for r in rows)
    assert workforce.actor_for_token(any_ctx, s.token).email == w.email


def test_unknown_user_and_wrong_password_look_the_same(any_ctx: Context, people: PeopleFactory) -> None:
    w = people(any_ctx).worker()
    with pytest.raises(InvalidCredentials) as wrong:
        signin.sign_in(any_ctx, w.email, "not the password", "c")
    with pytest.raises(InvalidCredentials) as unknown:
        signin.sign_in(any_ctx, "nobody@example.com", "not the password", "c")
    assert type(wrong.value) is type(unknown.value)
    assert str(wrong.value) == str(unknown.value) == "wrong e-mail address or password"


def test_account_throttle_exponential(any_ctx: Context, people: PeopleFactory) -> None:
    w = people(any_ctx).worker()
    for i in range(signin.ACCOUNT_LIMIT):
        with pytest.raises(InvalidCredentials):
            signin.sign_in(any_ctx, w.email, f"guess {i}", f"client-{i}", now=T0 + i)
    # locked for every client that failed, even with the right password
    with pytest.raises(Throttled) as exc:
        signin.sign_in(any_ctx, w.email, PASSWORD, "client-1", now=T0 + 5)
    assert 0 < exc.value.retry_after <= signin.BASE_LOCK_SECONDS
    assert "try again in" in str(exc.value)
    # after the lock, one more failure locks twice as long
    t1 = T0 + 4 + signin.BASE_LOCK_SECONDS + 1
    with pytest.raises(InvalidCredentials):
        signin.sign_in(any_ctx, w.email, "guess 6", "client-2", now=t1)
    with pytest.raises(Throttled) as exc:
        signin.sign_in(any_ctx, w.email, PASSWORD, "client-2", now=t1 + 1)
    assert signin.BASE_LOCK_SECONDS < exc.value.retry_after <= 2 * signin.BASE_LOCK_SECONDS
    # a client without failures is not refused by the lock: the rightful user gets in
    assert signin.sign_in(any_ctx, w.email, PASSWORD, "the-real-user", now=t1 + 2).user_id == w.user_id
    # unknown accounts are throttled the same way (no way to tell them apart)
    for i in range(signin.ACCOUNT_LIMIT):
        with pytest.raises(InvalidCredentials):
            signin.sign_in(any_ctx, "ghost@example.com", "x", f"k{i}", now=T0 + i)
    with pytest.raises(Throttled):
        signin.sign_in(any_ctx, "ghost@example.com", "x", "k3", now=T0 + 6)


def test_success_clears_account_counter(any_ctx: Context, people: PeopleFactory) -> None:
    w = people(any_ctx).worker()
    for _round in range(3):
        for i in range(signin.ACCOUNT_LIMIT - 1):
            with pytest.raises(InvalidCredentials):
                signin.sign_in(any_ctx, w.email, "bad", "c", now=T0 + i)
        signin.sign_in(any_ctx, w.email, PASSWORD, "c", now=T0 + 10)
    assert signin.throttle_retry_after(any_ctx, w.email, "other", now=T0 + 11) == 0


def test_failures_forgotten_after_quiet_window(any_ctx: Context, people: PeopleFactory) -> None:
    w = people(any_ctx).worker()
    for i in range(signin.ACCOUNT_LIMIT - 1):
        with pytest.raises(InvalidCredentials):
            signin.sign_in(any_ctx, w.email, "bad", "c", now=T0 + i)
    later = T0 + signin.WINDOW_SECONDS + 10
    with pytest.raises(InvalidCredentials):  # counts as the first failure of a new window: no lock
        signin.sign_in(any_ctx, w.email, "bad", "c", now=later)
    assert signin.sign_in(any_ctx, w.email, PASSWORD, "c", now=later + 1).user_id == w.user_id


def test_client_throttle_across_accounts(any_ctx: Context, people: PeopleFactory) -> None:
    w = people(any_ctx).worker()
    for i in range(signin.CLIENT_LIMIT):
        with pytest.raises(InvalidCredentials):
            signin.sign_in(any_ctx, f"user{i}@example.com", "bad", "10.0.0.9", now=T0 + i)
    with pytest.raises(Throttled):
        signin.sign_in(any_ctx, w.email, PASSWORD, "10.0.0.9", now=T0 + 30)
    # the account itself is fine from elsewhere, and a success does not reset the client counter
    assert signin.sign_in(any_ctx, w.email, PASSWORD, "10.0.0.10", now=T0 + 31).user_id == w.user_id
    assert signin.throttle_retry_after(any_ctx, "x@example.com", "10.0.0.9", now=T0 + 32) > 0


def test_idle_and_absolute_expiry(any_ctx: Context, people: PeopleFactory) -> None:
    w = people(any_ctx).worker()
    idle, most = any_ctx.settings.session_idle_seconds, any_ctx.settings.session_max_seconds
    s = signin.sign_in(any_ctx, w.email, PASSWORD, "c", now=T0)
    assert s.expires_at == T0 + most
    # idle: unused for longer than the idle time
    with pytest.raises(SessionExpired, match="without activity"):
        workforce.actor_for_token(any_ctx, s.token, now=T0 + idle + 1)
    # absolute: used often enough, but too old in all
    s = signin.sign_in(any_ctx, w.email, PASSWORD, "c", now=T0)
    t = T0
    while t + idle / 2 <= T0 + most:
        t += idle / 2
        assert workforce.actor_for_token(any_ctx, s.token, now=t).user_id == w.user_id
    with pytest.raises(SessionExpired, match="maximum length"):
        workforce.actor_for_token(any_ctx, s.token, now=T0 + most + 1)


def test_sign_out_and_bad_tokens(any_ctx: Context, people: PeopleFactory) -> None:
    w = people(any_ctx).worker()
    s = signin.sign_in(any_ctx, w.email, PASSWORD, "c")
    signin.sign_out(any_ctx, s.token)
    signin.sign_out(any_ctx, s.token)  # twice is fine
    for token in (s.token, "", None, "forged-token"):
        with pytest.raises(SessionExpired):
            workforce.actor_for_token(any_ctx, token)


def test_disabled_user_cannot_sign_in(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    w = p.worker()
    s = signin.sign_in(any_ctx, w.email, PASSWORD, "c")
    p.disable(w)
    with pytest.raises(SessionExpired):
        workforce.actor_for_token(any_ctx, s.token)
    with pytest.raises(InvalidCredentials, match="disabled"):
        signin.sign_in(any_ctx, w.email, PASSWORD, "c")
    with pytest.raises(InvalidCredentials, match="wrong e-mail"):
        signin.sign_in(any_ctx, w.email, "wrong password", "c")  # no hint without the password


def test_temporary_password_must_be_changed(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    uid, temp = p.invite([WORKER], "team-a", email="new.worker@example.com")
    s = signin.sign_in(any_ctx, "new.worker@example.com", temp, "c")
    assert s.must_change_password
    with pytest.raises(PasswordChangeRequired):
        workforce.actor_for_token(any_ctx, s.token)
    with pytest.raises(ValidationError) as exc:
        signin.change_password(any_ctx, s.token, temp, temp)
    assert "differ from the current" in str(exc.value)
    with pytest.raises(ValidationError, match="e-mail"):
        signin.change_password(any_ctx, s.token, temp, "New.Worker@example.com")
    with pytest.raises(ValidationError, match="at least 10"):
        signin.change_password(any_ctx, s.token, temp, "short")
    with pytest.raises(InvalidCredentials, match="current password is wrong"):
        signin.change_password(any_ctx, s.token, "not-the-temp", "my own good password")
    other = signin.sign_in(any_ctx, "new.worker@example.com", temp, "c")
    changed = signin.change_password(any_ctx, s.token, temp, "my own good password")
    assert not changed.must_change_password and changed.token != s.token
    for old in (s.token, other.token):  # every earlier session ended
        with pytest.raises(SessionExpired):
            workforce.actor_for_token(any_ctx, old)
    assert workforce.actor_for_token(any_ctx, changed.token).user_id == uid
    with pytest.raises(InvalidCredentials):
        signin.sign_in(any_ctx, "new.worker@example.com", temp, "c")
    again = signin.sign_in(any_ctx, "new.worker@example.com", "my own good password", "c")
    assert not again.must_change_password


def test_temporary_password_expires(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    _uid, temp = p.invite([WORKER], "team-a", email="late@example.com")
    days = any_ctx.settings.temp_password_days
    late = dbm.now() + days * 86400 + 60
    with pytest.raises(InvalidCredentials, match="expired"):
        signin.sign_in(any_ctx, "late@example.com", temp, "c", now=late)
    # signed in just before the end, changing just after it: refused
    s = signin.sign_in(any_ctx, "late@example.com", temp, "c", now=late - 120)
    with pytest.raises(InvalidCredentials, match="expired"):
        signin.change_password(any_ctx, s.token, temp, "a brand new password", now=late)


def test_change_password_loses_to_a_concurrent_reset(any_ctx: Context, people: PeopleFactory) -> None:
    """A reset between reading and writing the hash wins; the change is refused, not silently applied."""
    from gtcore.workforce import passwords

    p = people(any_ctx)
    w = p.worker()
    s = signin.sign_in(any_ctx, w.email, PASSWORD, "c")
    real_check = passwords.check_new_password

    def reset_meanwhile(new: str, email: str, current: str | None = None, name: str | None = None) -> None:
        real_check(new, email, current, name)
        with any_ctx.db.write() as c:
            c.execute(dbm.users.update().where(dbm.users.c.id == w.user_id).values(password_hash="scrypt$x$y$z"))

    passwords.check_new_password = reset_meanwhile  # type: ignore[assignment]
    try:
        with pytest.raises(Conflict):
            signin.change_password(any_ctx, s.token, PASSWORD, "a different good password")
    finally:
        passwords.check_new_password = real_check  # type: ignore[assignment]


def test_password_change_by_wrong_current_is_throttled(any_ctx: Context, people: PeopleFactory) -> None:
    w = people(any_ctx).worker()
    s = signin.sign_in(any_ctx, w.email, PASSWORD, "c", now=T0)
    for i in range(signin.ACCOUNT_LIMIT):
        with pytest.raises(InvalidCredentials):
            signin.change_password(any_ctx, s.token, f"guess {i}", "a different good password", now=T0 + i)
    with pytest.raises(Throttled):
        signin.change_password(any_ctx, s.token, PASSWORD, "a different good password", now=T0 + 6)


def test_database_holds_no_plain_passwords(any_ctx: Context, people: PeopleFactory) -> None:
    p = people(any_ctx)
    _uid, temp = p.invite([WORKER], "team-a")
    w = p.worker()
    roster.list_workers(any_ctx, p.admin())
    s = signin.sign_in(any_ctx, w.email, PASSWORD, "c")
    dump = []
    with any_ctx.db.read() as c:
        for table in dbm.metadata.sorted_tables:
            dump.extend(str(tuple(r)) for r in c.execute(select(table)).all())
    text = "\n".join(dump)
    assert temp not in text and PASSWORD not in text and s.token not in text
    assert "scrypt$n=16384,r=8,p=1$" in text
