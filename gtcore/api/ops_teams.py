"""Work teams: CreateWorkteam, DescribeWorkteam, ListWorkteams, UpdateWorkteam, DeleteWorkteam (the workforce:
``gtcore.api.ops_workforce``).

Member definitions (how Ground Truth's map onto this product's teams):

- The workforce is one private workforce named ``default``, presented as a Cognito workforce whose user pool
  is ``<region>_gtcore`` and app client ``gtcore`` (or as an OIDC workforce once an identity provider is set).
  People with the product's own accounts are members of teams; each product team is one Cognito *user group* of
  the same name.
- ``CognitoMemberDefinition.UserGroup`` names a team: the team being created or updated itself (its own
  members), or another existing team, whose members are copied in when the call runs (later changes to that
  team do not follow). So ``UpdateWorkteam`` with groups ``[team, other]`` adds ``other``'s members, with just
  ``[other]`` replaces the members by ``other``'s, and the members of a group not named are removed.
  ``UserPool`` and ``ClientId`` name the AWS pool a script was written for; they are checked against the
  model's patterns and otherwise not used (there is one workforce). ``DescribeWorkteam`` answers with one
  definition, the team's own group.
- ``OidcMemberDefinition.Groups`` (1-10 groups of 1-63 characters) makes the team one of the identity
  provider's groups (``gtcore.workforce.oidc_teams``, the rule of the Workforce page and ``gtcore
  set-team-groups``): a person signed in through the provider is in it when his ``sagemaker:groups`` meet them.
  Several OIDC definitions add up (at most 10 groups in all). A team is made either of Cognito user groups or of
  OIDC groups: mixing the two in one call is refused naming the field (as AWS does). Updating a team to OIDC
  groups removes its local members (its members are then the groups' people); updating it to Cognito user
  groups ends its OIDC groups. ``DescribeWorkteam`` answers with the groups in the same shape.
- ``NotificationConfiguration`` (SNS) and ``WorkerAccessConfiguration`` (S3 presign conditions) are refused by
  name: nothing here publishes to SNS, and workers never receive S3 URLs.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from gtcore.api import arns
from gtcore.api.errors import validation
from gtcore.api.ops_workforce import CLIENT_ID, sub_domain, user_pool
from gtcore.api.registry import Call, operation
from gtcore.core.errors import NotFound
from gtcore.core.settings import Settings
from gtcore.jobs.arns import workteam_arn
from gtcore.jobs.describe import utc
from gtcore.jobs.tags import parse_tags
from gtcore.workforce import oidc_teams, teams, workteams
from gtcore.workforce.workteams import TeamDetails

COGNITO, OIDC = "CognitoMemberDefinition", "OidcMemberDefinition"


def _definitions(settings: Settings, team: TeamDetails) -> list[dict[str, Any]]:
    if team.oidc_groups:
        return [{OIDC: {"Groups": list(team.oidc_groups)}}]
    return [{COGNITO: {"UserPool": user_pool(settings), "UserGroup": team.name, "ClientId": CLIENT_ID}}]


def _workteam(settings: Settings, team: TeamDetails) -> dict[str, Any]:
    return {
        "WorkteamName": team.name,
        "MemberDefinitions": _definitions(settings, team),
        "WorkteamArn": workteam_arn(team.name, settings),
        "WorkforceArn": arns.workforce(settings),
        "ProductListingIds": [],
        "Description": team.description or team.name,
        "SubDomain": sub_domain(settings),
        "CreateDate": utc(team.created_at),
        "LastUpdatedDate": utc(team.created_at),
    }


def _refuse_unsupported(p: dict[str, Any]) -> None:
    if p.get("NotificationConfiguration"):
        raise validation("NotificationConfiguration: SNS notifications of new tasks are not available here")
    if p.get("WorkerAccessConfiguration"):
        raise validation(
            "WorkerAccessConfiguration: workers never receive S3 URLs here, so there is nothing to restrict"
        )


def _kind(call: Call) -> str | None:
    """``COGNITO`` or ``OIDC``: the kind every member definition has (None when none is given); a definition with
    both, with neither, or of another kind than the first is a ValidationException naming it."""
    kind, first = None, ""
    for i, item in enumerate(call.params.get("MemberDefinitions") or []):
        field = f"MemberDefinitions[{i}]"
        given = [k for k in (COGNITO, OIDC) if item.get(k) is not None]
        if len(given) != 1:
            raise validation(
                f"{field}: give exactly one of CognitoMemberDefinition (UserPool, UserGroup, ClientId) "
                f"and OidcMemberDefinition (Groups), not {' and '.join(given) or 'neither'}"
            )
        if kind is None:
            kind, first = given[0], field
        elif given[0] != kind:
            raise validation(
                f"{field}.{given[0]}: a work team is made either of Cognito user groups or of OIDC groups, "
                f"not both ({first} is a {kind})"
            )
    return kind


def _model_group(group: str) -> bool:
    """The model's pattern for a Group, ``[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+`` (Python's re has no \\p)."""
    return bool(group) and all(unicodedata.category(c)[0] in "LMSNP" for c in group)


def _oidc_groups(call: Call) -> list[str]:
    """The OIDC groups the definitions list, checked by the oidc module's rule; ValidationException naming them."""
    out: list[str] = []
    for i, item in enumerate(call.params.get("MemberDefinitions") or []):
        field = f"MemberDefinitions[{i}].OidcMemberDefinition.Groups"
        groups = item[OIDC].get("Groups") or []
        if not groups:
            raise validation(f"{field}: give 1-{oidc_teams.GROUPS_MAX} groups")
        for group in groups:
            if not _model_group(group):
                raise validation(f"{field}: {group[:80]!r} has a space or a control character")
        problems = oidc_teams.group_problems(groups, field=field)
        if problems:
            raise validation("; ".join(str(p) for p in problems))
        out += [g for g in groups if g not in out]
    if len(out) > oidc_teams.GROUPS_MAX:
        raise validation(f"MemberDefinitions: at most {oidc_teams.GROUPS_MAX} OIDC groups in all, not {len(out)}")
    return out


