"""Every workforce operation x every kind of actor -> allowed, or PermissionDenied (and nothing changed).

Actors: admin, worker, auditor, a disabled admin (fresh from the database), the same disabled admin
as a stale Actor object made before he was disabled, and a worker of another team.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import ADMIN, WORKER, Actor
from gtcore.core.errors import GTError, PermissionDenied, SessionExpired
from gtcore.workforce import invitations, roster, signin, teams
from gtcore.workforce import users as workforce
from tests.fixtures.people import PASSWORD, People


@dataclass
class World:
    ctx: Context
    p: People
    team_a: int
    team_b: int

    def target(self) -> int:
        """A fresh invited worker in team-a for one operation to act on."""
        uid, _temp = self.p.invite([WORKER], self.team_a)
        return uid


Op = Callable[[World, Actor], object]

ADMIN_OPS: dict[str, Op] = {
    "create_team": lambda w, a: teams.create_team(w.ctx, a, f"new-{w.target()}"),
    "rename_team": lambda w, a: teams.rename_team(w.ctx, a, w.team_b, "team-b-renamed"),
    "list_teams": lambda w, a: teams.list_teams(w.ctx, a),
    "get_team": lambda w, a: teams.get_team(w.ctx, a, w.team_a),
    "team_members": lambda w, a: teams.team_members(w.ctx, a, w.team_a),
    "add_members": lambda w, a: teams.add_members(w.ctx, a, w.team_b, [w.target()]),
    "remove_member": lambda w, a: teams.remove_member(w.ctx, a, w.team_a, w.target()),
    "invite": lambda w, a: invitations.invite(w.ctx, a, [f"x{w.target()}@example.com"], w.team_a),
    "resend_invitation": lambda w, a: invitations.resend_invitation(w.ctx, a, w.target()),
    "reset_password": lambda w, a: invitations.reset_password(w.ctx, a, w.target()),
    "list_workers": lambda w, a: roster.list_workers(w.ctx, a),
    "get_user": lambda w, a: roster.get_user(w.ctx, a, w.target()),
    "find_user_id": lambda w, a: roster.find_user_id(w.ctx, a, "nobody-or-somebody@example.com"),
    "set_roles": lambda w, a: roster.set_roles(w.ctx, a, w.target(), [WORKER, ADMIN]),
    "disable_user": lambda w, a: roster.disable_user(w.ctx, a, w.target()),
    "enable_user": lambda w, a: roster.enable_user(w.ctx, a, w.target()),
}
SELF_OPS: dict[str, Op] = {
    "my_profile": lambda w, a: workforce.my_profile(w.ctx, a),
}
ACTORS = ["admin", "worker", "auditor", "disabled", "stale_disabled", "other_team_worker"]
EXPECTED_ALLOWED: dict[str, set[str]] = {op: {"admin"} for op in ADMIN_OPS} | {
    "my_profile": {"admin", "worker", "auditor", "other_team_worker"},
}


def _world(ctx: Context) -> tuple[World, dict[str, Actor]]:
    p = People(ctx)
    admin = p.admin()
    world = World(ctx, p, p.team("team-a"), p.team("team-b"))
    stale = p.admin()  # a second admin, captured before being disabled
    actors = {
        "admin": admin,
        "worker": p.worker("team-a"),
        "auditor": p.auditor(),
        "disabled": p.disable(stale),
        "stale_disabled": stale,
        "other_team_worker": p.worker("team-b"),
    }
    assert actors["stale_disabled"].is_active and not actors["disabled"].is_active
    return world, actors


def _snapshot(ctx: Context) -> list[tuple[str, list[tuple[object, ...]]]]:
    with ctx.db.read() as c:
        return [
            (t.name, sorted(tuple(map(str, r)) for r in c.execute(select(t)).all()))
            for t in (dbm.users, dbm.teams, dbm.team_members, dbm.invitations)
        ]


@pytest.mark.parametrize("role", ACTORS)
def test_permission_table(any_ctx: Context, role: str) -> None:
    world, actors = _world(any_ctx)
    actor = actors[role]
    mismatches = []
    for name, op in (ADMIN_OPS | SELF_OPS).items():
        allowed = role in EXPECTED_ALLOWED[name]
        try:
            op(world, actor)
            outcome = "allowed"
        except PermissionDenied:
            outcome = "denied"
        except GTError as exc:  # NotFound etc. mean the check passed
            outcome = f"allowed ({type(exc).__name__})"
        if outcome.startswith("allowed") != allowed:
            mismatches.append(f"{name} as {role}: {outcome}, expected {'allowed' if allowed else 'denied'}")
    assert mismatches == []


def test_denied_calls_change_nothing(ctx: Context) -> None:
    world, actors = _world(ctx)
    targets = {name: world.target() for name in ("disable", "roles", "reset")}
    before = _snapshot(ctx)
    for role in ("worker", "auditor", "disabled", "stale_disabled", "other_team_worker"):
        a = actors[role]
        for call in (
            lambda: roster.disable_user(ctx, a, targets["disable"]),
            lambda: roster.set_roles(ctx, a, targets["roles"], [ADMIN]),
            lambda: invitations.reset_password(ctx, a, targets["reset"]),
            lambda: invitations.invite(ctx, a, ["evil@example.com"], world.team_a, roles=[ADMIN]),
            lambda: teams.create_team(ctx, a, "sneaky"),
            lambda: teams.add_members(ctx, a, world.team_b, [a.user_id or 0]),
        ):
            with pytest.raises(PermissionDenied):
                call()
    assert _snapshot(ctx) == before


def test_self_service_for_every_role(ctx: Context) -> None:
    """Sign-in, password change and sign-out need no role; a disabled user gets none of them."""
    world, actors = _world(ctx)
    for role in ("admin", "worker", "auditor", "other_team_worker"):
        a = actors[role]
        s = signin.sign_in(ctx, a.email, PASSWORD, "c")
        s = signin.change_password(ctx, s.token, PASSWORD, PASSWORD + "!")
        s = signin.change_password(ctx, s.token, PASSWORD + "!", PASSWORD)
        assert workforce.actor_for_token(ctx, s.token).user_id == a.user_id
        signin.sign_out(ctx, s.token)
        with pytest.raises(SessionExpired):
            workforce.actor_for_token(ctx, s.token)
    with pytest.raises(GTError):
        signin.sign_in(ctx, actors["disabled"].email, PASSWORD, "c")
    with pytest.raises(PermissionDenied):
        workforce.my_profile(ctx, actors["stale_disabled"])
    assert world.p.root().user_id == actors["admin"].user_id
