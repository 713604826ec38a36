"""Ground Truth's identifiers of labeling jobs and work teams: ARNs in this server's region and account
(``GT_AWS_REGION``, ``GT_AWS_ACCOUNT_ID``; ``local`` / ``000000000000`` without Settings) and a job's reference
code. ``gtcore.api.arns`` parses them back."""

from __future__ import annotations

import secrets
import string

from gtcore.core.settings import Settings

REGION = "local"
ACCOUNT = "000000000000"


def job_arn(name: str, settings: Settings | None = None) -> str:
    """Ground Truth's job ARN, in the region and account of ``settings`` (GT_AWS_REGION, GT_AWS_ACCOUNT_ID)."""
    region, account = (settings.aws_region, settings.aws_account_id) if settings else (REGION, ACCOUNT)
    return f"arn:aws:sagemaker:{region}:{account}:labeling-job/{name.lower()}"


def workteam_arn(team_name: str, settings: Settings | None = None) -> str:
    """A private work team's ARN (``workteam/private-crowd/<name>``)."""
    region, account = (settings.aws_region, settings.aws_account_id) if settings else (REGION, ACCOUNT)
    return f"arn:aws:sagemaker:{region}:{account}:workteam/private-crowd/{team_name}"


def reference_code() -> str:
    """A job's reference code: the account and 16 random letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return ACCOUNT + "".join(secrets.choice(alphabet) for _ in range(16))
