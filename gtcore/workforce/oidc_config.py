"""The OIDC identity provider of the private workforce: Ground Truth's ``OidcConfig``, set once by an admin.

Plain functions the Workforce page, ``gtcore oidc-config`` and the SageMaker API layer
(``CreateWorkforce`` / ``UpdateWorkforce`` / ``DescribeWorkforce``) call:

- ``from_api(mapping)``: an ``OidcConfig`` from the API's shape (``ClientId``, ``ClientSecret``, ``Issuer``,
  ``AuthorizationEndpoint``, ``TokenEndpoint``, ``UserInfoEndpoint``, ``LogoutEndpoint``, ``JwksUri``, optional
  ``Scope`` and ``AuthenticationRequestExtraParams``); every problem named by its field.
- ``save_config(ctx, actor, config)``: store it (admin only). The client secret is sealed with ``GT_SECRET_KEY``
  (``gtcore.core.sealing``); an empty secret keeps the stored one (a form that does not show it back).
- ``describe_config(ctx, actor)``: the API's ``OidcConfig`` for DescribeWorkforce, without the secret.
- ``load_config(ctx)``: the whole config with the secret opened, for the sign-in flow only.
- ``clear_config(ctx, actor)``: back to local accounts only.

Endpoints must be https (http only to this machine's loopback, for tests and a provider on the same host).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import Problem, ValidationError
from gtcore.core.sealing import seal, unseal
from gtcore.workforce.users import require_admin_db

DEFAULT_SCOPE = "openid email profile"
URL_MAX = 500
ID_MAX = 1024
EXTRA_MAX = 10
EXTRA_TEXT_MAX = 512
# the flow sets these itself: extra parameters may not replace them
RESERVED_PARAMS = frozenset(
    {"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method"}
)
_ID_RE = re.compile(r"[\w+\-/=.:@~]+")

# API field -> attribute, in Ground Truth's order
API_FIELDS = {
    "ClientId": "client_id",
    "ClientSecret": "client_secret",
    "Issuer": "issuer",
    "AuthorizationEndpoint": "authorization_endpoint",
    "TokenEndpoint": "token_endpoint",
    "UserInfoEndpoint": "user_info_endpoint",
    "LogoutEndpoint": "logout_endpoint",
    "JwksUri": "jwks_uri",
    "Scope": "scope",
    "AuthenticationRequestExtraParams": "extra_params",
}
URL_FIELDS = ("Issuer", "AuthorizationEndpoint", "TokenEndpoint", "UserInfoEndpoint", "LogoutEndpoint", "JwksUri")


@dataclass(frozen=True)
class OidcConfig:
    client_id: str
    client_secret: str = field(repr=False)
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    user_info_endpoint: str
    logout_endpoint: str
    jwks_uri: str
    scope: str = DEFAULT_SCOPE
    extra_params: Mapping[str, str] = field(default_factory=dict)


def _url_problem(value: str) -> str | None:
    if not value:
        return "is required"
    if len(value) > URL_MAX:
        return f"has at most {URL_MAX} characters (got {len(value)})"
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        return f"{value!r} is not an https URL"
    if parts.scheme == "http" and not _loopback(parts.hostname):
        return f"{value!r} must use https (http is accepted only for this machine's loopback address)"
    if parts.fragment:
        return f"{value!r} may not carry a #fragment"
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_problems(cfg: OidcConfig, *, secret_required: bool = True) -> list[Problem]:
    """Every reason ``cfg`` cannot be stored, each naming its API field."""
    out: list[Problem] = []
    if not cfg.client_id or len(cfg.client_id) > ID_MAX or not _ID_RE.fullmatch(cfg.client_id):
        out.append(Problem(f"1-{ID_MAX} characters without spaces", field="ClientId"))
    if (secret_required or cfg.client_secret) and not (0 < len(cfg.client_secret) <= ID_MAX):
        out.append(Problem(f"1-{ID_MAX} characters", field="ClientSecret"))
    for api in URL_FIELDS:
        why = _url_problem(getattr(cfg, API_FIELDS[api]))
        if why:
            out.append(Problem(why, field=api))
    words = cfg.scope.split()
    if len(cfg.scope) > ID_MAX or "openid" not in words:
        out.append(Problem("a space-separated list of scopes that includes openid", field="Scope"))
    extra = cfg.extra_params
    if len(extra) > EXTRA_MAX:
        out.append(Problem(f"at most {EXTRA_MAX} parameters", field="AuthenticationRequestExtraParams"))
    for key, value in extra.items():
        where = f"AuthenticationRequestExtraParams.{key}"
        if not key or len(key) > EXTRA_TEXT_MAX or len(str(value)) > EXTRA_TEXT_MAX:
            out.append(Problem(f"keys and values have 1-{EXTRA_TEXT_MAX} characters", field=where))
        elif key in RESERVED_PARAMS:
            out.append(Problem(f"{key} is set by the sign-in flow itself", field=where))
    return out


def from_api(data: Mapping[str, Any]) -> OidcConfig:
    """An ``OidcConfig`` from the API's mapping; ValidationError naming every missing, unknown or bad field."""
    if not isinstance(data, Mapping):
        raise ValidationError([Problem("must be an object", field="OidcConfig")], summary="OidcConfig is invalid")
    problems = [Problem("is not an OidcConfig field", field=k) for k in data if k not in API_FIELDS]
    values: dict[str, Any] = {}
    for api, attr in API_FIELDS.items():
        raw = data.get(api)
        if api == "AuthenticationRequestExtraParams":
            if raw is None:
                raw = {}
            if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
                problems.append(Problem("must be an object of strings", field=api))
                raw = {}
            values[attr] = {str(k): str(v) for k, v in raw.items()}
        elif api == "Scope":
            values[attr] = str(raw).strip() if raw else DEFAULT_SCOPE
        elif raw is not None and not isinstance(raw, str):
            problems.append(Problem("must be a string", field=api))
            values[attr] = ""
        else:
            values[attr] = (raw or "").strip()
    cfg = OidcConfig(**values)
    problems += config_problems(cfg)
    if problems:
        raise ValidationError(problems, summary="OidcConfig is invalid")
    return cfg


