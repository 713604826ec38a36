"""`gtcore` subcommands for the OIDC workforce (the identity provider and the teams' groups).

- ``gtcore set-oidc-config --oidc-config JSON|file://PATH [--client-secret-stdin] [--discover]``: Ground Truth's
  ``OidcConfig`` (``ClientId``, ``ClientSecret``, ``Issuer``, the endpoints, ``Scope``,
  ``AuthenticationRequestExtraParams``), as for ``aws sagemaker create-workforce --oidc-config``. Keep the secret out
  of the command line with ``--client-secret-stdin``; ``--discover`` fills missing endpoints from the issuer's
  discovery document. Needs ``GT_SECRET_KEY`` (the secret is stored sealed).
- ``gtcore describe-oidc-config``: the stored ``OidcConfig`` without the secret.
- ``gtcore remove-oidc-config``: local accounts only from then on.
- ``gtcore set-team-groups TEAM [GROUP...]``: the OIDC groups whose members make up TEAM (none: the mapping ends).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gtcore.cli.common import context, operator, print_json
from gtcore.core.errors import Problem, ValidationError
from gtcore.workforce import oidc_config, oidc_teams


def register(sub: Any) -> None:
    p = sub.add_parser("set-oidc-config", help="set the workforce's OIDC identity provider")
    p.add_argument("--oidc-config", required=True, help="OidcConfig JSON, or file://path to it")
    p.add_argument("--client-secret-stdin", action="store_true", help="read ClientSecret as one line from stdin")
    p.add_argument("--discover", action="store_true", help="fill missing endpoints from the issuer's discovery")
    p.set_defaults(func=_set)

    p = sub.add_parser("describe-oidc-config", help="show the OIDC identity provider (without the secret)")
    p.set_defaults(func=_describe)

    p = sub.add_parser("remove-oidc-config", help="remove the OIDC identity provider")
    p.set_defaults(func=_remove)

    p = sub.add_parser("set-team-groups", help="set the OIDC groups that make up a work team")
    p.add_argument("team")
    p.add_argument("groups", nargs="*", metavar="GROUP")
    p.set_defaults(func=_set_groups)


def _read_json(value: str) -> Any:
    where = "--oidc-config"
    text = value
    if value.startswith("file://"):
        where = value[len("file://") :]
        try:
            text = Path(where).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError([Problem(exc.strerror or str(exc), field=where)], summary="cannot read") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            [Problem(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", field=where)],
            summary="the OidcConfig cannot be read",
        ) from None


def _set(args: argparse.Namespace) -> int:
    data = _read_json(args.oidc_config)
    if not isinstance(data, dict):
        raise ValidationError([Problem("must be a JSON object", field="--oidc-config")], summary="bad OidcConfig")
    if args.client_secret_stdin:
        data["ClientSecret"] = sys.stdin.readline().rstrip("\r\n")
    if args.discover and data.get("Issuer"):
        doc = oidc_config.discover(str(data["Issuer"]))
        names = {
            "AuthorizationEndpoint": "authorization_endpoint",
            "TokenEndpoint": "token_endpoint",
            "UserInfoEndpoint": "userinfo_endpoint",
            "LogoutEndpoint": "end_session_endpoint",
            "JwksUri": "jwks_uri",
        }
        for api, key in names.items():
            if not data.get(api) and doc.get(key):
                data[api] = doc[key]
    cfg = oidc_config.from_api(data)
    ctx = context()
    oidc_config.save_config(ctx, operator(), cfg)
    print_json({"OidcConfig": oidc_config.describe_config(ctx, operator())})
    return 0


def _describe(args: argparse.Namespace) -> int:
    print_json({"OidcConfig": oidc_config.describe_config(context(), operator())})
    return 0


def _remove(args: argparse.Namespace) -> int:
    removed = oidc_config.clear_config(context(), operator())
    print("the identity provider is removed" if removed else "no identity provider was set")
    return 0


def _set_groups(args: argparse.Namespace) -> int:
    stored = oidc_teams.set_team_groups(context(), operator(), args.team, args.groups)
    print_json({"WorkteamName": args.team, "MemberDefinitions": [{"OidcMemberDefinition": {"Groups": stored}}]})
    return 0
