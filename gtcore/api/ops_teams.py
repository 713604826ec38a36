"""Work teams and the workforce: CreateWorkteam, DescribeWorkteam, ListWorkteams, UpdateWorkteam,
DeleteWorkteam, DescribeWorkforce, ListWorkforces.

Member definitions (how Ground Truth's map onto this product's teams):

- The workforce is one private workforce named ``default``, presented as a Cognito workforce whose user pool
  is ``<region>_gtcore`` and app client ``gtcore`` (``DescribeWorkforce``). People sign in with the product's
  own accounts; each product team is one Cognito *user group* of the same name.
- ``CognitoMemberDefinition.UserGroup`` names a team: the team being created or updated itself (its own
  members), or another existing team, whose members are copied in when the call runs (later changes to that
  team do not follow). So ``UpdateWorkteam`` with groups ``[team, other]`` adds ``other``'s members, with just
  ``[other]`` replaces the members by ``other``'s, and the members of a group not named are removed.
  ``UserPool`` and ``ClientId`` name the AWS pool a script was written for; they are checked against the
  model's patterns and otherwise not used (there is one workforce). ``DescribeWorkteam`` answers with one
  definition, the team's own group.
- ``OidcMemberDefinition`` is refused by name: this workforce is not an OIDC workforce.
- ``NotificationConfiguration`` (SNS) and ``WorkerAccessConfiguration`` (S3 presign conditions) are refused by
  name: nothing here publishes to SNS, and workers never receive S3 URLs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from gtcore.api import arns
from gtcore.api.errors import ApiError, validation
from gtcore.api.registry import Call, operation
from gtcore.core.errors import NotFound
from gtcore.core.settings import Settings
from gtcore.jobs.describe import utc
from gtcore.jobs.tags import parse_tags
from gtcore.workforce import teams, workteams
from gtcore.workforce.workteams import TeamDetails

CLIENT_ID = "gtcore"


def user_pool(settings: Settings) -> str:
    return f"{settings.aws_region}_gtcore"


def _sub_domain(settings: Settings) -> str:
    return urlsplit(settings.portal_url).netloc or settings.portal_url


def _workteam(settings: Settings, team: TeamDetails) -> dict[str, Any]:
    return {
        "WorkteamName": team.name,
        "MemberDefinitions": [
            {
                "CognitoMemberDefinition": {
                    "UserPool": user_pool(settings),
                    "UserGroup": team.name,
                    "ClientId": CLIENT_ID,
                }
            }
        ],
        "WorkteamArn": arns.workteam(settings, team.name),
        "WorkforceArn": arns.workforce(settings),
        "ProductListingIds": [],
        "Description": team.description or team.name,
        "SubDomain": _sub_domain(settings),
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


def _groups(call: Call, team_name: str) -> list[str]:
    """The teams the member definitions name (``team_name`` itself allowed); ValidationException naming the field."""
    out: list[str] = []
    for i, item in enumerate(call.params.get("MemberDefinitions") or []):
        field = f"MemberDefinitions[{i}]"
        if item.get("OidcMemberDefinition") is not None:
            raise validation(
                f"{field}.OidcMemberDefinition: this workforce signs people in with its own accounts (Cognito-like), "
                "not OIDC: give CognitoMemberDefinition with a team name as UserGroup"
            )
        cognito = item.get("CognitoMemberDefinition")
        if cognito is None:
            raise validation(f"{field}: give CognitoMemberDefinition (UserPool, UserGroup, ClientId)")
        group = str(cognito["UserGroup"])
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
    groups = _groups(call, name)
    team = teams.create_team(call.ctx, call.actor, name, p.get("Description", ""))
    if any(g.lower() != name.lower() for g in groups):
        workteams.set_members_from_teams(call.ctx, call.actor, team.id, groups)
    if new_tags:
        workteams.add_team_tags(call.ctx, call.actor, team.id, new_tags)
    return {"WorkteamArn": arns.workteam(call.ctx.settings, team.name)}


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
    if p.get("MemberDefinitions") is not None:
        workteams.set_members_from_teams(call.ctx, call.actor, current.id, _groups(call, current.name))
    if p.get("Description") is not None:
        workteams.set_description(call.ctx, call.actor, current.id, p["Description"])
    return {"Workteam": _workteam(call.ctx.settings, workteams.describe_team(call.ctx, call.actor, current.id))}


@operation("DeleteWorkteam")
def delete_workteam(call: Call) -> dict[str, Any]:
    workteams.delete_team(call.ctx, call.actor, call.params["WorkteamName"])
    return {"Success": True}


def _workforce(call: Call) -> dict[str, Any]:
    s = call.ctx.settings
    created = min([t.created_at for t in workteams.list_team_details(call.ctx, call.actor)] or [0.0])
    return {
        "WorkforceName": arns.WORKFORCE,
        "WorkforceArn": arns.workforce(s),
        "LastUpdatedDate": utc(created),
        "SourceIpConfig": {"Cidrs": []},
        "SubDomain": _sub_domain(s),
        "CognitoConfig": {"UserPool": user_pool(s), "ClientId": CLIENT_ID},
        "CreateDate": utc(created),
        "Status": "Active",
    }


@operation("DescribeWorkforce", readers=True)
def describe_workforce(call: Call) -> dict[str, Any]:
    if call.params["WorkforceName"] != arns.WORKFORCE:
        raise ApiError("ResourceNotFound", f"no workforce {call.params['WorkforceName']!r}: the only one is 'default'")
    return {"Workforce": _workforce(call)}


@operation("ListWorkforces", readers=True)
def list_workforces(call: Call) -> dict[str, Any]:
    p = call.params
    found = [_workforce(call)] if (p.get("NameContains") or "").lower() in arns.WORKFORCE else []
    page, token = _page(found, p)
    out: dict[str, Any] = {"Workforces": page}
    if token:
        out["NextToken"] = token
    return out
