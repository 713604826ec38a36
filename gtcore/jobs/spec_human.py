"""Validation of ``HumanTaskConfig`` (groundtruth-reference.md 4.2), the task type and our Instructions extension.

The task type is read the way Ground Truth names it: ``PreHumanTaskLambdaArn``
(``arn:aws:lambda:<region>:<acct>:function:PRE-BoundingBox``), the ``ACS-`` consolidation Lambda, a plain
``TaskType`` field (our extension, a name from ``gtcore.core.tasktypes``), or, as a last resort, the crowd
element in the ``UiConfig.UiTemplateS3Uri`` template (read by ``gtcore.jobs.api``). When several are given
they must agree.

Instructions (extension): ``{"Short": str, "Full": markdown, "Examples": [{"Kind": "good"|"bad",
"ImageUri": str, "Caption": str}]}``. The example image URIs are checked against the store by
``gtcore.jobs.api`` (they must be allowed URIs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gtcore.core import tasktypes
from gtcore.core.tasktypes import TaskType
from gtcore.jobs.spec_checks import Checker

ARN_PART = r"arn:aws[a-z\-]*"
WORKTEAM_ARN = ARN_PART + r":sagemaker:[a-z0-9\-]*:[0-9]{12}:workteam/.*"
LAMBDA_ARN = ARN_PART + r":lambda:[a-z0-9\-]*:[0-9]{12}:function:.*"
HUMAN_TASK_UI_ARN = ARN_PART + r":sagemaker:[a-z0-9\-]+:[0-9]{12}:human-task-ui/.*"
TITLE_PATTERN = "[\t\n\r -\ud7ff\ue000-\ufffd]*"
KEYWORD_PATTERN = r"[A-Za-z0-9]+( [A-Za-z0-9]+)*"
TEAM_NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"

MAX_TASK_TIME_LIMIT = 28_800  # 8 h for image tasks
MAX_AVAILABILITY = 2_592_000  # 30 days: private workforce default and maximum
DEFAULT_AVAILABILITY = 2_592_000
DEFAULT_MAX_CONCURRENT = 1000

SHORT_INSTRUCTIONS_MAX = 255
FULL_INSTRUCTIONS_MAX = 65_536
MAX_EXAMPLES = 20
CAPTION_MAX = 255
EXAMPLE_KINDS = ("good", "bad")

HUMAN_KEYS = (
    "WorkteamArn",
    "UiConfig",
    "PreHumanTaskLambdaArn",
    "TaskKeywords",
    "TaskTitle",
    "TaskDescription",
    "NumberOfHumanWorkersPerDataObject",
    "TaskTimeLimitInSeconds",
    "TaskAvailabilityLifetimeInSeconds",
    "MaxConcurrentTaskCount",
    "AnnotationConsolidationConfig",
    "PublicWorkforceTaskPrice",
    "TaskType",  # extension
    "Instructions",  # extension
)

# crowd elements in a worker template -> task type (multi-select first: it contains the single-label name)
_TEMPLATE_ELEMENTS = (
    ("crowd-image-classifier-multi-select", tasktypes.IMAGE_MULTI_LABEL),
    ("crowd-image-classifier", tasktypes.IMAGE_CLASSIFICATION),
    ("crowd-classifier-multi-select", tasktypes.TEXT_MULTI_LABEL),  # the text elements (no image- prefix)
    ("crowd-classifier", tasktypes.TEXT_CLASSIFICATION),
    ("crowd-bounding-box", tasktypes.BOUNDING_BOX),
    ("crowd-semantic-segmentation", tasktypes.SEMANTIC_SEGMENTATION),
)


@dataclass
class HumanTask:
    team: str | None = None
    task_type: TaskType | None = None
    ui_template_uri: str | None = None
    title: str | None = None
    description: str | None = None
    keywords: tuple[str, ...] = ()
    workers_per_object: int | None = None
    task_time_limit: int | None = None
    availability_lifetime: int = DEFAULT_AVAILABILITY
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    instructions: dict[str, Any] = field(default_factory=dict)


def team_from_workteam(value: str) -> tuple[str | None, str | None]:
    """``(team name, problem)`` for a WorkteamArn: a plain team name or ``...:workteam/private-crowd/<team>``."""
    if not value.startswith("arn:"):
        if not re.fullmatch(TEAM_NAME_PATTERN, value):
            return None, f"{value!r} is neither a team name (letters, digits, hyphens) nor a workteam ARN"
        return value, None
    if not re.fullmatch(WORKTEAM_ARN, value):
        return None, f"{value!r} does not match the pattern {WORKTEAM_ARN}"
    tail = value.split(":workteam/", 1)[1]
    if tail.startswith("public-crowd/"):
        return None, "Mechanical Turk (public-crowd) is not available here; use a private team"
    if not tail.startswith("private-crowd/") or not tail[len("private-crowd/") :]:
        return None, f"{value!r} is not a private team ARN (…:workteam/private-crowd/<team>)"
    return tail[len("private-crowd/") :], None


def task_type_from_template(text: str) -> TaskType | None:
    """The built-in crowd element a Ground Truth worker template uses, if any."""
    for element, task_type in _TEMPLATE_ELEMENTS:
        if f"<{element}" in text:
            return task_type
    return None


def _lambda_type(c: Checker, arn: str | None, field: str, prefix: str) -> TaskType | None:
    if arn is None:
        return None
    found = tasktypes.from_lambda_arn(arn)
    tail = arn.rsplit(":", 1)[-1]
    if found is None or not tail.startswith(prefix):
        known = ", ".join(f"{prefix}{t.lambda_suffix}" for t in tasktypes.TASK_TYPES.values())
        c.add(field, f"{tail!r} is not a built-in task type available here (known: {known}); custom Lambdas do not run")
        return None
    return found


def _resolve_task_type(c: Checker, h: dict[str, Any], path: str, ui: dict[str, Any] | None) -> TaskType | None:
    sources: list[tuple[str, TaskType]] = []
    plain = c.string(h, "TaskType", f"{path}.TaskType", required=False, min_len=1, max_len=64)
    if plain is not None:
        if plain in tasktypes.TASK_TYPES:
            sources.append((f"{path}.TaskType", tasktypes.TASK_TYPES[plain]))
        else:
            c.add(f"{path}.TaskType", f"unknown task type {plain!r}; known: {', '.join(tasktypes.TASK_TYPES)}")
    pre = c.string(
        h, "PreHumanTaskLambdaArn", f"{path}.PreHumanTaskLambdaArn", required=False, max_len=2048, pattern=LAMBDA_ARN
    )
    found = _lambda_type(c, pre, f"{path}.PreHumanTaskLambdaArn", "PRE-")
    if found:
        sources.append((f"{path}.PreHumanTaskLambdaArn", found))
    acs_cfg = c.obj(h, "AnnotationConsolidationConfig", f"{path}.AnnotationConsolidationConfig", required=False)
    if acs_cfg is not None:
        afield = f"{path}.AnnotationConsolidationConfig.AnnotationConsolidationLambdaArn"
        c.known_keys(acs_cfg, ("AnnotationConsolidationLambdaArn",), f"{path}.AnnotationConsolidationConfig")
        acs = c.string(
            acs_cfg, "AnnotationConsolidationLambdaArn", afield, required=True, max_len=2048, pattern=LAMBDA_ARN
        )
        found = _lambda_type(c, acs, afield, "ACS-")
        if found:
            sources.append((afield, found))
    if ui is not None and isinstance(ui.get("HumanTaskUiArn"), str):
        if ui["HumanTaskUiArn"].rsplit("/", 1)[-1] == tasktypes.NER_HUMAN_TASK_UI:
            sources.append((f"{path}.UiConfig.HumanTaskUiArn", tasktypes.NAMED_ENTITY_RECOGNITION))
        else:
            c.add(
                f"{path}.UiConfig.HumanTaskUiArn",
                f"{ui['HumanTaskUiArn'].rsplit('/', 1)[-1]!r} is not available here: of the task types with a "
                "HumanTaskUiArn only …:human-task-ui/NamedEntityRecognition is (no video or 3D point cloud)",
            )
    names = {t.name for _, t in sources}
    if len(names) > 1:
        said = "; ".join(f"{f} says {t.name}" for f, t in sources)
        c.add(sources[0][0], f"the task type fields disagree: {said}")
        return None
    return sources[0][1] if sources else None


def _check_ui(c: Checker, h: dict[str, Any], path: str) -> tuple[dict[str, Any] | None, str | None]:
    ui = c.obj(h, "UiConfig", f"{path}.UiConfig", required=False)
    if ui is None:
        return None, None
    c.known_keys(ui, ("UiTemplateS3Uri", "HumanTaskUiArn"), f"{path}.UiConfig")
    template = c.string(ui, "UiTemplateS3Uri", f"{path}.UiConfig.UiTemplateS3Uri", required=False, max_len=1024)
    c.string(
        ui, "HumanTaskUiArn", f"{path}.UiConfig.HumanTaskUiArn", required=False, max_len=1024, pattern=HUMAN_TASK_UI_ARN
    )
    if ("UiTemplateS3Uri" in ui) == ("HumanTaskUiArn" in ui):
        c.add(f"{path}.UiConfig", "give exactly one of UiTemplateS3Uri and HumanTaskUiArn")
    return ui, template


def _check_price(c: Checker, h: dict[str, Any], path: str) -> None:
    price = c.obj(h, "PublicWorkforceTaskPrice", f"{path}.PublicWorkforceTaskPrice", required=False)
    if price is None:
        return
    p = f"{path}.PublicWorkforceTaskPrice"
    c.known_keys(price, ("AmountInUsd",), p)
    amount = c.obj(price, "AmountInUsd", f"{p}.AmountInUsd", required=False)
    if amount is not None:
        c.known_keys(amount, ("Dollars", "Cents", "TenthFractionsOfACent"), f"{p}.AmountInUsd")
        c.integer(amount, "Dollars", f"{p}.AmountInUsd.Dollars", required=False, lo=0, hi=2)
        c.integer(amount, "Cents", f"{p}.AmountInUsd.Cents", required=False, lo=0, hi=99)
        c.integer(amount, "TenthFractionsOfACent", f"{p}.AmountInUsd.TenthFractionsOfACent", required=False, lo=0, hi=9)


def check_instructions(c: Checker, value: Any, path: str) -> dict[str, Any]:
    """Validate the Instructions extension; returns the normalized {"Short","Full","Examples"} dict."""
    out: dict[str, Any] = {"Short": "", "Full": "", "Examples": []}
    if value is None:
        return out
    if not isinstance(value, dict):
        c.add(path, 'must be an object {"Short": ..., "Full": ..., "Examples": [...]}')
        return out
    c.known_keys(value, ("Short", "Full", "Examples"), path)
    short = c.string(value, "Short", f"{path}.Short", required=False, max_len=SHORT_INSTRUCTIONS_MAX)
    full = c.string(value, "Full", f"{path}.Full", required=False, max_len=FULL_INSTRUCTIONS_MAX)
    out["Short"], out["Full"] = short or "", full or ""
    examples = c.items(value, "Examples", f"{path}.Examples", required=False, max_items=MAX_EXAMPLES) or []
    for i, ex in enumerate(examples):
        ep = f"{path}.Examples[{i}]"
        if not isinstance(ex, dict):
            c.add(ep, 'must be an object {"Kind": "good"|"bad", "ImageUri": ..., "Caption": ...}')
            continue
        c.known_keys(ex, ("Kind", "ImageUri", "Caption"), ep)
        kind = c.string(ex, "Kind", f"{ep}.Kind", required=True)
        if kind is not None:
            kind = c.enum(kind, f"{ep}.Kind", EXAMPLE_KINDS)
        uri = c.string(ex, "ImageUri", f"{ep}.ImageUri", required=True, min_len=1, max_len=1024)
        caption = c.string(ex, "Caption", f"{ep}.Caption", required=False, max_len=CAPTION_MAX)
        if kind is not None and uri is not None:
            out["Examples"].append({"Kind": kind, "ImageUri": uri, "Caption": caption or ""})
    return out


def check_human_task_config(c: Checker, h: dict[str, Any], path: str = "HumanTaskConfig") -> HumanTask:
    """Every HumanTaskConfig constraint of section 4.2; problems go to ``c``."""
    c.known_keys(h, HUMAN_KEYS, path)
    out = HumanTask()
    team_raw = c.string(h, "WorkteamArn", f"{path}.WorkteamArn", required=True, min_len=1, max_len=256)
    if team_raw is not None:
        team, problem = team_from_workteam(team_raw)
        if problem:
            c.add(f"{path}.WorkteamArn", problem)
        out.team = team
    ui, out.ui_template_uri = _check_ui(c, h, path)
    out.task_type = _resolve_task_type(c, h, path, ui)
    keywords = c.items(h, "TaskKeywords", f"{path}.TaskKeywords", required=False, min_items=1, max_items=5)
    kept = []
    for i, kw in enumerate(keywords or []):
        if (
            c.check_text(
                kw,
                f"{path}.TaskKeywords[{i}]",
                min_len=1,
                max_len=30,
                pattern=KEYWORD_PATTERN,
                pattern_help="letters and digits, single spaces between words",
            )
            is not None
        ):
            kept.append(kw)
    out.keywords = tuple(kept)
    out.title = c.string(
        h,
        "TaskTitle",
        f"{path}.TaskTitle",
        required=True,
        min_len=1,
        max_len=128,
        pattern=TITLE_PATTERN,
        pattern_help="printable characters",
    )
    out.description = c.string(h, "TaskDescription", f"{path}.TaskDescription", required=True, min_len=1, max_len=255)
    for key, value in (("TaskTitle", out.title), ("TaskDescription", out.description)):
        if value is not None and value and not value.strip():
            c.add(f"{path}.{key}", "must not be blank")
    out.workers_per_object = c.integer(
        h, "NumberOfHumanWorkersPerDataObject", f"{path}.NumberOfHumanWorkersPerDataObject", required=True, lo=1, hi=9
    )
    out.task_time_limit = c.integer(
        h, "TaskTimeLimitInSeconds", f"{path}.TaskTimeLimitInSeconds", required=True, lo=30, hi=MAX_TASK_TIME_LIMIT
    )
    lifetime = c.integer(
        h,
        "TaskAvailabilityLifetimeInSeconds",
        f"{path}.TaskAvailabilityLifetimeInSeconds",
        required=False,
        lo=60,
        hi=MAX_AVAILABILITY,
    )
    out.availability_lifetime = lifetime or DEFAULT_AVAILABILITY
    concurrent = c.integer(h, "MaxConcurrentTaskCount", f"{path}.MaxConcurrentTaskCount", required=False, lo=1, hi=5000)
    out.max_concurrent = concurrent or DEFAULT_MAX_CONCURRENT
    _check_price(c, h, path)
    out.instructions = check_instructions(c, h.get("Instructions"), f"{path}.Instructions")
    return out