def to_api(cfg: OidcConfig) -> dict[str, Any]:
    """The API's ``OidcConfig`` shape as DescribeWorkforce answers it: every field but ``ClientSecret``."""
    out: dict[str, Any] = {}
    for api, attr in API_FIELDS.items():
        if api == "ClientSecret":
            continue
        value = getattr(cfg, attr)
        out[api] = dict(value) if api == "AuthenticationRequestExtraParams" else value
    return out


def save_config(ctx: Context, actor: Actor, cfg: OidcConfig, now: float | None = None) -> None:
    """Store the provider (admin only). An empty ``client_secret`` keeps the stored secret."""
    problems = config_problems(cfg, secret_required=False)
    if problems:
        raise ValidationError(problems, summary="the identity provider settings cannot be saved")
    t = dbm.now() if now is None else now
    sealed = seal(ctx.settings, cfg.client_secret) if cfg.client_secret else None
    c = dbm.oidc_config
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "configure the identity provider")
        old = conn.execute(select(c.c.client_secret_sealed).where(c.c.id == 1)).first()
        if sealed is None and old is None:
            raise ValidationError([Problem("is required", field="ClientSecret")], summary="no client secret is stored")
        values = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name not in ("client_secret", "extra_params")}
        values.update(
            client_secret_sealed=sealed if sealed is not None else old.client_secret_sealed,  # type: ignore[union-attr]
            extra_params_json=json.dumps(dict(cfg.extra_params), sort_keys=True),
            updated_at=t,
        )
        conn.execute(delete(c).where(c.c.id == 1))
        conn.execute(c.insert().values(id=1, **values))


