"""API access keys: an access key id and a secret per user, for SigV4-signed calls to ``/api/sagemaker``.

- ``create_access_key`` makes a key for a user (the user himself, or an admin for anyone) and returns the
  secret ONCE; the database keeps it only sealed with the server key (``GT_SECRET_KEY``, through
  ``gtcore.core.sealing``, the one rule for every stored secret), because verifying a SigV4 signature needs the
  secret itself (a hash would not do). Several comma-separated server keys rotate it (the first seals, every one
  unseals). There is no default server key: without one, keys can be neither made nor used.
- ``delete_access_key`` revokes a key (the row goes; the next call with it is UnrecognizedClientException).
- ``secret_for`` gives the API server the key's owner and decrypted secret.
- At most ``MAX_KEYS_PER_USER`` keys per user (IAM's limit of 2), so rotating means make one, switch, delete one.

Ids look like IAM's (20 characters, ``AKGT`` + 16 upper-case letters and digits); secrets are 40 characters.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, func, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import sealing
from gtcore.core.access import ADMIN, WORKER, Actor
from gtcore.core.errors import ConfigError, Conflict, LimitExceeded, NotFound, PermissionDenied
from gtcore.core.settings import Settings
from gtcore.workforce.users import require_admin_db, roles_of, user_row

MAX_KEYS_PER_USER = 2
ID_PREFIX = "AKGT"
_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
K = dbm.access_keys


@dataclass(frozen=True)
class AccessKey:
    """A key as lists show it (never the secret)."""

    key_id: str
    user_id: int
    email: str
    created_at: float
    last_used_at: float | None


@dataclass(frozen=True)
class NewAccessKey:
    """IAM CreateAccessKey's ``AccessKey``: the secret is shown once and never again."""

    key_id: str
    secret: str
    user_id: int
    email: str
    created_at: float


def generate_server_key() -> str:
    """A fresh server key for ``GT_SECRET_KEY`` (64 url-safe random characters, well above the 32 required)."""
    return secrets.token_urlsafe(48)


def _encrypt(settings: Settings, secret: str) -> str:
    return sealing.seal(settings, secret)  # ConfigError naming GT_SECRET_KEY when no key is set


def _decrypt(settings: Settings, token: str) -> str | None:
    if not settings.secret_keys:  # the server is misconfigured: say so rather than call every key unknown
        raise ConfigError("GT_SECRET_KEY is not set: no API access key can be checked (gtcore generate-secret-key)")
    try:
        return sealing.unseal(settings, token)
    except ConfigError:
        return None  # sealed under a server key no longer configured: the key is dead


def _may_manage(conn: Connection, actor: Actor, user_id: int, action: str) -> None:
    """A user manages his own keys; an admin anyone's."""
    if actor.system or (actor.user_id == user_id and actor.is_active):
        return
    if actor.has(ADMIN):
        require_admin_db(conn, actor, action)
        return
    raise PermissionDenied(f"{actor.email} cannot {action}: only the key's owner or an admin can")


def create_access_key(ctx: Context, actor: Actor, user_id: int, now: float | None = None) -> NewAccessKey:
    """A new key for ``user_id``; Conflict when the user already has MAX_KEYS_PER_USER keys."""
    t = dbm.now() if now is None else now
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
    enc = _encrypt(ctx.settings, secret)  # ConfigError before anything is written
    with ctx.db.write() as conn:
        _may_manage(conn, actor, user_id, "create access keys for another user")
        row = user_row(conn, user_id)
        if not row.is_active:
            raise Conflict(f"{row.email} is disabled: enable the account before giving it an access key")
        have = conn.execute(select(func.count()).select_from(K).where(K.c.user_id == user_id)).scalar_one()
        if have >= MAX_KEYS_PER_USER:
            raise LimitExceeded(
                f"{row.email} already has {have} access keys, the most allowed ({MAX_KEYS_PER_USER}): delete one first"
            )
        key_id = ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
        conn.execute(
            K.insert().values(key_id=key_id, user_id=user_id, secret_enc=enc, created_by=actor.user_id, created_at=t)
        )
    return NewAccessKey(key_id, secret, user_id, row.email, t)


