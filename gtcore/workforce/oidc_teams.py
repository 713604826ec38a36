"""Work teams of the OIDC workforce: a team lists OIDC groups (Ground Truth's ``OidcMemberDefinition.Groups``)
instead of members, and a person signed in through the provider is in every team whose groups meet his
``sagemaker:groups``.

Membership follows the groups at each sign-in (``sync_membership``): a person whose groups no longer match a team
leaves it, and his leased and stopped tasks of that team's jobs go back to the pool, so he loses the team's jobs.
When an admin changes a team's groups, the people the provider signed in join or leave it at once by the groups
their latest sign-in brought. Local members of a team are never touched by either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from sqlalchemy import Connection, delete, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import Problem, ValidationError
from gtcore.workforce.teams import add_members_in, resolve_team_id
from gtcore.workforce.users import _return_leases, require_admin_db

GROUPS_MAX = 10  # Ground Truth: at most 10 groups per OidcMemberDefinition and per person
GROUP_MAX = 63
_GROUP_RE = re.compile(r"[^\s,]+")


def group_problems(groups: Iterable[str], field: str = "Groups") -> list[Problem]:
    """Every reason ``groups`` is not a valid group list (1-63 characters each, no spaces or commas, at most 10)."""
    items = list(groups)
    out = [Problem(f"at most {GROUPS_MAX} groups (got {len(items)})", field=field)] if len(items) > GROUPS_MAX else []
    for g in items:
        if not isinstance(g, str) or not (0 < len(g) <= GROUP_MAX) or not _GROUP_RE.fullmatch(g):
            out.append(Problem(f"{g!r}: 1-{GROUP_MAX} characters without spaces or commas", field=field))
    return out


def set_team_groups(
    ctx: Context, actor: Actor, team: int | str, groups: Iterable[str], now: float | None = None
) -> list[str]:
    """Set the OIDC groups of a team (admin only; an empty list ends the mapping). People signed in through the
    provider join or leave the team at once by their groups at their latest sign-in (leaving returns their tasks of
    its jobs). Returns the stored groups, sorted."""
    items = sorted(dict.fromkeys(g.strip() for g in groups if isinstance(g, str) and g.strip()))
    problems = group_problems(items)
    if problems:
        raise ValidationError(problems, summary="the team's OIDC groups cannot be set")
    g = dbm.team_oidc_groups
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "change a team's OIDC groups")
        tid = resolve_team_id(conn, team)
        conn.execute(delete(g).where(g.c.team_id == tid))
        for name in items:
            conn.execute(g.insert().values(team_id=tid, group_name=name))
        _regroup_team(conn, tid, set(items), dbm.now() if now is None else now)
    return items


def _regroup_team(conn: Connection, team_id: int, groups: set[str], now: float) -> None:
    """Bring the provider's people in or out of ``team_id`` by the groups of their latest sign-in."""
    i, m = dbm.oidc_identities, dbm.team_members
    members = set(conn.execute(select(m.c.user_id).where(m.c.team_id == team_id)).scalars())
    for user_id, groups_json in conn.execute(select(i.c.user_id, i.c.groups_json)).all():
        wanted = bool(groups & set(json.loads(groups_json or "[]")))
        if wanted and user_id not in members:
            add_members_in(conn, team_id, [int(user_id)], now)
        elif not wanted and user_id in members:
            conn.execute(delete(m).where(m.c.team_id == team_id, m.c.user_id == user_id))
            _return_leases(conn, int(user_id), team_id=team_id)


def team_groups(ctx: Context, actor: Actor, team: int | str) -> list[str]:
    """The OIDC groups a team lists (admin only), sorted."""
    g = dbm.team_oidc_groups
    with ctx.db.read() as conn:
        require_admin_db(conn, actor, "read a team's OIDC groups")
        tid = resolve_team_id(conn, team)
        return list(conn.execute(select(g.c.group_name).where(g.c.team_id == tid).order_by(g.c.group_name)).scalars())


def all_team_groups(ctx: Context, actor: Actor) -> dict[str, list[str]]:
    """Team name -> its OIDC groups, for every team that lists some (admin only)."""
    g, t = dbm.team_oidc_groups, dbm.teams
    with ctx.db.read() as conn:
        require_admin_db(conn, actor, "read teams' OIDC groups")
        rows = conn.execute(
            select(t.c.name, g.c.group_name).join(g, g.c.team_id == t.c.id).order_by(t.c.name_lower, g.c.group_name)
        ).all()
    out: dict[str, list[str]] = {}
    for name, group in rows:
        out.setdefault(name, []).append(group)
    return out


def sync_membership(conn: Connection, user_id: int, groups: Iterable[str], now: float) -> tuple[list[int], list[int]]:
    """Make an OIDC person's teams those whose groups meet ``groups`` (inside the caller's write transaction).

    Returns (team ids joined, team ids left); leaving a team returns his leased tasks of its jobs to the pool.
    """
    g, m = dbm.team_oidc_groups, dbm.team_members
    mine = set(groups)
    wanted = {int(r.team_id) for r in conn.execute(select(g.c.team_id, g.c.group_name)).all() if r.group_name in mine}
    have = {int(t) for t in conn.execute(select(m.c.team_id).where(m.c.user_id == user_id)).scalars()}
    joined = sorted(wanted - have)
    left = sorted(have - wanted)
    for tid in joined:
        add_members_in(conn, tid, [user_id], now)
    for tid in left:
        conn.execute(delete(m).where(m.c.team_id == tid, m.c.user_id == user_id))
        _return_leases(conn, user_id, team_id=tid)
    return joined, left
