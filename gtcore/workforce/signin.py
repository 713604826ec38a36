"""Sign-in, sessions and failed-sign-in throttling.

- ``sign_in`` checks the e-mail and password (same error for an unknown user and a wrong password,
  and the same KDF cost), throttles repeated failures per account and per client, and opens a
  session: a random bearer token of which only the sha256 is stored.
- A session ends after ``Settings.session_idle_seconds`` without use, after
  ``Settings.session_max_seconds`` in all, on sign-out, when the password changes, or when the
  user is disabled (``workforce.actor_for_token`` checks the user on every call).
- A user signed in with a temporary password must ``change_password`` before doing anything else.

Throttling (table ``login_throttle``, keys ``account:<email>`` and ``client:<id>``): after
``ACCOUNT_LIMIT`` (per account) or ``CLIENT_LIMIT`` (per client) failures, each further failure locks
the key for ``BASE_LOCK_SECONDS * 2**k`` (capped at ``MAX_LOCK_SECONDS``). Counters are forgotten
after ``WINDOW_SECONDS`` without failures and without a lock; a successful sign-in clears the
account counter (not the client counter, so one's own account cannot reset a guessing client).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import Connection, delete, func, or_, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import ADMIN
from gtcore.core.errors import Conflict, InvalidCredentials, SessionExpired, Throttled
from gtcore.core.settings import Settings
from gtcore.workforce import passwords

ACCOUNT_LIMIT = 5
CLIENT_LIMIT = 20
BASE_LOCK_SECONDS = 30.0
MAX_LOCK_SECONDS = 3600.0
WINDOW_SECONDS = 15 * 60.0
# last_seen_at is written at most this often, so a page rerun is usually a read only
TOUCH_SECONDS = 30.0

_BAD_CREDENTIALS = "wrong e-mail address or password"


@dataclass(frozen=True)
class SignIn:
    """An open session. ``token`` goes to the browser session; the database keeps only its sha256."""

    token: str
    user_id: int
    email: str
    must_change_password: bool
    expires_at: float  # the absolute end of the session


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now(now: float | None) -> float:
    return dbm.now() if now is None else now


# --- throttling -----------------------------------------------------------------------------------------


def account_key(email: str) -> str:
    return "account:" + email.strip().lower()[:380]


def client_key(client_id: str) -> str:
    return "client:" + (client_id.strip() or "unknown")[:380]


def _retry_after(conn: Connection, keys: list[str], now: float) -> float:
    rows = conn.execute(select(dbm.login_throttle.c.locked_until).where(dbm.login_throttle.c.key.in_(keys))).all()
    return max([r.locked_until - now for r in rows if r.locked_until and r.locked_until > now] + [0.0])


def _check_throttle(ctx: Context, keys: list[str], now: float) -> None:
    with ctx.db.read() as conn:
        wait = _retry_after(conn, keys, now)
    if wait > 0:
        raise Throttled(f"too many failed sign-ins: try again in {int(wait) + 1} seconds", retry_after=wait)


def _dialect_insert(conn: Connection) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _record_failure(conn: Connection, key: str, limit: int, now: float) -> None:
    t = dbm.login_throttle
    insert = _dialect_insert(conn)
    conn.execute(insert(t).values(key=key, failures=0, window_start=now).on_conflict_do_nothing())
    row = conn.execute(select(t).where(t.c.key == key).with_for_update()).one()
    failures = row.failures
    quiet_since = max(row.window_start, row.locked_until or 0.0)
    if now - quiet_since > WINDOW_SECONDS:
        failures = 0  # forgotten: no failure and no lock for a whole window
    failures += 1
    locked_until = row.locked_until
    if failures >= limit:
        locked_until = now + min(MAX_LOCK_SECONDS, BASE_LOCK_SECONDS * 2 ** (failures - limit))
    # window_start holds the time of the latest failure
    conn.execute(update(t).where(t.c.key == key).values(failures=failures, window_start=now, locked_until=locked_until))


def _fail(ctx: Context, email: str, client_id: str | None, now: float, message: str = _BAD_CREDENTIALS) -> NoReturn:
    with ctx.db.write() as conn:
        _record_failure(conn, account_key(email), ACCOUNT_LIMIT, now)
        if client_id is not None:
            _record_failure(conn, client_key(client_id), CLIENT_LIMIT, now)
    raise InvalidCredentials(message)


def throttle_retry_after(ctx: Context, email: str, client_id: str, now: float | None = None) -> float:
    """Seconds until ``email`` from ``client_id`` may try again (0 when not throttled)."""
    with ctx.db.read() as conn:
        return _retry_after(conn, [account_key(email), client_key(client_id)], _now(now))


def record_failed_attempt(ctx: Context, email: str, client_id: str | None, now: float | None = None) -> None:
    """Count one failure for ``email`` (and ``client_id``) exactly as a wrong password does: the API's bad
    signatures use it, so guessing a secret is throttled like guessing a password."""
    with contextlib.suppress(InvalidCredentials):
        _fail(ctx, email, client_id, _now(now))


# --- sessions -------------------------------------------------------------------------------------------


def _open_session(conn: Connection, settings: Settings, user_id: int, now: float) -> tuple[str, float]:
    token = secrets.token_urlsafe(32)
    conn.execute(
        dbm.login_sessions.insert().values(
            token_hash=token_hash(token), user_id=user_id, created_at=now, last_seen_at=now, revoked=False
        )
    )
    return token, now + settings.session_max_seconds


def live_session(conn: Connection, settings: Settings, token: str | None, now: float) -> tuple[int, bool]:
    """(user id, whether last_seen_at is due a write) of a live session; SessionExpired otherwise."""
    if not token:
        raise SessionExpired("you are not signed in")
    s = dbm.login_sessions
    row = conn.execute(select(s).where(s.c.token_hash == token_hash(token))).first()
    if row is None or row.revoked:
        raise SessionExpired("you are signed out: sign in again")
    if now - row.created_at > settings.session_max_seconds:
        raise SessionExpired("your session reached its maximum length: sign in again")
    if now - row.last_seen_at > settings.session_idle_seconds:
        raise SessionExpired("you were signed out after a period without activity: sign in again")
    return int(row.user_id), now - row.last_seen_at > TOUCH_SECONDS


def touch_session(ctx: Context, token: str, now: float) -> None:
    """Record that the session was used at ``now`` (never moves backwards, never revives a revoked one)."""
    s = dbm.login_sessions
    with ctx.db.write() as conn:
        conn.execute(
            update(s)
            .where(s.c.token_hash == token_hash(token), s.c.last_seen_at < now, s.c.revoked.is_(False))
            .values(last_seen_at=now)
        )


def session_user_id(ctx: Context, token: str | None, now: float | None = None) -> int:
    """The user id of a live session (and mark it used); SessionExpired when it is not live."""
    t = _now(now)
    with ctx.db.read() as conn:
        user_id, due = live_session(conn, ctx.settings, token, t)
    if due and token:
        touch_session(ctx, token, t)
    return user_id


def revoke_sessions(conn: Connection, user_id: int) -> None:
    """End every session of ``user_id`` (inside the caller's write transaction)."""
    s = dbm.login_sessions
    conn.execute(update(s).where(s.c.user_id == user_id, s.c.revoked.is_(False)).values(revoked=True))


def sign_out(ctx: Context, token: str | None) -> None:
    """End the session of ``token`` (no error when it already ended)."""
    if not token:
        return
    with ctx.db.write() as conn:
        conn.execute(
            update(dbm.login_sessions).where(dbm.login_sessions.c.token_hash == token_hash(token)).values(revoked=True)
        )


def _purge_old_sessions(conn: Connection, settings: Settings, user_id: int, now: float) -> None:
    s = dbm.login_sessions
    conn.execute(
        delete(s).where(
            s.c.user_id == user_id,
            or_(
                s.c.revoked.is_(True),
                s.c.created_at < now - settings.session_max_seconds,
                s.c.last_seen_at < now - settings.session_idle_seconds,
            ),
        )
    )


# --- sign-in and password change -------------------------------------------------------------------------


def _user_by_email(ctx: Context, email: str) -> Any:
    u = dbm.users
    with ctx.db.read() as conn:
        return conn.execute(select(u).where(u.c.email_lower == email.strip().lower())).first()


def _temporary_expired(row: Any, now: float) -> bool:
    return bool(row.password_is_temporary) and (row.temp_password_expires_at or 0.0) < now


def sign_in(ctx: Context, email: str, password: str, client_id: str, now: float | None = None) -> SignIn:
    """Check the credentials and open a session.

    Raises:
        Throttled: too many recent failures for this account or this client.
        InvalidCredentials: unknown e-mail or wrong password (one message for both), a disabled
            account, or an expired temporary password.
    """
    t = _now(now)
    _check_throttle(ctx, [account_key(email), client_key(client_id)], t)
    row = _user_by_email(ctx, email)
    ok = passwords.verify_password(password, row.password_hash if row is not None else None)
    if row is None or not ok:
        _fail(ctx, email, client_id, t)
    if not row.is_active:
        raise InvalidCredentials("this account is disabled: ask your team lead to enable it")
    if _temporary_expired(row, t):
        raise InvalidCredentials("your temporary password has expired: ask your team lead to send a new one")
    if not ctx.settings.local_worker_signin and ADMIN not in (row.roles or "").split(","):
        raise InvalidCredentials("local sign-in is for administrators here: sign in through your organization")
    with ctx.db.write() as conn:
        conn.execute(delete(dbm.login_throttle).where(dbm.login_throttle.c.key == account_key(email)))
        conn.execute(update(dbm.users).where(dbm.users.c.id == row.id).values(last_login_at=t, failed_logins=0))
        _purge_old_sessions(conn, ctx.settings, row.id, t)
        token, expires = _open_session(conn, ctx.settings, row.id, t)
    return SignIn(token, int(row.id), row.email, bool(row.password_is_temporary), expires)


def change_password(
    ctx: Context, token: str, current_password: str, new_password: str, now: float | None = None
) -> SignIn:
    """Replace the signed-in user's password; every session of the user ends and a new one opens.

    Raises:
        SessionExpired: the token is not a live session.
        Throttled / InvalidCredentials: the current password is wrong (counted like a failed sign-in).
        ValidationError: the new password breaks a rule (every broken rule listed).
        Conflict: the password was changed or reset meanwhile.
    """
    t = _now(now)
    user_id = session_user_id(ctx, token, t)
    u = dbm.users
    with ctx.db.read() as conn:
        row = conn.execute(select(u).where(u.c.id == user_id)).one()
    if not row.is_active:
        raise SessionExpired("this account is disabled")
    _check_throttle(ctx, [account_key(row.email)], t)
    if not passwords.verify_password(current_password, row.password_hash):
        _fail(ctx, row.email, None, t, "the current password is wrong")
    if _temporary_expired(row, t):
        raise InvalidCredentials("your temporary password has expired: ask your team lead to send a new one")
    passwords.check_new_password(new_password, row.email, current_password)
    new_hash = passwords.hash_password(new_password)
    with ctx.db.write() as conn:
        changed = conn.execute(
            update(u)
            .where(u.c.id == user_id, u.c.password_hash == row.password_hash)
            .values(password_hash=new_hash, password_is_temporary=False, temp_password_expires_at=None)
        ).rowcount
        if changed != 1:
            raise Conflict("the password was changed or reset meanwhile: sign in again")
        revoke_sessions(conn, user_id)
        new_token, expires = _open_session(conn, ctx.settings, user_id, t)
    return SignIn(new_token, user_id, row.email, False, expires)


def live_session_count(ctx: Context, user_id: int, now: float | None = None) -> int:
    """How many sessions of ``user_id`` are live (for the admin table and tests)."""
    t = _now(now)
    s = dbm.login_sessions
    with ctx.db.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(s)
                .where(
                    s.c.user_id == user_id,
                    s.c.revoked.is_(False),
                    s.c.created_at >= t - ctx.settings.session_max_seconds,
                    s.c.last_seen_at >= t - ctx.settings.session_idle_seconds,
                )
            ).scalar_one()
        )
