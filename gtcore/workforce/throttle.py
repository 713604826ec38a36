"""Failed-sign-in throttling, counted BEFORE the password is checked, atomically in the database.

Table ``login_throttle``, one row per key: ``account:<email>`` and ``client:<id>`` (``client_id`` is what the
caller knows of the connection: an IP address, a per-session id). Every attempt first *reserves* one unit on
its keys in a write transaction that locks the rows (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``SELECT ... FOR
UPDATE``, rows locked in key order), so however many threads or processes try at once, no more passwords are
checked than the rules below allow. The reservation is settled after the check: a success gives the unit
back, a failure keeps it.

The rules (``README.md``, "Sign-in throttling"):

- **Per client**: ``CLIENT_LIMIT`` failures; from then on each further attempt locks the client for
  ``BASE_LOCK_SECONDS * 2**k`` (capped at ``MAX_LOCK_SECONDS``), for every account.
- **Per account**: ``ACCOUNT_LIMIT`` failures (from any clients); from then on each further attempt locks the
  account for ``BASE_LOCK_SECONDS * 2**k``. The lock refuses only clients that have failed recently (on any
  account). A client with no recent failure is never refused by the account's lock: it is *slowed*, taking
  the account's next slot (one check per ``GUARDED_SLOT_SECONDS``, waited for in the request). Only when more
  than ``GUARDED_MAX_WAIT`` seconds of slots are already taken is it refused with the time to wait.
- The right password clears its account's failures (not the client's: one's own account cannot reset a
  guessing client). Counters are forgotten after ``WINDOW_SECONDS`` without a failure and without a lock; an
  admin can clear an account (``roster.unlock_sign_in``: the Workforce page, ``gtcore unlock-user``), and a
  password reset clears it.

So the rightful user, signing in from a client with no recent failure, gets in even while someone else locks
his account from many addresses, and the number of password checks per account is bounded by
``ACCOUNT_LIMIT`` plus one per lock expiry plus one per ``GUARDED_SLOT_SECONDS``.

Public API (also used for failed API signatures): ``reserve`` / ``reserve_client`` give a ``Reservation``,
``settle(ctx, reservation, ok)`` ends it, ``retry_after`` tells how long a client must wait; ``clear_account``
and ``locked_until`` serve the admin's side (``gtcore.workforce.roster``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import Throttled

ACCOUNT_LIMIT = 5
CLIENT_LIMIT = 20
BASE_LOCK_SECONDS = 30.0
MAX_LOCK_SECONDS = 3600.0
WINDOW_SECONDS = 15 * 60.0
GUARDED_SLOT_SECONDS = 10.0
GUARDED_MAX_WAIT = 30.0


@dataclass(frozen=True)
class Reservation:
    """One attempt counted before its check. ``wait``: seconds the caller must wait before checking (a slowed
    attempt on a locked account from a client without failures)."""

    keys: tuple[str, ...]
    wait: float
    at: float


@dataclass
class _Row:
    key: str
    failures: int
    last_failure: float
    locked_until: float | None
    next_slot_at: float | None

    @property
    def limit(self) -> int:
        return ACCOUNT_LIMIT if self.key.startswith("account:") else CLIENT_LIMIT


def account_key(email: str) -> str:
    return "account:" + email.strip().lower()[:380]


def client_key(client_id: str) -> str:
    return "client:" + (client_id.strip() or "unknown")[:380]


def _in(address: str, networks: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip()) == ipaddress.ip_address(b.strip())
    except ValueError:
        return a.strip() == b.strip()


def client_address(peer: str | None, forwarded_for: str, trusted_proxies: Sequence[str]) -> str | None:
    """Who is connecting: the socket's ``peer`` address, unless the peer is one of ``trusted_proxies`` (the
    setting ``GT_TRUSTED_PROXIES``); then ``X-Forwarded-For`` is read from its end, past every trusted proxy,
    and the first address not trusted is the client (a client cannot choose its identity by sending the header:
    whatever it writes stays left of what our proxies append). A peer the web server itself rewrote from an
    untrusted proxy's header is one shared identity."""
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    if peer and hops and _same_ip(peer, hops[-1]) and not _in("127.0.0.1", trusted_proxies):
        # the web server already replaced the socket's address with the header's last hop (uvicorn does for
        # loopback peers unless FORWARDED_ALLOW_IPS says otherwise): a proxy we do not trust named the client,
        # so every such connection is one client
        return "forwarded-by-untrusted-proxy"
    if not peer or not _in(peer, trusted_proxies):
        return peer or None
    client = peer
    while hops and _in(client, trusted_proxies):
        client = hops.pop()
        try:
            client = str(ipaddress.ip_address(client))
        except ValueError:
            return client[:100]  # garbage from the proxy chain: still one identity, not the peer's
    return client


