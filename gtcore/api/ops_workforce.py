"""The private workforce: CreateWorkforce, UpdateWorkforce, DeleteWorkforce, DescribeWorkforce, ListWorkforces.

There is one private workforce, ``default`` (AWS allows one per account and region). Its people sign in with the
product's own accounts, which it shows as a Cognito workforce (user pool ``<region>_gtcore``, app client
``gtcore``), or, once an admin has set an identity provider, through that provider: it then shows the provider's
``OidcConfig`` (never the client secret) instead of ``CognitoConfig``, as AWS shows an OIDC workforce. Local
accounts stay for administrators and for teams without a provider (see the README).

- ``CreateWorkforce`` with ``OidcConfig`` sets the identity provider (``ResourceInUse`` when one is already set:
  ``UpdateWorkforce`` changes it); ``CognitoConfig`` is refused by name (the accounts are this server's own).
- ``UpdateWorkforce`` with ``OidcConfig`` replaces the provider (``ClientSecret`` included, as the model requires).
- ``DeleteWorkforce`` removes the provider: the workforce goes back to local accounts only (``ResourceNotFound``
  when none is set; the local accounts themselves cannot be deleted).

``OidcConfig`` goes through ``gtcore.workforce.oidc_config`` (``from_api``, ``save_config``, ``clear_config``): the
rules of the Workforce page and ``gtcore set-oidc-config`` (https endpoints, http only to a loopback address; the
secret sealed with ``GT_SECRET_KEY``). ``SourceIpConfig`` with addresses, ``WorkforceVpcConfig``,
``IpAddressType`` other than ``ipv4`` and ``Tags`` are refused by name: nothing here enforces them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from gtcore.api import arns
from gtcore.api.errors import ApiError, validation
from gtcore.api.registry import Call, operation
from gtcore.core import db as dbm
from gtcore.core.errors import ValidationError
from gtcore.core.settings import Settings
from gtcore.jobs.describe import utc
from gtcore.workforce import oidc_config, workteams

CLIENT_ID = "gtcore"


def user_pool(settings: Settings) -> str:
    return f"{settings.aws_region}_gtcore"


def sub_domain(settings: Settings) -> str:
    return urlsplit(settings.portal_url).netloc or settings.portal_url


def _provider_updated(call: Call) -> float | None:
    c = dbm.oidc_config
    with call.ctx.db.read() as conn:
        return conn.execute(select(c.c.updated_at).where(c.c.id == 1)).scalar_one_or_none()


def _workforce(call: Call) -> dict[str, Any]:
    s = call.ctx.settings
    created = min([t.created_at for t in workteams.list_team_details(call.ctx, call.actor)] or [0.0])
    out: dict[str, Any] = {
        "WorkforceName": arns.WORKFORCE,
        "WorkforceArn": arns.workforce(s),
        "LastUpdatedDate": utc(created),
        "SourceIpConfig": {"Cidrs": []},
        "SubDomain": sub_domain(s),
        "CreateDate": utc(created),
        "Status": "Active",
        "IpAddressType": "ipv4",
    }
    # the client id and endpoints are no secret (every browser sent to the provider sees them); the secret is
    # never read here: public_config leaves it out
    provider = oidc_config.public_config(call.ctx)
    if provider is None:
        out["CognitoConfig"] = {"UserPool": user_pool(s), "ClientId": CLIENT_ID}
    else:
        out["OidcConfig"] = oidc_config.to_api(provider)
        updated = _provider_updated(call)
        if updated is not None:
            out["LastUpdatedDate"] = utc(max(updated, created))
    return out


def _name(call: Call, missing: str = "ResourceNotFound") -> None:
    name = call.params["WorkforceName"]
    if name != arns.WORKFORCE:
        raise ApiError(missing, f"WorkforceName: no workforce {name!r}: the only one is {arns.WORKFORCE!r}")


def _refuse_unsupported(p: dict[str, Any]) -> None:
    cidrs = (p.get("SourceIpConfig") or {}).get("Cidrs") or []
    if cidrs:
        raise validation(
            "SourceIpConfig.Cidrs: restricting workers by address is not available here "
            "(restrict it at the reverse proxy in front of the app); give an empty list"
        )
    if p.get("WorkforceVpcConfig"):
        raise validation("WorkforceVpcConfig: there is no VPC here: the app is reached at its own address")
    if p.get("IpAddressType", "ipv4") != "ipv4":
        raise validation(
            f"IpAddressType: {p['IpAddressType']!r} is not available: the addresses served are the server's own "
            "binding; only ipv4 (AWS's default) is accepted"
        )


def _save_provider(call: Call) -> None:
    p = call.params
    if p.get("OidcConfig") is None:
        return
    try:
        cfg = oidc_config.from_api(p["OidcConfig"])  # every problem named by its field
        oidc_config.save_config(call.ctx, call.actor, cfg)
    except ValidationError as exc:  # the fields as the request names them: OidcConfig.<field>
        named = [replace(q, field=f"OidcConfig.{q.field}" if q.field else "OidcConfig") for q in exc.problems]
        raise ValidationError(named, summary=exc.message) from None


@operation("CreateWorkforce")
def create_workforce(call: Call) -> dict[str, Any]:
    p = call.params
    if p["WorkforceName"] != arns.WORKFORCE:
        raise validation(
            f"WorkforceName: this server has one private workforce, {arns.WORKFORCE!r} (AWS allows one per account "
            f"and region), not {p['WorkforceName']!r}: create it as {arns.WORKFORCE!r}"
        )
    if p.get("CognitoConfig") is not None:
        raise validation(
            "CognitoConfig: there is no Cognito user pool to attach: the workforce's own accounts already stand for "
            f"one ({user_pool(call.ctx.settings)}); give OidcConfig to sign people in through your identity provider"
        )
    if p.get("OidcConfig") is None:
        raise validation("OidcConfig: required (the workforce signs people in through this identity provider)")
    _refuse_unsupported(p)
    if p.get("Tags"):
        raise validation("Tags: tags are kept for labeling jobs and work teams only, not for the workforce")
    if oidc_config.configured(call.ctx):
        raise ApiError(
            "ResourceInUse",
            f"workforce {arns.WORKFORCE!r} already has an identity provider: UpdateWorkforce changes it, "
            "DeleteWorkforce removes it",
        )
    _save_provider(call)
    return {"WorkforceArn": arns.workforce(call.ctx.settings)}


@operation("UpdateWorkforce")
def update_workforce(call: Call) -> dict[str, Any]:
    _name(call)
    _refuse_unsupported(call.params)
    _save_provider(call)
    return {"Workforce": _workforce(call)}


@operation("DeleteWorkforce")
def delete_workforce(call: Call) -> dict[str, Any]:
    _name(call)
    if not oidc_config.clear_config(call.ctx, call.actor):
        raise ApiError(
            "ResourceNotFound",
            f"workforce {arns.WORKFORCE!r} has no identity provider to remove; its own accounts cannot be deleted",
        )
    return {}


@operation("DescribeWorkforce", readers=True)
def describe_workforce(call: Call) -> dict[str, Any]:
    _name(call)
    return {"Workforce": _workforce(call)}


@operation("ListWorkforces", readers=True)
def list_workforces(call: Call) -> dict[str, Any]:
    p = call.params
    if p.get("NextToken"):
        raise validation(f"NextToken: {p['NextToken'][:40]!r} is not a token this service returned")
    found = [_workforce(call)] if (p.get("NameContains") or "").lower() in arns.WORKFORCE else []
    return {"Workforces": found}
