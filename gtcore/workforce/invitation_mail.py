"""Delivering invitations and password resets: an e-mail with the portal URL and the temporary password,

- sent through SMTP when ``Settings.smtp`` is set (STARTTLS when configured, SSL on port 465, login
  when a user is set; one connection per batch);
- otherwise (or when the SMTP server refuses) written to ``Settings.outbox`` as an ``.eml`` file
  readable by its owner only (0600), and the temporary password is returned once for the admin to
  hand over.

Each delivery is recorded on its ``invitations`` row.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.settings import Settings


@dataclass(frozen=True)
class Delivery:
    """One invitation or reset message for one account.

    ``temporary_password`` is set only when the message went to the outbox: show it to the admin once.
    """

    email: str
    user_id: int
    kind: str  # invitation | reset
    delivery: str  # smtp | outbox
    delivered_to: str  # SMTP host or outbox file path
    temporary_password: str | None = field(default=None, repr=False)
    error: str | None = None  # why SMTP was not used although configured


@dataclass(frozen=True)
class Pending:
    """A message to send: the account, its temporary password and the invitation row that records the delivery."""

    email: str
    user_id: int
    kind: str
    password: str
    expires_at: float
    team_name: str | None
    invitation_id: int


def build_message(settings: Settings, p: Pending) -> EmailMessage:
    """The plain-text message for one invitation or reset."""
    msg = EmailMessage()
    msg["From"] = settings.smtp.sender if settings.smtp else "no-reply@localhost"
    msg["To"] = p.email
    until = datetime.fromtimestamp(p.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    if p.kind == "reset":
        msg["Subject"] = "Your labeling portal password was reset"
        intro = "An administrator reset your password for the labeling portal."
    else:
        msg["Subject"] = "You are invited to the labeling portal"
        team = f" as a member of the work team {p.team_name}" if p.team_name else ""
        intro = f"You have been invited to work on labeling jobs{team}."
    body = (
        f"{intro}\n\n"
        f"Sign in at: {settings.portal_url}\n"
        f"User name: {p.email}\n"
        f"Temporary password: {p.password}\n\n"
        f"The temporary password expires on {until}.\n"
        "You will choose your own password at first sign-in.\n"
    )
    # plain 7-bit text keeps the outbox file readable as it is; anything else is quoted-printable
    msg.set_content(body, cte="7bit" if body.isascii() else "quoted-printable")
    return msg


def write_outbox(settings: Settings, msg: EmailMessage, user_id: int, now: float) -> Path:
    """Write ``msg`` atomically to the outbox as a file only its owner can read (0600)."""
    box = settings.outbox
    box.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{datetime.fromtimestamp(now, UTC):%Y%m%dT%H%M%S}-{user_id}-{secrets.token_hex(4)}.eml"
    final = box / name
    tmp = box / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(msg.as_bytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def _smtp_connect(settings: Settings) -> smtplib.SMTP:
    cfg = settings.smtp
    assert cfg is not None
    if cfg.port == 465:
        conn: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=20, context=ssl.create_default_context())
    else:
        conn = smtplib.SMTP(cfg.host, cfg.port, timeout=20)
        if cfg.starttls:
            conn.starttls(context=ssl.create_default_context())
    if cfg.user:
        conn.login(cfg.user, cfg.password)
    return conn


def deliver(ctx: Context, pending: list[Pending], now: float) -> list[Delivery]:
    """Send each message (one SMTP connection for the batch) or write it to the outbox, and record how."""
    settings = ctx.settings
    out: list[Delivery] = []
    smtp: smtplib.SMTP | None = None
    smtp_error: str | None = None
    if pending and settings.smtp is not None:
        try:
            smtp = _smtp_connect(settings)
        except (OSError, smtplib.SMTPException) as exc:
            smtp_error = f"SMTP server {settings.smtp.host}:{settings.smtp.port} not usable ({exc})"
    try:
        for p in pending:
            msg = build_message(settings, p)
            error = smtp_error
            if smtp is not None and settings.smtp is not None:
                try:
                    smtp.send_message(msg)
                    out.append(Delivery(p.email, p.user_id, p.kind, "smtp", settings.smtp.host))
                    continue
                except (OSError, smtplib.SMTPException) as exc:
                    error = f"SMTP server refused the message to {p.email} ({exc})"
            path = write_outbox(settings, msg, p.user_id, now)
            out.append(Delivery(p.email, p.user_id, p.kind, "outbox", str(path), p.password, error))
    finally:
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
        with ctx.db.write() as conn:
            for p, d in zip(pending, out, strict=False):
                conn.execute(
                    update(dbm.invitations)
                    .where(dbm.invitations.c.id == p.invitation_id)
                    .values(delivery=d.delivery, delivered_to=d.delivered_to)
                )
    return out