def _now(now: float | None) -> float:
    return dbm.now() if now is None else now


def _lock_seconds(failures: int, limit: int) -> float:
    return min(MAX_LOCK_SECONDS, BASE_LOCK_SECONDS * 2 ** max(0, failures - limit))


def _dialect_insert(conn: Connection) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _locked_row(conn: Connection, key: str, now: float) -> _Row:
    """The row of ``key``, locked for this transaction, its counters forgotten when quiet for a window."""
    t = dbm.login_throttle
    conn.execute(_dialect_insert(conn)(t).values(key=key, failures=0, window_start=now).on_conflict_do_nothing())
    r = conn.execute(select(t).where(t.c.key == key).with_for_update()).one()
    row = _Row(key, int(r.failures), float(r.window_start), r.locked_until, r.next_slot_at)
    quiet_since = max(row.last_failure, row.locked_until or 0.0, row.next_slot_at or 0.0)
    if now - quiet_since > WINDOW_SECONDS:
        row.failures, row.locked_until, row.next_slot_at = 0, None, None
    return row


def _save(conn: Connection, row: _Row) -> None:
    t = dbm.login_throttle
    conn.execute(
        update(t)
        .where(t.c.key == row.key)
        .values(
            failures=row.failures,
            window_start=row.last_failure,
            locked_until=row.locked_until,
            next_slot_at=row.next_slot_at,
        )
    )


def _seconds(wait: float) -> int:
    return int(wait) + 1


def _take(row: _Row, now: float) -> None:
    """Count one attempt on ``row`` (a failure until settled); past the limit it locks the key."""
    row.failures += 1
    row.last_failure = now
    if row.failures >= row.limit:
        row.locked_until = now + _lock_seconds(row.failures, row.limit)


def _reserve(conn: Connection, account: str | None, client: str, now: float) -> Reservation:
    keys = sorted(k for k in (account, client) if k)  # one lock order for every transaction
    rows = {k: _locked_row(conn, k, now) for k in keys}
    cli = rows[client]
    if cli.locked_until and cli.locked_until > now:
        wait = cli.locked_until - now
        raise Throttled(f"too many failed sign-ins from here: try again in {_seconds(wait)} seconds", retry_after=wait)
    wait = 0.0
    if account is not None:
        acc = rows[account]
        if acc.locked_until and acc.locked_until > now:
            if cli.failures > 0:  # this client failed recently: the account's lock holds for it
                until = max(acc.locked_until, 0.0) - now
                raise Throttled(
                    f"too many failed sign-ins for this account: try again in {_seconds(until)} seconds "
                    "(or ask an administrator to unlock it)",
                    retry_after=until,
                )
            slot = max(acc.next_slot_at or now, now)  # a client without failures is slowed, not refused
            wait = slot - now
            if wait > GUARDED_MAX_WAIT:
                later = wait - GUARDED_MAX_WAIT
                raise Throttled(
                    f"this account is receiving many failed sign-ins: try again in {_seconds(later)} seconds",
                    retry_after=later,
                )
            acc.next_slot_at = slot + GUARDED_SLOT_SECONDS
            acc.failures += 1
            acc.last_failure = now
        else:
            _take(acc, now)
    _take(cli, now)
    for row in rows.values():
        _save(conn, row)
    return Reservation(tuple(keys), wait, now)


