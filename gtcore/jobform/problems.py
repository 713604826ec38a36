"""How the Create job form reports problems: each named by the form's field and the request's, in page order.

``friendly`` turns ``HumanTaskConfig.TaskTitle: required`` into ``Task title (HumanTaskConfig.TaskTitle):
required``; ``merge_problems`` joins the form's own findings with gtcore's, drops a second message for a
field the form already flagged, and orders them as the fields appear on the page. Pure.
"""

from __future__ import annotations

from gtcore.core.errors import Problem
from gtcore.jobs.spec import MANIFEST_FIELD, OUTPUT_FIELD

HUMAN = "HumanTaskConfig"
TASK_TYPE_FIELD = f"{HUMAN}.TaskType"
LABELS_FORM_FIELD = "labels"
FIELD_NAMES: dict[str, str] = {
    "LabelingJobName": "Job name",
    "LabelAttributeName": "Label attribute name",
    MANIFEST_FIELD: "Input manifest",
    OUTPUT_FIELD: "Output location",
    "LabelCategoryConfigS3Uri": "Labels",
    LABELS_FORM_FIELD: "Labels",
    TASK_TYPE_FIELD: "Task type",
    f"{HUMAN}.WorkteamArn": "Work team",
    f"{HUMAN}.TaskTitle": "Task title",
    f"{HUMAN}.TaskDescription": "Task description",
    f"{HUMAN}.Instructions.Short": "Task description",
    f"{HUMAN}.Instructions.Full": "Full instructions",
    f"{HUMAN}.NumberOfHumanWorkersPerDataObject": "Workers per dataset object",
    f"{HUMAN}.TaskTimeLimitInSeconds": "Task time limit",
    f"{HUMAN}.TaskAvailabilityLifetimeInSeconds": "Task availability lifetime",
    f"{HUMAN}.MaxConcurrentTaskCount": "Maximum concurrent tasks",
    "LabelingJobAlgorithmsConfig": "Automated data labeling",
}


def friendly(problems: list[Problem]) -> list[Problem]:
    """The problems with each request field prefixed by the form's name for it."""
    out = []
    for p in problems:
        name = FIELD_NAMES.get(p.field or "")
        if name is None and p.field and p.field.startswith(f"{HUMAN}.Instructions.Examples["):
            index = p.field.split("[", 1)[1].split("]", 1)[0]
            name = f"Example image {int(index) + 1}" if index.isdigit() else "Example image"
        if name is None and p.field and p.field.startswith(f"{LABELS_FORM_FIELD}["):
            name = "Labels"
        out.append(Problem(p.message, p.where, p.line, f"{name} ({p.field})") if name else p)
    return out


_PAGE_ORDER = (
    "LabelingJobName",
    "LabelAttributeName",
    "InputConfig",
    "OutputConfig",
    TASK_TYPE_FIELD,
    LABELS_FORM_FIELD,
    "LabelCategoryConfigS3Uri",
    f"{HUMAN}.TaskTitle",
    f"{HUMAN}.TaskDescription",
    f"{HUMAN}.Instructions",
    f"{HUMAN}.NumberOfHumanWorkersPerDataObject",
    f"{HUMAN}.TaskTimeLimitInSeconds",
    f"{HUMAN}.TaskAvailabilityLifetimeInSeconds",
    f"{HUMAN}.MaxConcurrentTaskCount",
    f"{HUMAN}.WorkteamArn",
    "LabelingJobAlgorithmsConfig",
)


def _page_position(p: Problem) -> int:
    if p.line is not None:  # a manifest line
        return _PAGE_ORDER.index("InputConfig")
    for i, prefix in enumerate(_PAGE_ORDER):
        if p.field and p.field.startswith(prefix):
            return i
    return len(_PAGE_ORDER)


def merge_problems(form_found: list[Problem], core_found: list[Problem]) -> list[Problem]:
    """The form's problems and gtcore's, in page order, without a second message for a field the form flagged."""
    flagged = {p.field for p in form_found if p.field}
    if any(f == LABELS_FORM_FIELD or f.startswith(f"{LABELS_FORM_FIELD}[") for f in flagged):
        flagged.add("LabelCategoryConfigS3Uri")
    merged = form_found + [p for p in core_found if p.field not in flagged]
    return sorted(merged, key=_page_position)
