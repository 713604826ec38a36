"""Sign-in through the workforce's OIDC identity provider: authorization code flow with PKCE (S256), state and
nonce, by Authlib's OAuth 2.0 client; the ID token's signature and claims are verified by ``joserfc`` (Authlib's
JOSE library) against the provider's JWKS, with a bounded clock skew (``LEEWAY_SECONDS``). No JWT is parsed here.

The flow, as the app's HTTP routes (``gtcore.ui.oidc_routes``) drive it:

1. ``begin(ctx, redirect_uri)`` makes state, nonce and code verifier, stores the pending sign-in in
   ``oidc_logins`` (state and browser binding as sha256 only, the verifier sealed) and returns the provider's
   authorization URL plus a random *binding* for an HttpOnly cookie (the callback must come back to the browser
   that started it: a sign-in link made in one browser does not sign in another).
2. ``complete(ctx, state=, code=, binding=)`` consumes the state once (a replayed or unknown state is refused,
   also across app processes), exchanges the code with the verifier, verifies the ID token, reads user info,
   maps the claims and opens an ordinary product session (``gtcore.workforce.oidc_identity``).

Claims (Ground Truth's, in the ID token or user info): ``sagemaker:groups`` (at most 10), ``sagemaker:sub``,
``sagemaker:client_id`` (when sent it must be the configured client id), ``sagemaker:name``, ``email``. A person
signed in this way is a worker; his teams follow his groups at every sign-in (``oidc_teams.sync_membership``).
A person an admin disabled stays out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.errors import ConfigError, InvalidCredentials, NotFound
from gtcore.core.sealing import seal, unseal
from gtcore.workforce import signin
from gtcore.workforce.oidc_config import OidcConfig, load_config
from gtcore.workforce.oidc_identity import identity_from_claims, open_session

LEEWAY_SECONDS = 60  # clock skew accepted on exp / iat / nbf
LOGIN_SECONDS = 600  # a sign-in must come back from the provider within 10 minutes
HTTP_TIMEOUT = 10.0
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


@dataclass(frozen=True)
class Begun:
    """Where to send the browser, and the binding to keep in its HttpOnly cookie until the callback."""

    url: str
    binding: str


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _session(cfg: OidcConfig, redirect_uri: str) -> Any:
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(
        cfg.client_id,
        cfg.client_secret,
        scope=cfg.scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def _config(ctx: Context) -> OidcConfig:
    cfg = load_config(ctx)
    if cfg is None:
        raise NotFound("no identity provider is configured: sign in with your account, or ask an administrator")
    return cfg


def begin(ctx: Context, redirect_uri: str, now: float | None = None) -> Begun:
    """Start a sign-in: the provider's authorization URL (state, nonce, PKCE) and the browser binding."""
    from authlib.common.security import generate_token

    cfg = _config(ctx)
    t = dbm.now() if now is None else now
    state, nonce, binding = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = generate_token(64)
    url, _ = _session(cfg, redirect_uri).create_authorization_url(
        cfg.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce, **dict(cfg.extra_params)
    )
    lg = dbm.oidc_logins
    with ctx.db.write() as conn:
        conn.execute(delete(lg).where(lg.c.created_at < t - LOGIN_SECONDS))
        conn.execute(
            lg.insert().values(
                state_hash=_sha(state),
                binding_hash=_sha(binding),
                nonce=nonce,
                code_verifier_sealed=seal(ctx.settings, verifier),
                redirect_uri=redirect_uri,
                created_at=t,
                used=False,
            )
        )
    return Begun(str(url), binding)


