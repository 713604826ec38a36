"""The database schema (SQLAlchemy Core tables): state lives here (jobs, dataset objects, assignments/leases,
answers, users, teams, sessions, automated labeling, the background-work queue); data lives in the object store.
Timestamps are UTC epoch seconds stored as floats. Changes go through Alembic revisions (``gtcore/core/migrations``).
One module per domain, all on the one ``metadata`` of ``registry``: ``labeling`` (jobs, objects, assignments, tags),
``workforce`` (users, teams, sessions, throttling, invitations, access keys), ``oidc`` (the OIDC workforce),
``autolabel`` (automated data labeling), ``workqueue`` (background work). Importing this package registers every
table; ``gtcore.core.db`` re-exports them, so callers write ``dbm.jobs``.
"""

from __future__ import annotations

from gtcore.core.schema.autolabel import (
    autolabel_embeddings,
    autolabel_iterations,
    autolabel_jobs,
    autolabel_models,
)
from gtcore.core.schema.labeling import assignments, jobs, objects, resource_tags
from gtcore.core.schema.oidc import oidc_config, oidc_identities, oidc_logins, team_oidc_groups
from gtcore.core.schema.registry import SCHEMA_VERSION, metadata, schema_info
from gtcore.core.schema.workforce import (
    access_keys,
    invitations,
    login_sessions,
    login_throttle,
    team_members,
    teams,
    users,
)
from gtcore.core.schema.workqueue import work_items

__all__ = [
    "SCHEMA_VERSION",
    "access_keys",
    "assignments",
    "autolabel_embeddings",
    "autolabel_iterations",
    "autolabel_jobs",
    "autolabel_models",
    "invitations",
    "jobs",
    "login_sessions",
    "login_throttle",
    "metadata",
    "objects",
    "oidc_config",
    "oidc_identities",
    "oidc_logins",
    "resource_tags",
    "schema_info",
    "team_members",
    "team_oidc_groups",
    "teams",
    "users",
    "work_items",
]
