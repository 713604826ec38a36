"""Who is acting, and the role / team checks every gtcore call makes.

A page hiding a button is not authorization: every gtcore function that reads or changes jobs,
tasks, answers, outputs or people takes an ``Actor`` and calls one of the ``require_*`` helpers,
which raise ``PermissionDenied``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gtcore.core.errors import PermissionDenied

ADMIN = "admin"
WORKER = "worker"
AUDITOR = "auditor"
ROLES = (ADMIN, WORKER, AUDITOR)


@dataclass(frozen=True)
class Actor:
    """The signed-in user as gtcore sees it. Build it with ``workforce.actor_for(...)``.

    ``system`` actors (CLI run by the operator on the server, benchmarks) pass every check.
    """

    user_id: int | None
    email: str
    roles: frozenset[str] = field(default_factory=frozenset)
    team_ids: frozenset[int] = field(default_factory=frozenset)
    worker_id: str = ""
    is_active: bool = True
    system: bool = False

    @classmethod
    def system_actor(cls) -> Actor:
        return cls(user_id=None, email="system", roles=frozenset(ROLES), system=True)

    def has(self, role: str) -> bool:
        return self.system or (self.is_active and role in self.roles)


def require_role(actor: Actor, *roles: str, action: str = "do this") -> None:
    """Pass when the actor holds any of ``roles``."""
    if actor.system:
        return
    if not actor.is_active:
        raise PermissionDenied(f"{actor.email} is disabled and cannot {action}")
    if not any(r in actor.roles for r in roles):
        need = " or ".join(roles)
        raise PermissionDenied(f"{actor.email} cannot {action}: it needs the {need} role")


def require_admin(actor: Actor, action: str = "do this") -> None:
    require_role(actor, ADMIN, action=action)


def require_reader(actor: Actor, action: str = "read job outputs") -> None:
    """Admins and auditors read everything."""
    require_role(actor, ADMIN, AUDITOR, action=action)


def require_team_member(actor: Actor, team_id: int | None, job_name: str = "") -> None:
    """A worker acts on a job only when the job's team is one of his teams."""
    if actor.system:
        return
    require_role(actor, WORKER, action=f"work on job {job_name}".strip())
    if team_id is None or team_id not in actor.team_ids:
        raise PermissionDenied(f"{actor.email} is not in the team of job {job_name}".strip())


def can_read_job(actor: Actor, team_id: int | None) -> bool:
    """Admins and auditors see every job; workers see the jobs of their teams."""
    if actor.has(ADMIN) or actor.has(AUDITOR):
        return True
    return actor.has(WORKER) and team_id is not None and team_id in actor.team_ids