def _groups(call: Call, team_name: str) -> list[str]:
    """The teams the Cognito definitions name (``team_name`` itself allowed); ValidationException naming the field."""
    out: list[str] = []
    for i, item in enumerate(call.params.get("MemberDefinitions") or []):
        field = f"MemberDefinitions[{i}]"
        group = str(item[COGNITO]["UserGroup"])
        if group.lower() != team_name.lower():
            try:
                workteams.describe_team(call.ctx, call.actor, group)
            except NotFound:
                raise validation(
                    f"{field}.CognitoMemberDefinition.UserGroup: no work team {group!r} (a user group is a team here)"
                ) from None
        out.append(group)
    return out


@operation("CreateWorkteam")
def create_workteam(call: Call) -> dict[str, Any]:
    p = call.params
    name = p["WorkteamName"]
    if p.get("WorkforceName", arns.WORKFORCE) != arns.WORKFORCE:
        raise validation(f"WorkforceName: the only workforce is {arns.WORKFORCE!r}, not {p['WorkforceName']!r}")
    _refuse_unsupported(p)
    new_tags = parse_tags(p["Tags"]) if p.get("Tags") is not None else {}
    kind = _kind(call)
    oidc = _oidc_groups(call) if kind == OIDC else []  # every check before the team is made
    groups = _groups(call, name) if kind == COGNITO else []
    team = teams.create_team(call.ctx, call.actor, name, p.get("Description", ""))
    if oidc:
        oidc_teams.set_team_groups(call.ctx, call.actor, team.id, oidc)
    if any(g.lower() != name.lower() for g in groups):
        workteams.set_members_from_teams(call.ctx, call.actor, team.id, groups)
    if new_tags:
        workteams.add_team_tags(call.ctx, call.actor, team.id, new_tags)
    return {"WorkteamArn": workteam_arn(team.name, call.ctx.settings)}


@operation("DescribeWorkteam", readers=True)
def describe_workteam(call: Call) -> dict[str, Any]:
    team = workteams.describe_team(call.ctx, call.actor, call.params["WorkteamName"])
    return {"Workteam": _workteam(call.ctx.settings, team)}


def _page(items: list[Any], p: dict[str, Any], default: int = 10) -> tuple[list[Any], str | None]:
    token = p.get("NextToken")
    start = 0
    if token:
        if not token.isdigit():
            raise validation(f"NextToken: {token[:40]!r} is not a token this service returned")
        start = int(token)
    size = int(p.get("MaxResults", default))
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _sorted(items: list[Any], p: dict[str, Any], name: Any, created: Any) -> list[Any]:
    contains = (p.get("NameContains") or "").lower()
    items = [i for i in items if contains in name(i).lower()]
    key = created if p.get("SortBy") == "CreateDate" else (lambda i: name(i).lower())
    return sorted(items, key=key, reverse=p.get("SortOrder", "Ascending") == "Descending")


@operation("ListWorkteams", readers=True)
def list_workteams(call: Call) -> dict[str, Any]:
    p = call.params
    found = _sorted(workteams.list_team_details(call.ctx, call.actor), p, lambda t: t.name, lambda t: t.created_at)
    page, token = _page(found, p)
    out: dict[str, Any] = {"Workteams": [_workteam(call.ctx.settings, t) for t in page]}
    if token:
        out["NextToken"] = token
    return out


@operation("UpdateWorkteam")
def update_workteam(call: Call) -> dict[str, Any]:
    p = call.params
    name = p["WorkteamName"]
    _refuse_unsupported(p)
    current = workteams.describe_team(call.ctx, call.actor, name)
    kind = _kind(call)
    if kind == OIDC:
        oidc = _oidc_groups(call)
        oidc_teams.set_team_groups(call.ctx, call.actor, current.id, oidc)
        workteams.remove_local_members(call.ctx, call.actor, current.id)  # its members are the groups' people
    elif kind == COGNITO:
        groups = _groups(call, current.name)
        if current.oidc_groups:
            oidc_teams.set_team_groups(call.ctx, call.actor, current.id, [])  # no longer made of OIDC groups
        workteams.set_members_from_teams(call.ctx, call.actor, current.id, groups)
    if p.get("Description") is not None:
        workteams.set_description(call.ctx, call.actor, current.id, p["Description"])
    return {"Workteam": _workteam(call.ctx.settings, workteams.describe_team(call.ctx, call.actor, current.id))}


@operation("DeleteWorkteam")
def delete_workteam(call: Call) -> dict[str, Any]:
    workteams.delete_team(call.ctx, call.actor, call.params["WorkteamName"])
    return {"Success": True}