def reserve(ctx: Context, email: str, client_id: str | None, now: float | None = None) -> Reservation:
    """Count one sign-in attempt for ``email`` from ``client_id`` before its password is checked.

    ``client_id`` None (a password change of a signed-in user) counts on the account only, as a client with
    recent failures would. Raises Throttled (with ``retry_after``) when the rules refuse the attempt; then
    nothing is counted.
    """
    t = _now(now)
    with ctx.db.write() as conn:
        if client_id is None:
            acc = _locked_row(conn, account_key(email), t)
            if acc.locked_until and acc.locked_until > t:
                wait = acc.locked_until - t
                raise Throttled(
                    f"too many failed attempts for this account: try again in {_seconds(wait)} seconds",
                    retry_after=wait,
                )
            _take(acc, t)
            _save(conn, acc)
            return Reservation((acc.key,), 0.0, t)
        return _reserve(conn, account_key(email), client_key(client_id), t)


def reserve_client(ctx: Context, client_id: str, now: float | None = None) -> Reservation:
    """Count one attempt of ``client_id`` (no account: e.g. a request signature) before it is checked;
    Throttled when the client is locked. Settle it with ``settle``."""
    t = _now(now)
    with ctx.db.write() as conn:
        return _reserve(conn, None, client_key(client_id), t)


def settle(ctx: Context, reservation: Reservation, ok: bool, now: float | None = None) -> None:
    """End ``reservation``: a success clears the account's failures and lock and gives the client its unit back
    (lifting a lock only that unit made); a failure keeps the units (already counted)."""
    if not ok:
        return
    t = _now(now)
    with ctx.db.write() as conn:
        for key in reservation.keys:
            row = _locked_row(conn, key, t)
            # the right password clears its account's failures; a client only gets its unit back
            row.failures = 0 if key.startswith("account:") else max(0, row.failures - 1)
            if row.failures < row.limit:
                row.locked_until = None
            _save(conn, row)


def retry_after(ctx: Context, email: str | None, client_id: str, now: float | None = None) -> float:
    """Seconds until ``client_id`` may try again (for ``email`` when given); 0 when it may try now. A client
    without recent failures waits for a locked account only when its slots are full."""
    t = _now(now)
    keys = [client_key(client_id)] + ([account_key(email)] if email else [])
    tb = dbm.login_throttle
    with ctx.db.read() as conn:
        rows = {r.key: r for r in conn.execute(select(tb).where(tb.c.key.in_(keys))).all()}
    waits = [0.0]
    cli = rows.get(keys[0])
    clean = cli is None or not cli.failures or t - max(cli.window_start, cli.locked_until or 0.0) > WINDOW_SECONDS
    if cli is not None and cli.locked_until:
        waits.append(cli.locked_until - t)
    acc = rows.get(keys[1]) if email else None
    if acc is not None and acc.locked_until and acc.locked_until > t:
        waits.append((acc.next_slot_at or t) - t - GUARDED_MAX_WAIT if clean else acc.locked_until - t)
    return max(waits)


# --- the admin's side ------------------------------------------------------------------------------------


def clear_account(conn: Connection, email: str) -> bool:
    """Forget the failures and the lock of ``email`` (inside the caller's write transaction)."""
    return bool(conn.execute(delete(dbm.login_throttle).where(dbm.login_throttle.c.key == account_key(email))).rowcount)


def locked_until(conn: Connection, email: str, now: float) -> float | None:
    """When the lock of ``email`` ends (None when not locked)."""
    t = dbm.login_throttle
    value = conn.execute(select(t.c.locked_until).where(t.c.key == account_key(email))).scalar_one_or_none()
    return float(value) if value and value > now else None