def list_access_keys(ctx: Context, actor: Actor, user_id: int | None = None) -> list[AccessKey]:
    """The keys of ``user_id`` (the actor's own by default); ``user_id=-1``: every user's (admins)."""
    u = dbm.users
    q = select(K.c.key_id, K.c.user_id, u.c.email, K.c.created_at, K.c.last_used_at).join(u, u.c.id == K.c.user_id)
    with ctx.db.read() as conn:
        if user_id == -1:
            require_admin_db(conn, actor, "list everyone's access keys")
        else:
            uid = actor.user_id if user_id is None else user_id
            if uid is None:
                raise NotFound("the system actor has no access keys")
            _may_manage(conn, actor, uid, "see another user's access keys")
            q = q.where(K.c.user_id == uid)
        rows = conn.execute(q.order_by(u.c.email_lower, K.c.created_at)).all()
    return [AccessKey(r.key_id, int(r.user_id), r.email, r.created_at, r.last_used_at) for r in rows]


def delete_access_key(ctx: Context, actor: Actor, key_id: str) -> None:
    """Revoke a key at once (NotFound when there is no such key, or it is another user's and the actor no admin)."""
    with ctx.db.write() as conn:
        owner = conn.execute(select(K.c.user_id).where(K.c.key_id == key_id)).scalar_one_or_none()
        if owner is None or not (actor.system or actor.user_id == owner or actor.has(ADMIN)):
            raise NotFound(f"no access key {key_id!r}")
        _may_manage(conn, actor, int(owner), "delete another user's access key")
        conn.execute(delete(K).where(K.c.key_id == key_id))


def key_owner_email(ctx: Context, key_id: str) -> str | None:
    """The e-mail address of the key's owner (None for an unknown key): the API throttles failures per owner."""
    u = dbm.users
    with ctx.db.read() as conn:
        q = select(u.c.email).join(K, K.c.user_id == u.c.id).where(K.c.key_id == key_id)
        return conn.execute(q).scalar_one_or_none()


@dataclass(frozen=True)
class KeySecret:
    user_id: int
    secret: str
    last_used_at: float | None
    actor: Actor | None = None  # the owner as the database has him now (``key_actor``)


def secret_for(ctx: Context, key_id: str) -> KeySecret | None:
    """The key's owner and decrypted secret; None when unknown (or encrypted under a server key no longer set)."""
    with ctx.db.read() as conn:
        row = conn.execute(select(K.c.user_id, K.c.secret_enc, K.c.last_used_at).where(K.c.key_id == key_id)).first()
    if row is None:
        return None
    secret = _decrypt(ctx.settings, row.secret_enc)
    return None if secret is None else KeySecret(int(row.user_id), secret, row.last_used_at)


_U = dbm.users
_KEY_OWNER = (
    select(K.c.user_id, K.c.secret_enc, K.c.last_used_at, _U.c.email, _U.c.roles, _U.c.is_active, _U.c.worker_id)
    .join(_U, _U.c.id == K.c.user_id)
    .where(K.c.key_id == bindparam("key_id"))
)
_TEAMS_OF = select(dbm.team_members.c.team_id).where(dbm.team_members.c.user_id == bindparam("user_id"))


def key_actor(ctx: Context, key_id: str) -> KeySecret | None:
    """``secret_for`` plus the owner's Actor as the database has him now: the API's per-call lookup, one read
    transaction with prepared statements (the team query only for workers, the only role it matters to)."""
    with ctx.db.read() as conn:
        row = conn.execute(_KEY_OWNER, {"key_id": key_id}).first()
        if row is None:
            return None
        roles = roles_of(row.roles)
        teams = conn.execute(_TEAMS_OF, {"user_id": row.user_id}).scalars().all() if WORKER in roles else []
    actor = Actor(
        user_id=int(row.user_id),
        email=row.email,
        roles=roles,
        team_ids=frozenset(int(t) for t in teams),
        worker_id=row.worker_id,
        is_active=bool(row.is_active),
    )
    secret = _decrypt(ctx.settings, row.secret_enc)
    return None if secret is None else KeySecret(int(row.user_id), secret, row.last_used_at, actor)


USED_EVERY = 60.0


def mark_used(ctx: Context, key_id: str, now: float, every: float = USED_EVERY) -> None:
    """Record the key's last use (callers write it at most every ``USED_EVERY`` seconds, so calls stay reads)."""
    with ctx.db.write() as conn:
        conn.execute(
            update(K)
            .where(K.c.key_id == key_id, (K.c.last_used_at.is_(None)) | (K.c.last_used_at < now - every))
            .values(last_used_at=now)
        )
