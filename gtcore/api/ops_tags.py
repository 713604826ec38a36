"""Tags of labeling jobs and work teams: AddTags, ListTags, DeleteTags (by this server's ARNs).
Tag rules are the job spec's (``gtcore.jobs.spec_sections.check_tags``), for teams too."""

from __future__ import annotations

from typing import Any

from gtcore.api import arns
from gtcore.api.errors import validation
from gtcore.api.registry import Call, operation
from gtcore.jobs import tags as job_tags
from gtcore.workforce import workteams


def _resource(call: Call) -> tuple[str, str]:
    return arns.parse(call.ctx.settings, call.params["ResourceArn"], "ResourceArn")


@operation("AddTags")
def add_tags(call: Call) -> dict[str, Any]:
    kind, name = _resource(call)
    new = job_tags.parse_tags(call.params["Tags"])
    if kind == "labeling-job":
        job_tags.add_job_tags(call.ctx, call.actor, name, new)
    else:
        workteams.add_team_tags(call.ctx, call.actor, name, new)
    return {"Tags": [{"Key": k, "Value": v} for k, v in new.items()]}


@operation("ListTags", readers=True)
def list_tags(call: Call) -> dict[str, Any]:
    kind, name = _resource(call)
    if kind == "labeling-job":
        found = job_tags.job_tags(call.ctx, call.actor, name)
    else:
        found = workteams.team_tags(call.ctx, call.actor, name)
    token = call.params.get("NextToken")
    if token and not token.isdigit():
        raise validation(f"NextToken: {token[:40]!r} is not a token this service returned")
    start = int(token or 0)
    end = start + int(call.params.get("MaxResults", 50))
    out: dict[str, Any] = {"Tags": found[start:end]}
    if end < len(found):
        out["NextToken"] = str(end)
    return out


@operation("DeleteTags")
def delete_tags(call: Call) -> dict[str, Any]:
    kind, name = _resource(call)
    keys = [str(k) for k in call.params["TagKeys"]]
    if kind == "labeling-job":
        job_tags.delete_job_tags(call.ctx, call.actor, name, keys)
    else:
        workteams.delete_team_tags(call.ctx, call.actor, name, keys)
    return {}
