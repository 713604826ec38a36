"""The person an OIDC sign-in names (``gtcore.workforce.oidc_signin`` verifies the tokens): Ground Truth's claims
(``sagemaker:groups``, at most 10; ``sagemaker:sub``; ``sagemaker:client_id``, which when sent must be the
configured client id; ``sagemaker:name``; ``email``) mapped to an :class:`Identity`, and his product account: a
worker made at the first sign-in, his identity record, his teams following his groups at every sign-in
(``oidc_teams.sync_membership``), then an ordinary product session (``gtcore.workforce.signin``). A person an admin
disabled stays out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import WORKER
from gtcore.core.errors import InvalidCredentials
from gtcore.workforce import oidc_teams, signin
from gtcore.workforce.oidc_config import OidcConfig
from gtcore.workforce.users import email_problem, new_user_values, serialize


@dataclass(frozen=True)
class Identity:
    """The person an ID token (plus user info) names, after verification."""

    issuer: str
    subject: str
    worker_sub: str
    client_id: str
    name: str
    email: str | None
    groups: tuple[str, ...]


def identity_from_claims(cfg: OidcConfig, claims: Mapping[str, Any]) -> Identity:
    """Ground Truth's claims mapped to an Identity; InvalidCredentials naming a claim that is wrong."""
    raw = claims.get("sagemaker:groups", [])
    if isinstance(raw, str):
        raw = [g for g in raw.replace(",", " ").split() if g]
    if not isinstance(raw, list) or not all(isinstance(g, str) for g in raw):
        raise InvalidCredentials("the sagemaker:groups claim must be a list of group names")
    if oidc_teams.group_problems(raw, "sagemaker:groups"):
        raise InvalidCredentials("the sagemaker:groups claim has more than 10 groups or a name over 63 characters")
    client = claims.get("sagemaker:client_id")
    if client is not None and client != cfg.client_id:
        raise InvalidCredentials("the sagemaker:client_id claim names another client")
    email = claims.get("email")
    email = email.strip() if isinstance(email, str) and not email_problem(email.strip()) else None
    subject = str(claims["sub"])
    name = claims.get("sagemaker:name") or claims.get("name") or email or subject
    return Identity(
        issuer=cfg.issuer,
        subject=subject[:255],
        worker_sub=str(claims.get("sagemaker:sub") or subject)[:255],
        client_id=str(client or cfg.client_id),
        name=str(name)[:200],
        email=email,
        groups=tuple(dict.fromkeys(raw)),
    )


def _unique_email(conn: Connection, ident: Identity) -> str:
    u = dbm.users
    if ident.email and conn.execute(select(u.c.id).where(u.c.email_lower == ident.email.lower())).first() is None:
        return ident.email
    return f"oidc-{hashlib.sha256((ident.issuer + ' ' + ident.subject).encode('utf-8')).hexdigest()[:16]}@oidc.invalid"


def open_session(ctx: Context, ident: Identity, now: float) -> signin.SignIn:
    """The product session of a verified person: his user (made at the first sign-in, a worker), his identity
    record and his teams brought up to date with his groups, then a session like a password sign-in's."""
    i, u = dbm.oidc_identities, dbm.users
    groups_json = json.dumps(list(ident.groups))
    with ctx.db.write() as conn:
        serialize(conn, "oidc-identity")
        key = (i.c.issuer == ident.issuer) & (i.c.subject == ident.subject)
        found = conn.execute(select(i.c.user_id).where(key)).first()
        if found is None:
            values = new_user_values(_unique_email(conn, ident), frozenset({WORKER}), "", False, None, now)
            values.update(password_hash=None, display_name=ident.name)
            user_id = int(conn.execute(u.insert().values(**values)).inserted_primary_key[0])  # type: ignore[index]
            conn.execute(
                i.insert().values(
                    user_id=user_id,
                    issuer=ident.issuer,
                    subject=ident.subject,
                    worker_sub=ident.worker_sub,
                    client_id=ident.client_id,
                    name=ident.name,
                    groups_json=groups_json,
                    last_sign_in_at=now,
                )
            )
        else:
            user_id = int(found.user_id)
            conn.execute(
                update(i)
                .where(i.c.user_id == user_id)
                .values(
                    worker_sub=ident.worker_sub,
                    client_id=ident.client_id,
                    name=ident.name,
                    groups_json=groups_json,
                    last_sign_in_at=now,
                )
            )
        user = conn.execute(select(u).where(u.c.id == user_id)).one()
        if not user.is_active:
            raise InvalidCredentials("this account is disabled: ask your team lead to enable it")
        oidc_teams.sync_membership(conn, user_id, ident.groups, now)
        conn.execute(update(u).where(u.c.id == user_id).values(last_login_at=now, display_name=ident.name))
        token, expires = signin._open_session(conn, ctx.settings, user_id, now)
    return signin.SignIn(token, user_id, user.email, False, expires)


def is_oidc_user(ctx: Context, user_id: int | None) -> bool:
    """True when ``user_id`` signed in through the identity provider (sign-out then offers its logout)."""
    if user_id is None:
        return False
    with ctx.db.read() as conn:
        i = dbm.oidc_identities
        return conn.execute(select(i.c.user_id).where(i.c.user_id == user_id)).first() is not None
