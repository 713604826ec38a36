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
- ``GT_TRUSTED_PROXIES``: comma-separated addresses or networks (``10.0.0.5``, ``10.1.0.0/16``) of the reverse
  proxies in front of the app; only a connection from one of them may name the client in ``X-Forwarded-For``
  (default: none, the socket's address is the client)
- ``GT_MAX_DECODE_BYTES`` (400 MB: 100 megapixels of RGBA or float): the largest image a decode accepts, as
  width x height x bytes per pixel as stored; ``GT_DECODE_CONCURRENCY`` (2): how many images one process decodes at once
- ``GT_EMBEDDED_WORKER`` (1/0): ``streamlit run app.py`` starts one background worker with the app (default 1;
  0 when only separate ``gtcore worker`` processes should run the work)
- ``GT_AWS_REGION`` (``local``) and ``GT_AWS_ACCOUNT_ID`` (``000000000000``, 12 digits): the region and account in the
  ARNs the product gives (``arn:aws:sagemaker:<region>:<account>:labeling-job/<name>``) and the region API clients
  must sign for (the SigV4 credential scope of ``/api/sagemaker``)
- ``GT_SECRET_KEY``: the one server key that seals every stored secret (API access keys' secrets, the OIDC client
  secret; ``gtcore.core.sealing``); at least 32 characters (``gtcore generate-secret-key`` prints one), several
  keys separated by commas to rotate (the first seals, every one unseals). No default: without it no access key
  can be created or used and no identity provider configured.
- ``GT_LOCAL_WORKER_SIGNIN`` (1/0): workers may sign in with a local password (default 1); 0 leaves local sign-in
  to administrators (the break-glass account) once the workers come through the identity provider
"""

from __future__ import annotations

import ipaddress
import os
import re
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


def _region(env: Mapping[str, str]) -> str:
    raw = env.get("GT_AWS_REGION", "").strip() or "local"
    if not re.fullmatch(r"[a-z0-9][a-z0-9\-]{0,30}", raw):
        raise ConfigError(f"GT_AWS_REGION={raw!r} is not a region name (lower-case letters, digits, hyphens)")
    return raw


def _account(env: Mapping[str, str]) -> str:
    raw = env.get("GT_AWS_ACCOUNT_ID", "").strip() or "000000000000"
    if not re.fullmatch(r"[0-9]{12}", raw):
        raise ConfigError(f"GT_AWS_ACCOUNT_ID={raw!r} is not an account id (12 digits)")
    return raw


SECRET_KEY_MIN = 32


def _secret_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in env.get("GT_SECRET_KEY", "").split(",") if k.strip())
    short = [i + 1 for i, k in enumerate(keys) if len(k) < SECRET_KEY_MIN]
    if short:
        raise ConfigError(f"GT_SECRET_KEY: key {short[0]} has fewer than {SECRET_KEY_MIN} characters")
    return keys


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    out = []
    for item in env.get(name, "").split(","):
        if item.strip():
            try:
                out.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError:
                raise ConfigError(f"{name}: {item.strip()!r} is not an IP address or network") from None
    return tuple(out)


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
    aws_region: str = "local"
    aws_account_id: str = "000000000000"
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    local_worker_signin: bool = True
    trusted_proxies: tuple[str, ...] = ()  # networks, normalised by ipaddress
    max_decode_bytes: int = 400_000_000  # 100 MP of RGBA or float
    decode_concurrency: int = 2
    # objects per labeling job: Ground Truth's limits by default, raised by a setting as AWS raises them on request
    max_objects: int = 100_000
    max_segmentation_objects: int = 20_000

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
            aws_region=_region(env),
            aws_account_id=_account(env),
            secret_keys=_secret_keys(env),
            local_worker_signin=_bool(env, "GT_LOCAL_WORKER_SIGNIN", True),
            trusted_proxies=_networks(env, "GT_TRUSTED_PROXIES"),
            max_decode_bytes=_int(env, "GT_MAX_DECODE_BYTES", 400_000_000),
            decode_concurrency=_int(env, "GT_DECODE_CONCURRENCY", 2),
            max_objects=max(1, _int(env, "GT_MAX_OBJECTS_PER_JOB", 100_000)),
            max_segmentation_objects=max(1, _int(env, "GT_MAX_SEGMENTATION_OBJECTS", 20_000)),
        )