def _row_config(row: Any, secret: str) -> OidcConfig:
    return OidcConfig(
        client_id=row.client_id,
        client_secret=secret,
        issuer=row.issuer,
        authorization_endpoint=row.authorization_endpoint,
        token_endpoint=row.token_endpoint,
        user_info_endpoint=row.user_info_endpoint,
        logout_endpoint=row.logout_endpoint,
        jwks_uri=row.jwks_uri,
        scope=row.scope,
        extra_params=json.loads(row.extra_params_json or "{}"),
    )


def _row(ctx: Context) -> Any:
    with ctx.db.read() as conn:
        return conn.execute(select(dbm.oidc_config).where(dbm.oidc_config.c.id == 1)).first()


def configured(ctx: Context) -> bool:
    """True when an identity provider is set (the sign-in page then offers it)."""
    return _row(ctx) is not None


def load_config(ctx: Context) -> OidcConfig | None:
    """The provider with its secret opened (sign-in flow only); None when none is set."""
    row = _row(ctx)
    return None if row is None else _row_config(row, unseal(ctx.settings, row.client_secret_sealed))


def public_config(ctx: Context) -> OidcConfig | None:
    """The provider without its secret (the sign-in page's issuer and logout endpoint); None when none is set."""
    row = _row(ctx)
    return None if row is None else _row_config(row, "")


def describe_config(ctx: Context, actor: Actor) -> dict[str, Any] | None:
    """DescribeWorkforce's ``OidcConfig`` (admin only), without the secret; None when no provider is set."""
    with ctx.db.read() as conn:
        require_admin_db(conn, actor, "read the identity provider settings")
    cfg = public_config(ctx)
    return None if cfg is None else to_api(cfg)


def clear_config(ctx: Context, actor: Actor) -> bool:
    """Remove the provider (admin only); its people can no longer sign in. True when one was set."""
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "remove the identity provider")
        return bool(conn.execute(delete(dbm.oidc_config).where(dbm.oidc_config.c.id == 1)).rowcount)


def with_discovery(cfg: OidcConfig, document: Mapping[str, Any]) -> OidcConfig:
    """``cfg`` with its empty endpoints filled from a provider's discovery document (``.well-known``)."""
    names = {
        "issuer": "issuer",
        "authorization_endpoint": "authorization_endpoint",
        "token_endpoint": "token_endpoint",
        "user_info_endpoint": "userinfo_endpoint",
        "logout_endpoint": "end_session_endpoint",
        "jwks_uri": "jwks_uri",
    }
    filled: dict[str, Any] = {a: str(document.get(d) or "") for a, d in names.items() if not getattr(cfg, a)}
    return replace(cfg, **filled)


def discover(issuer: str) -> dict[str, Any]:
    """The provider's discovery document (``<issuer>/.well-known/openid-configuration``), for filling the form;
    ValidationError naming Issuer when it cannot be had."""
    import requests

    why = _url_problem(issuer.strip())
    if why:
        raise ValidationError([Problem(why, field="Issuer")], summary="the issuer cannot be asked")
    url = issuer.strip().rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=10, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ValidationError(
            [Problem(f"{url} did not answer with a discovery document ({type(exc).__name__})", field="Issuer")],
            summary="the provider's settings cannot be read",
        ) from None
    if not isinstance(document, dict):
        raise ValidationError([Problem(f"{url} is not a JSON object", field="Issuer")], summary="bad discovery")
    return document


def logout_url(cfg: OidcConfig, post_logout_redirect_uri: str) -> str:
    """The provider's RP-initiated logout address for this client (``client_id`` and the page to come back to)."""
    from urllib.parse import urlencode

    sep = "&" if urlsplit(cfg.logout_endpoint).query else "?"
    query = urlencode({"client_id": cfg.client_id, "post_logout_redirect_uri": post_logout_redirect_uri})
    return f"{cfg.logout_endpoint}{sep}{query}"
