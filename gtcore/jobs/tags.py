"""Tags of labeling jobs: CreateLabelingJob's ``Tags`` (stored with the job in its creating transaction),
AddTags, ListTags and DeleteTags. Tag rules are the job spec's (``spec_sections.check_tags``): one source.
Reading follows the job's visibility (``describe.check_can_read``); changing needs an admin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gtcore.context import Context
from gtcore.core import tags
from gtcore.core.access import Actor, require_admin
from gtcore.core.errors import SpecError
from gtcore.jobs import spec_sections
from gtcore.jobs.describe import check_can_read, find_job_row
from gtcore.jobs.spec_checks import Checker


def parse_tags(value: Any, field: str = "Tags") -> dict[str, str]:
    """``[{"Key", "Value"}]`` checked by the job spec's rules -> ``{key: value}`` (SpecError naming the field)."""
    c = Checker()
    sections_req = {"Tags": value}
    spec_sections.check_tags(c, sections_req)
    if value is None:
        c.add(field, "required")
    if c.problems:
        problems = [type(p)(p.message, p.where, p.line, (p.field or "").replace("Tags", field, 1)) for p in c.problems]
        raise SpecError(problems, summary="the tags cannot be used")
    return {str(t["Key"]): str(t.get("Value", "")) for t in value}


def job_tags(ctx: Context, actor: Actor, name: str) -> list[dict[str, str]]:
    with ctx.db.read() as conn:
        row = find_job_row(conn, name)
        check_can_read(actor, row)
        return tags.tags_of(conn, tags.JOB, int(row.id))


def add_job_tags(ctx: Context, actor: Actor, name: str, new: dict[str, str]) -> None:
    require_admin(actor, "tag labeling jobs")
    with ctx.db.write() as conn:
        row = find_job_row(conn, name)
        tags.put_tags(conn, tags.JOB, int(row.id), new)


def delete_job_tags(ctx: Context, actor: Actor, name: str, keys: Sequence[str]) -> None:
    require_admin(actor, "untag labeling jobs")
    with ctx.db.write() as conn:
        row = find_job_row(conn, name)
        tags.drop_tags(conn, tags.JOB, int(row.id), keys)
