"""One frozen settings object, read once from the environment.

Names deployments and scripts rely on:

- ``GT_HOME``: data home (default ``./gt-data``)
- ``GT_DATABASE_URL``: SQLAlchemy URL (default ``sqlite:///<GT_HOME>/gt.sqlite3``)
- ``GT_LOCAL_ROOTS``: folders local URIs may point into, separated by ``os.pathsep``
  (default: ``GT_HOME`` and the working directory)
- ``GT_S3_ENDPOINT_URL``: S3 endpoint (MinIO, moto, ...); AWS credentials come through boto3's chain
- ``GT_ALLOWED_BUCKETS``: optional comma-separated allow-list of buckets
- ``GT_PORTAL_URL``: the worker portal URL put into invitation e-mails (default ``http://localhost:8501``)
- ``GT_SMTP_HOST``, ``GT_SMTP_PORT``, ``GT_SMTP_STARTTLS`` (1/0), ``GT_SMTP_USER``, ``GT_SMTP_PASSWORD``,
  ``GT_SMTP_SENDER``: invitation e-mail; without ``GT_SMTP_HOST`` invitations go to ``<GT_HOME>/outbox``
- ``GT_TEMP_PASSWORD_DAYS`` (7), ``GT_SESSION_IDLE_SECONDS`` (3600), ``GT_SESSION_MAX_SECONDS`` (43200)
- ``GT_AUTOLABEL_MIN_OBJECTS`` (1250, Ground Truth's rule): the smallest dataset automated data labeling accepts;
  lowered only by tests and demos that need a small dataset (the pages state the value in force)
- ``GT_EMBEDDED_WORKER`` (1/0): ``streamlit run app.py`` starts one background worker with the app (default 1;
  0 when only separate ``gtcore worker`` processes should run the work)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gtcore.core import autolabeling
from gtcore.core.errors import ConfigError


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be positive")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value (use 1 or 0)")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    starttls: bool = True
    user: str = ""
    password: str = field(default="", repr=False)
    sender: str = "no-reply@localhost"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    local_roots: tuple[Path, ...]
    s3_endpoint_url: str | None = None
    allowed_buckets: frozenset[str] | None = None
    portal_url: str = "http://localhost:8501"
    smtp: SmtpSettings | None = None
    temp_password_days: int = 7
    session_idle_seconds: int = 3600
    session_max_seconds: int = 12 * 3600
    autolabel_min_objects: int = autolabeling.MIN_OBJECTS
    embedded_worker: bool = True

    @property
    def outbox(self) -> Path:
        return self.home / "outbox"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
        env = os.environ if environ is None else environ
        cwd = (cwd or Path.cwd()).resolve()
        home = Path(env.get("GT_HOME") or "gt-data")
        home = (home if home.is_absolute() else cwd / home).resolve()
        db_url = env.get("GT_DATABASE_URL") or f"sqlite:///{home / 'gt.sqlite3'}"
        roots_raw = env.get("GT_LOCAL_ROOTS", "")
        if roots_raw.strip():
            roots = tuple(Path(p).expanduser().resolve() for p in roots_raw.split(os.pathsep) if p.strip())
        else:
            roots = (home, cwd)
        buckets_raw = env.get("GT_ALLOWED_BUCKETS", "")
        buckets = frozenset(b.strip() for b in buckets_raw.split(",") if b.strip()) or None
        smtp = None
        if env.get("GT_SMTP_HOST", "").strip():
            smtp = SmtpSettings(
                host=env["GT_SMTP_HOST"].strip(),
                port=_int(env, "GT_SMTP_PORT", 587),
                starttls=_bool(env, "GT_SMTP_STARTTLS", True),
                user=env.get("GT_SMTP_USER", ""),
                password=env.get("GT_SMTP_PASSWORD", ""),
                sender=env.get("GT_SMTP_SENDER", "") or "no-reply@localhost",
            )
        return cls(
            home=home,
            database_url=db_url,
            local_roots=roots,
            s3_endpoint_url=env.get("GT_S3_ENDPOINT_URL") or None,
            allowed_buckets=buckets,
            portal_url=env.get("GT_PORTAL_URL") or "http://localhost:8501",
            smtp=smtp,
            temp_password_days=_int(env, "GT_TEMP_PASSWORD_DAYS", 7),
            session_idle_seconds=_int(env, "GT_SESSION_IDLE_SECONDS", 3600),
            session_max_seconds=_int(env, "GT_SESSION_MAX_SECONDS", 12 * 3600),
            autolabel_min_objects=max(20, _int(env, "GT_AUTOLABEL_MIN_OBJECTS", autolabeling.MIN_OBJECTS)),
            embedded_worker=_bool(env, "GT_EMBEDDED_WORKER", True),
        )
