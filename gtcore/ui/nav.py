"""Which pages exist and which roles may open them. ``app.py`` builds ``st.navigation`` from this."""

from __future__ import annotations

from dataclasses import dataclass

from gtcore.core.access import ADMIN, AUDITOR, WORKER, Actor


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    roles: frozenset[str]
    section: str


_ALL = frozenset({ADMIN, WORKER, AUDITOR})
PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/home.py", "Home", ":material/home:", _ALL, "General"),
    PageSpec("pages/portal.py", "Worker portal", ":material/work:", frozenset({WORKER}), "Labeling"),
    PageSpec("pages/label.py", "Label", ":material/draw:", frozenset({WORKER}), "Labeling"),
    PageSpec("pages/jobs.py", "Jobs", ":material/list_alt:", frozenset({ADMIN, AUDITOR}), "Jobs"),
    PageSpec("pages/create_job.py", "Create job", ":material/add_box:", frozenset({ADMIN}), "Jobs"),
    PageSpec("pages/job_status.py", "Job status", ":material/monitoring:", frozenset({ADMIN, AUDITOR}), "Jobs"),
    PageSpec("pages/viewer.py", "Manifest viewer", ":material/image_search:", frozenset({ADMIN, AUDITOR}), "Audit"),
    PageSpec("pages/workforce.py", "Workforce", ":material/group:", frozenset({ADMIN}), "Admin"),
    PageSpec("pages/account.py", "Account", ":material/person:", _ALL, "General"),
)


def pages_for(actor: Actor) -> list[PageSpec]:
    """The pages the actor's roles allow, in menu order."""
    return [p for p in PAGES if any(actor.has(r) for r in p.roles)]


def allowed(actor: Actor, path: str) -> bool:
    return any(p.path == path for p in pages_for(actor))
