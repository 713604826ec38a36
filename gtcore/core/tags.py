"""Tags of labeling jobs and work teams (``resource_tags``): the rows behind CreateLabelingJob's and
CreateWorkteam's ``Tags``, AddTags, ListTags and DeleteTags. These helpers run inside the caller's
transaction; the callers (``gtcore.jobs.tags``, ``gtcore.workforce.workteams``) check roles and names.

Rules (SageMaker's, checked by the callers through ``gtcore.jobs.spec_sections.check_tags``): at most
``MAX_TAGS`` per resource, a key 1-128 characters, a value 0-256; adding a key that exists replaces its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, delete, func, select

from gtcore.core import schema
from gtcore.core.errors import Problem, ValidationError

JOB = "labeling-job"
TEAM = "workteam"
MAX_TAGS = 50
T = schema.resource_tags


def tags_of(conn: Connection, kind: str, resource_id: int) -> list[dict[str, str]]:
    """``[{"Key", "Value"}]`` sorted by key."""
    rows = conn.execute(
        select(T.c.key, T.c.value).where(T.c.kind == kind, T.c.resource_id == resource_id).order_by(T.c.key)
    )
    return [{"Key": k, "Value": v} for k, v in rows]


def put_tags(conn: Connection, kind: str, resource_id: int, tags: Mapping[str, str], field: str = "Tags") -> None:
    """Add or replace ``tags``; ValidationError when the resource would hold more than MAX_TAGS."""
    if not tags:
        return
    have = set(conn.execute(select(T.c.key).where(T.c.kind == kind, T.c.resource_id == resource_id)).scalars())
    if len(have | set(tags)) > MAX_TAGS:
        why = f"a resource holds at most {MAX_TAGS} tags ({len(have)} now, {len(set(tags) - have)} new)"
        raise ValidationError([Problem(why, field=field)])
    for key, value in tags.items():
        if key in have:
            conn.execute(
                T.update().where(T.c.kind == kind, T.c.resource_id == resource_id, T.c.key == key).values(value=value)
            )
        else:
            conn.execute(T.insert().values(kind=kind, resource_id=resource_id, key=key, value=value))


def drop_tags(conn: Connection, kind: str, resource_id: int, keys: Iterable[str] | None = None) -> int:
    """Delete the given keys (every tag when ``keys`` is None); returns how many went."""
    q = delete(T).where(T.c.kind == kind, T.c.resource_id == resource_id)
    if keys is not None:
        q = q.where(T.c.key.in_(list(keys)))
    return int(conn.execute(q).rowcount or 0)


def tag_count(conn: Connection, kind: str, resource_id: int) -> int:
    q = select(func.count()).select_from(T).where(T.c.kind == kind, T.c.resource_id == resource_id)
    return int(conn.execute(q).scalar_one())
