"""Ground Truth's ARNs in this server's region and account (``GT_AWS_REGION``, ``GT_AWS_ACCOUNT_ID``)::

    arn:aws:sagemaker:<region>:<account>:labeling-job/<job name, lower-cased>
    arn:aws:sagemaker:<region>:<account>:workteam/private-crowd/<team name>
    arn:aws:sagemaker:<region>:<account>:workforce/default

A workteam may also be given by its bare name wherever the API takes a ``WorkteamArn``; a workteam ARN's
region and account are not checked there (the team's name identifies it, as for CreateLabelingJob).
"""

from __future__ import annotations

import re

from gtcore.api.errors import ApiError, validation
from gtcore.core.settings import Settings
from gtcore.jobs.spec_human import team_from_workteam

WORKFORCE = "default"
_ARN = re.compile(r"arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z0-9\-]*):(?P<account>[0-9]{12}):(?P<rest>.+)")


def _prefix(settings: Settings) -> str:
    return f"arn:aws:sagemaker:{settings.aws_region}:{settings.aws_account_id}"


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


def team_name(value: str, field: str = "WorkteamArn") -> str:
    """The team a WorkteamArn names: a private-crowd workteam ARN or the bare team name, by the same rule as
    CreateLabelingJob's ``HumanTaskConfig.WorkteamArn`` (``jobs.spec_human.team_from_workteam``): the team's name
    is what identifies it, so a script keeping its AWS account and region in the ARN finds the team of that name."""
    name, problem = team_from_workteam(value)
    if name is None:
        raise validation(f"{field}: {problem}")
    return name
