"""SigV4 verification of API calls with per-user access keys (``gtcore.workforce.access_keys``).

The signature is recomputed by botocore's own ``SigV4Auth`` (canonical request, string to sign, signing key)
from the request as received: method, raw path, query, exactly the headers the client signed, and the body
(whose SHA-256 must match ``X-Amz-Content-Sha256`` when the client sends one). Checked, with AWS's codes:

- no ``Authorization`` header: ``MissingAuthenticationTokenException``; a malformed one:
  ``IncompleteSignatureException``;
- the credential scope ``<key id>/<yyyymmdd>/<region>/sagemaker/aws4_request``: date = ``X-Amz-Date``'s day,
  region = ``GT_AWS_REGION``, service ``sagemaker``: else ``InvalidSignatureException``;
- ``X-Amz-Date`` within ``MAX_SKEW_SECONDS`` (15 minutes) of the server's clock: else
  ``InvalidSignatureException`` ("Signature expired" / "not yet current");
- an unknown or revoked key id: ``UnrecognizedClientException``; a wrong signature (wrong secret, altered
  request): ``InvalidSignatureException``; a disabled user: ``AccessDeniedException``.

Unknown keys and wrong signatures count as failed sign-ins (``gtcore.workforce.signin``: per key id and per
client address); once locked, calls answer ``ThrottlingException`` until the lock ends, even correct ones.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from gtcore.api.errors import ApiError
from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.workforce import access_keys, signin

MAX_SKEW_SECONDS = 15 * 60
SERVICE = "sagemaker"
_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+)\s*,\s*SignedHeaders=(?P<signed>[^,\s]+)\s*,"
    r"\s*Signature=(?P<sig>[0-9a-f]{64})\s*"
)
_UNSIGNED = ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")


@dataclass(frozen=True)
class Received:
    """An HTTP request as it arrived (headers lower-cased, in arrival order; ``path`` undecoded)."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    client: str

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ",".join(values) if values else None


def _throttle_key(key_id: str) -> str:
    return "access-key:" + key_id[:64]


def _fail(ctx: Context, code: str, message: str, key_id: str, req: Received) -> ApiError:
    signin.record_failed_attempt(ctx, _throttle_key(key_id), req.client or "unknown")
    return ApiError(code, message)


def _signature(req: Received, signed: list[str], secret: str, key_id: str, amz_date: str, region: str) -> str:
    """The SigV4 signature botocore computes for this request with ``secret``."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    host = req.header("host") or ""
    url = f"http://{host}{req.path}" + (f"?{req.query}" if req.query else "")
    request = AWSRequest(method=req.method, url=url, data=req.body)
    for name in signed:  # exactly what the client signed, in its own letter case and order
        value = req.header(name)
        if value is not None:
            request.headers[name] = value
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(key_id, secret), SERVICE, region)
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


def _check_headers(req: Received, signed: list[str]) -> None:
    if "host" not in signed:
        raise ApiError("IncompleteSignatureException", "SignedHeaders must include host")
    missing = [h for h in signed if req.header(h) is None]
    if missing:
        raise ApiError("IncompleteSignatureException", f"signed header(s) not in the request: {', '.join(missing)}")
    declared = req.header("x-amz-content-sha256")
    if declared is not None:
        if declared in _UNSIGNED:
            raise ApiError("InvalidSignatureException", "unsigned payloads are not accepted: sign the body")
        if declared != hashlib.sha256(req.body).hexdigest():
            raise ApiError("InvalidSignatureException", "X-Amz-Content-Sha256 does not match the body")


def _timestamp(req: Received, now: float) -> tuple[str, datetime]:
    amz_date = req.header("x-amz-date")
    if not amz_date:
        raise ApiError("IncompleteSignatureException", "the request has no X-Amz-Date header")
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(
            "IncompleteSignatureException", f"X-Amz-Date {amz_date[:40]!r} is not YYYYMMDDTHHMMSSZ"
        ) from None
    server = datetime.fromtimestamp(now, tz=UTC)
    fmt = "%Y%m%dT%H%M%SZ"
    if when.timestamp() < now - MAX_SKEW_SECONDS:
        raise ApiError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {server.strftime(fmt)} - 15 min. "
            "(check the client's clock)",
        )
    if when.timestamp() > now + MAX_SKEW_SECONDS:
        raise ApiError(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {server.strftime(fmt)} + 15 min. "
            "(check the client's clock)",
        )
    return amz_date, when


def authenticate(ctx: Context, req: Received, now: float) -> Actor:
    """The actor whose access key signed ``req`` (ApiError with AWS's code otherwise)."""
    auth = req.header("authorization")
    if not auth:
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token: sign the request (SigV4)")
    m = _AUTH_RE.fullmatch(auth.strip())
    if m is None:
        raise ApiError(
            "IncompleteSignatureException",
            "Authorization must be 'AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/sagemaker/aws4_request, "
            "SignedHeaders=<headers>, Signature=<hex>'",
        )
    parts = m["cred"].split("/")
    if len(parts) != 5:
        raise ApiError(
            "IncompleteSignatureException", "Credential must be <key id>/<date>/<region>/<service>/aws4_request"
        )
    key_id, day, region, service, terminator = parts
    signed = m["signed"].lower().split(";")
    amz_date, _when = _timestamp(req, now)
    if day != amz_date[:8]:
        raise ApiError("InvalidSignatureException", f"Credential should be scoped to a valid date: {amz_date[:8]}")
    if region != ctx.settings.aws_region:
        raise ApiError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region: this server's region is {ctx.settings.aws_region!r} "
            f"(GT_AWS_REGION), not {region!r}",
        )
    if service != SERVICE or terminator != "aws4_request":
        raise ApiError("InvalidSignatureException", "Credential should be scoped to correct service: 'sagemaker'")
    _check_headers(req, signed)
    wait = signin.throttle_retry_after(ctx, _throttle_key(key_id), req.client or "unknown", now)
    if wait > 0:
        raise ApiError("ThrottlingException", f"Rate exceeded: too many failed signatures, retry in {int(wait) + 1} s")
    key = access_keys.key_actor(ctx, key_id)
    if key is None:
        raise _fail(
            ctx, "UnrecognizedClientException", "The security token included in the request is invalid.", key_id, req
        )
    expected = _signature(req, signed, key.secret, key_id, amz_date, region)
    if not hmac.compare_digest(expected, m["sig"]):
        raise _fail(
            ctx,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
            key_id,
            req,
        )
    actor = key.actor
    if actor is None or not actor.is_active:
        raise ApiError("AccessDeniedException", f"the owner of access key {key_id} is disabled")
    if key.last_used_at is None or key.last_used_at < now - access_keys.USED_EVERY:
        access_keys.mark_used(ctx, key_id, now)
    return actor
