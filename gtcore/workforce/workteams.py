"""Work teams as the SageMaker API sees them (DescribeWorkteam, ListWorkteams, UpdateWorkteam, DeleteWorkteam,
the teams' tags). Creating and renaming: ``gtcore.workforce.teams``.

Reading teams is for admins and auditors; changing them for admins. A team's members can be set from other
teams (``set_members_from_teams``: the API's member definitions name Cognito user groups, which are this
product's teams, see ``gtcore.api.ops_teams``). Deleting a team is refused while a job not yet ended uses it;
jobs that ended keep their ``WorkteamArn`` in their request and lose only the link to the team row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import tags
from gtcore.core.access import Actor, require_reader
from gtcore.core.errors import Conflict
from gtcore.workforce.teams import add_members_in, resolve_team_id
from gtcore.workforce.users import _return_leases, require_admin_db

ENDED = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class TeamDetails:
    id: int
    name: str
    description: str
    created_at: float
    member_emails: tuple[str, ...]
    oidc_groups: tuple[str, ...] = ()  # the provider's groups the team is made of (``gtcore.workforce.oidc_teams``)


def _details(conn: Connection, team_ids: Sequence[int]) -> list[TeamDetails]:
    t, m, u = dbm.teams, dbm.team_members, dbm.users
    if not team_ids:
        return []
    members: dict[int, list[str]] = {int(i): [] for i in team_ids}
    q = (
        select(m.c.team_id, u.c.email)
        .join(u, u.c.id == m.c.user_id)
        .where(m.c.team_id.in_(list(team_ids)))
        .order_by(u.c.email_lower)
    )
    for tid, email in conn.execute(q):
        members[int(tid)].append(email)
    groups: dict[int, list[str]] = {int(i): [] for i in team_ids}
    g = dbm.team_oidc_groups
    q = select(g.c.team_id, g.c.group_name).where(g.c.team_id.in_(list(team_ids))).order_by(g.c.group_name)
    for tid, group in conn.execute(q):
        groups[int(tid)].append(group)
    rows = conn.execute(select(t).where(t.c.id.in_(list(team_ids))).order_by(t.c.name_lower)).all()
    return [
        TeamDetails(int(r.id), r.name, r.description, r.created_at, tuple(members[int(r.id)]), tuple(groups[int(r.id)]))
        for r in rows
    ]


def describe_team(ctx: Context, actor: Actor, team: int | str) -> TeamDetails:
    require_reader(actor, "read work teams")
    with ctx.db.read() as conn:
        return _details(conn, [resolve_team_id(conn, team)])[0]


def list_team_details(ctx: Context, actor: Actor) -> list[TeamDetails]:
    """Every team, by name (admins and auditors)."""
    require_reader(actor, "list work teams")
    with ctx.db.read() as conn:
        ids = list(conn.execute(select(dbm.teams.c.id)).scalars())
        return _details(conn, ids)


def set_members_from_teams(ctx: Context, actor: Actor, team: int | str, sources: Sequence[str]) -> TeamDetails:
    """Make the members of ``team`` the members of the ``sources`` teams (by name; the team itself among them
    keeps its own members) in one transaction. Removed members' leased tasks of the team's jobs go back."""
    t = dbm.now()
    m = dbm.team_members
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "change team members")
        tid = resolve_team_id(conn, team)
        source_ids = [resolve_team_id(conn, s) for s in sources]
        wanted = set(conn.execute(select(m.c.user_id).where(m.c.team_id.in_(source_ids))).scalars())
        have = set(conn.execute(select(m.c.user_id).where(m.c.team_id == tid)).scalars())
        for uid in sorted(have - wanted):
            conn.execute(delete(m).where(m.c.team_id == tid, m.c.user_id == uid))
            _return_leases(conn, uid, team_id=tid)
        add_members_in(conn, tid, sorted(wanted - have), t)
        return _details(conn, [tid])[0]


def remove_local_members(ctx: Context, actor: Actor, team: int | str) -> int:
    """Remove the team's members who have no identity-provider sign-in (a team made of OIDC groups has only the
    groups' people); their leased tasks of the team's jobs go back. Returns how many left."""
    m, i = dbm.team_members, dbm.oidc_identities
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "change team members")
        tid = resolve_team_id(conn, team)
        local = list(
            conn.execute(
                select(m.c.user_id).where(m.c.team_id == tid, m.c.user_id.not_in(select(i.c.user_id)))
            ).scalars()
        )
        for uid in local:
            conn.execute(delete(m).where(m.c.team_id == tid, m.c.user_id == uid))
            _return_leases(conn, int(uid), team_id=tid)
        return len(local)


def set_description(ctx: Context, actor: Actor, team: int | str, description: str) -> None:
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "change work teams")
        tid = resolve_team_id(conn, team)
        conn.execute(update(dbm.teams).where(dbm.teams.c.id == tid).values(description=description.strip()))


def delete_team(ctx: Context, actor: Actor, team: int | str) -> None:
    """Delete a team: Conflict while a job that has not ended (Completed, Failed, Stopped) uses it."""
    j = dbm.jobs
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "delete work teams")
        tid = resolve_team_id(conn, team)
        name = conn.execute(select(dbm.teams.c.name).where(dbm.teams.c.id == tid)).scalar_one()
        busy = conn.execute(
            select(func.count()).select_from(j).where(j.c.team_id == tid, j.c.status.not_in(ENDED))
        ).scalar_one()
        if busy:
            raise Conflict(f"work team {name!r} has {busy} labeling job(s) not ended yet: stop them first")
        conn.execute(update(j).where(j.c.team_id == tid).values(team_id=None))
        conn.execute(update(dbm.invitations).where(dbm.invitations.c.team_id == tid).values(team_id=None))
        conn.execute(delete(dbm.team_members).where(dbm.team_members.c.team_id == tid))
        conn.execute(delete(dbm.team_oidc_groups).where(dbm.team_oidc_groups.c.team_id == tid))
        tags.drop_tags(conn, tags.TEAM, tid)
        conn.execute(delete(dbm.teams).where(dbm.teams.c.id == tid))


def team_tags(ctx: Context, actor: Actor, team: int | str) -> list[dict[str, str]]:
    require_reader(actor, "read work team tags")
    with ctx.db.read() as conn:
        return tags.tags_of(conn, tags.TEAM, resolve_team_id(conn, team))


def add_team_tags(ctx: Context, actor: Actor, team: int | str, new: Mapping[str, str]) -> None:
    """Add or replace tags (validated by the caller: ``gtcore.jobs.spec_sections.check_tags``)."""
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "tag work teams")
        tags.put_tags(conn, tags.TEAM, resolve_team_id(conn, team), new)


def delete_team_tags(ctx: Context, actor: Actor, team: int | str, keys: Sequence[str]) -> None:
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "untag work teams")
        tags.drop_tags(conn, tags.TEAM, resolve_team_id(conn, team), keys)