def _consume(ctx: Context, state: str, binding: str, now: float) -> Any:
    """The pending sign-in of ``state``, marked used in the same transaction (only one caller ever gets it)."""
    lg = dbm.oidc_logins
    with ctx.db.write() as conn:
        row = conn.execute(select(lg).where(lg.c.state_hash == _sha(state or "-"))).first()
        if row is None:
            raise InvalidCredentials("this sign-in is unknown or expired: start again from the sign-in page")
        taken = conn.execute(
            update(lg).where(lg.c.state_hash == row.state_hash, lg.c.used.is_(False)).values(used=True)
        ).rowcount
    if taken != 1:
        raise InvalidCredentials("this sign-in response was already used: start again from the sign-in page")
    if not hmac.compare_digest(row.binding_hash, _sha(binding or "-")):
        raise InvalidCredentials("this sign-in was started in another browser: start again from the sign-in page")
    if now - row.created_at > LOGIN_SECONDS:
        raise InvalidCredentials("this sign-in took too long: start again from the sign-in page")
    return row


def _get_json(url: str, token: str | None = None) -> Any:
    import requests

    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = requests.get(url, headers=headers, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as exc:
        raise InvalidCredentials(f"the identity provider did not answer {url}: {type(exc).__name__}") from None


def verify_id_token(
    cfg: OidcConfig, id_token: str, nonce: str, jwks: Mapping[str, Any], now: float | None = None
) -> dict[str, Any]:
    """The claims of ``id_token`` after joserfc checked its signature against ``jwks`` and iss, aud, exp, iat,
    nbf (``LEEWAY_SECONDS``), sub and nonce; InvalidCredentials naming what failed."""
    from joserfc import errors, jwt
    from joserfc.jwk import KeySet

    try:
        keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
        token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
    except (errors.JoseError, ValueError, TypeError) as exc:
        raise InvalidCredentials(f"the ID token's signature does not verify ({type(exc).__name__})") from None
    registry = jwt.JWTClaimsRegistry(
        now=None if now is None else int(now),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": cfg.issuer},
        aud={"essential": True, "value": cfg.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(token.claims)
    except errors.ExpiredTokenError:
        raise InvalidCredentials("the ID token has expired (check this server's and the provider's clocks)") from None
    except errors.InvalidClaimError as exc:
        raise InvalidCredentials(f"the ID token's {exc.claim} claim is not the expected one") from None
    except errors.MissingClaimError as exc:
        raise InvalidCredentials(f"the ID token lacks the {exc.claim} claim") from None
    except errors.JoseError as exc:
        raise InvalidCredentials(f"the ID token is not valid ({type(exc).__name__})") from None
    claims = dict(token.claims)
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != cfg.client_id:
        raise InvalidCredentials("the ID token was issued to another client (azp)")
    return claims


def complete(
    ctx: Context, *, state: str, code: str | None, binding: str, error: str | None = None, now: float | None = None
) -> signin.SignIn:
    """Finish a sign-in the provider sent back; an open product session. InvalidCredentials for every refusal
    (provider error, unknown / replayed / foreign state, failed code exchange, a token that does not verify)."""
    t = dbm.now() if now is None else now
    row = _consume(ctx, state, binding, t)
    if error:
        raise InvalidCredentials(f"the identity provider refused the sign-in ({error[:100]})")
    if not code:
        raise InvalidCredentials("the identity provider sent no authorization code")
    cfg = _config(ctx)
    try:
        token = _session(cfg, row.redirect_uri).fetch_token(
            cfg.token_endpoint,
            grant_type="authorization_code",
            code=code,
            code_verifier=unseal(ctx.settings, row.code_verifier_sealed),
            timeout=HTTP_TIMEOUT,
        )
    except ConfigError:
        raise
    except Exception as exc:  # requests' and Authlib's errors: the provider refused or did not answer
        raise InvalidCredentials(f"the provider refused the authorization code ({type(exc).__name__})") from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise InvalidCredentials("the identity provider sent no ID token (is openid in the scope?)")
    claims = verify_id_token(cfg, id_token, row.nonce, _get_json(cfg.jwks_uri), now=t)
    if cfg.user_info_endpoint and isinstance(token.get("access_token"), str):
        info = _get_json(cfg.user_info_endpoint, token["access_token"])
        if isinstance(info, dict) and info.get("sub") == claims["sub"]:
            claims = {**info, **claims}  # the verified ID token wins on every claim it carries
    return open_session(ctx, identity_from_claims(cfg, claims), t)
