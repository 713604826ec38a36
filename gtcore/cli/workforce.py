"""`gtcore` subcommands for the private workforce.

- ``gtcore create-admin --email E [--password-stdin]``: the first administrator (only while none
  exists). The password is asked twice at a prompt, or read as one line from standard input.
- ``gtcore invite --team T [--role worker] EMAIL...``: invite up to 50 addresses (outbox or SMTP).
- ``gtcore create-team NAME [--description D]``.
- ``gtcore reset-password EMAIL``: a new temporary password for a user (operator recovery).
- ``gtcore unlock-user --email EMAIL``: lift the lock failed sign-ins put on an account.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from gtcore.cli.common import context, operator, print_json
from gtcore.core.errors import ValidationError
from gtcore.workforce import invitations, roster, teams
from gtcore.workforce import users as workforce
from gtcore.workforce.invitation_mail import Delivery


def register(sub: Any) -> None:
    p = sub.add_parser("create-admin", help="create the first administrator (only while none exists)")
    p.add_argument("--email", required=True, help="the administrator's e-mail address (his user name)")
    p.add_argument("--password-stdin", action="store_true", help="read the password as one line from stdin")
    p.set_defaults(func=_create_admin)

    p = sub.add_parser("invite", help="invite workers by e-mail address (up to 50 at a time)")
    p.add_argument("--team", required=True, help="work team name")
    p.add_argument("--role", action="append", dest="roles", help="role to give (repeatable; default worker)")
    p.add_argument("emails", nargs="+", metavar="EMAIL")
    p.set_defaults(func=_invite)

    p = sub.add_parser("create-team", help="create a work team")
    p.add_argument("name", help="1-63 letters, digits and inner hyphens")
    p.add_argument("--description", default="")
    p.set_defaults(func=_create_team)

    p = sub.add_parser("reset-password", help="give a user a new temporary password")
    p.add_argument("email")
    p.set_defaults(func=_reset_password)

    p = sub.add_parser("unlock-user", help="lift the lock that failed sign-ins put on an account")
    p.add_argument("--email", required=True, help="the account's e-mail address")
    p.set_defaults(func=_unlock_user)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ValidationError(
            [],
            summary="standard input is not a terminal: pass --password-stdin to read the password as one line from it",
        )
    first = getpass.getpass("New administrator password: ")
    second = getpass.getpass("Repeat the password: ")
    if first != second:
        raise ValidationError([], summary="the two passwords differ")
    return first


def _create_admin(args: argparse.Namespace) -> int:
    ctx = context()
    password = _read_password(args)
    actor = workforce.create_first_admin(ctx, args.email, password)
    print(f"created administrator {actor.email}: sign in at {ctx.settings.portal_url}")
    return 0


def _delivery_json(d: Delivery) -> dict[str, Any]:
    out: dict[str, Any] = {"email": d.email, "delivery": d.delivery, "delivered_to": d.delivered_to}
    if d.error:
        out["smtp_error"] = d.error
    return out


def _invite(args: argparse.Namespace) -> int:
    ctx = context()
    result = invitations.invite(ctx, operator(), args.emails, args.team, roles=args.roles or ["worker"])
    print_json(
        {
            "invited": [_delivery_json(d) for d in result.invited],
            "already_had_account": result.existing,
            "not_invited": [str(p) for p in result.problems],
        }
    )
    outboxed = [d for d in result.invited if d.delivery == "outbox"]
    if outboxed:
        print(f"{len(outboxed)} invitation(s) written to {ctx.settings.outbox} (files readable by you only)")
    return 1 if result.problems else 0


def _create_team(args: argparse.Namespace) -> int:
    team = teams.create_team(context(), operator(), args.name, args.description)
    print_json({"id": team.id, "name": team.name, "description": team.description})
    return 0


def _reset_password(args: argparse.Namespace) -> int:
    ctx = context()
    uid = roster.find_user_id(ctx, operator(), args.email)
    d = invitations.reset_password(ctx, operator(), uid)
    print_json(_delivery_json(d))
    return 0


def _unlock_user(args: argparse.Namespace) -> int:
    ctx = context()
    uid = roster.find_user_id(ctx, operator(), args.email)
    cleared = roster.unlock_sign_in(ctx, operator(), uid)
    print_json({"email": args.email.strip(), "unlocked": True, "had_failures": cleared})
    return 0
