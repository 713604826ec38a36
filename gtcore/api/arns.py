"""Ground Truth's ARNs in this server's region and account (``GT_AWS_REGION``, ``GT_AWS_ACCOUNT_ID``)::

    arn:aws:sagemaker:<region>:<account>:labeling-job/<job name, lower-cased>
    arn:aws:sagemaker:<region>:<account>:workteam/private-crowd/<team name>
    arn:aws:sagemaker:<region>:<account>:workforce/default

A workteam may also be given by its bare name wherever the API takes a ``WorkteamArn``.
"""

from __future__ import annotations

import re

from gtcore.api.errors import ApiError, validation
from gtcore.core.settings import Settings

WORKFORCE = "default"
_ARN = re.compile(r"arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z0-9\-]*):(?P<account>[0-9]{12}):(?P<rest>.+)")
_TEAM_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


def _prefix(settings: Settings) -> str:
    return f"arn:aws:sagemaker:{settings.aws_region}:{settings.aws_account_id}"


def workteam(settings: Settings, name: str) -> str:
    return f"{_prefix(settings)}:workteam/private-crowd/{name}"


def workforce(settings: Settings) -> str:
    return f"{_prefix(settings)}:workforce/{WORKFORCE}"


def parse(settings: Settings, arn: str, field: str) -> tuple[str, str]:
    """``(kind, name)`` of one of this server's ARNs: kind ``labeling-job`` or ``workteam``."""
    m = _ARN.fullmatch(arn or "")
    if m is None:
        raise validation(f"{field}: {arn[:300]!r} is not a SageMaker ARN (arn:aws:sagemaker:<region>:<account>:...)")
    if m["region"] != settings.aws_region or m["account"] != settings.aws_account_id:
        raise ApiError(
            "ResourceNotFound",
            f"{field}: {arn!r} is not in this server's region and account "
            f"({settings.aws_region}, {settings.aws_account_id})",
        )
    rest = m["rest"]
    if rest.startswith("labeling-job/") and len(rest) > len("labeling-job/"):
        return "labeling-job", rest[len("labeling-job/") :]
    if rest.startswith("workteam/private-crowd/") and len(rest) > len("workteam/private-crowd/"):
        return "workteam", rest[len("workteam/private-crowd/") :]
    raise validation(
        f"{field}: {arn!r} names no labeling job or private work team (tags are kept for those two kinds only)"
    )


def team_name(settings: Settings, value: str, field: str = "WorkteamArn") -> str:
    """The team a WorkteamArn names: a full ARN of this server, or the bare team name."""
    if value.startswith("arn:"):
        kind, name = parse(settings, value, field)
        if kind != "workteam":
            raise validation(f"{field}: {value!r} is not a workteam ARN (...:workteam/private-crowd/<team>)")
        return name
    if not _TEAM_NAME.fullmatch(value):
        raise validation(f"{field}: {value!r} is neither a workteam ARN nor a team name")
    return value
