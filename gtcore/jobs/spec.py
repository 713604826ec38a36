"""The job spec: a request in the shape of Ground Truth's CreateLabelingJob, parsed and validated.

It loads from the very JSON a team passes to ``aws sagemaker create-labeling-job --cli-input-json``.
Every constraint of groundtruth-reference.md section 4 is checked and every violation is reported at
once (``SpecError`` whose problems name the field, e.g. ``HumanTaskConfig.TaskTitle``). Fields that
have no meaning here (RoleArn, Lambda ARNs, Tags, KMS keys, auto-labeling config) are validated,
accepted and kept. Deviations, because nothing runs on AWS here:

- ``RoleArn`` is optional (checked when given); ``UiConfig`` is optional when the task type is known
  from ``PreHumanTaskLambdaArn`` or ``TaskType``.
- ``ManifestS3Uri``, ``S3OutputPath``, ``LabelCategoryConfigS3Uri`` also accept local paths (checked
  against the store by ``gtcore.jobs.api``); ``WorkteamArn`` also accepts a team name.
- ``LabelCategoryConfigS3Uri`` is required: built-in task types need labels.
- Extensions: ``HumanTaskConfig.TaskType``, ``HumanTaskConfig.Instructions`` (see ``gtcore.jobs.spec_human``)
  and ``ChainedFrom {"LabelingJobName", "LabelAttributeName"}`` (set by chaining; an
  AdjustmentBoundingBox job needs ``ChainedFrom.LabelAttributeName``, the attribute holding the boxes
  to adjust).
- Extension ``GoldStandard {"LabelAttributeName"}``: the manifest attribute that holds a known answer (a class
  name) on some lines (single-label jobs). Gold objects are served like any other (the worker is never told);
  consolidation uses them as fixed truths and the job status page scores every worker on them.
- Streaming jobs (``SnsDataSource``) and Mechanical Turk are not available.

This module is pure (no storage, no database): ``gtcore.jobs.api`` adds the checks that need them
(URIs allowed, team exists, name free, label file, manifest). Reading the request from its JSON file is
``gtcore.jobs.request_file``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from gtcore.core import tasktypes
from gtcore.core.errors import Problem, SpecError
from gtcore.core.tasktypes import TaskType, needs_ref_suffix
from gtcore.jobs import spec_sections as sections
from gtcore.jobs.spec_checks import ATTRIBUTE_PATTERN, NAME_PATTERN, Checker
from gtcore.jobs.spec_human import check_human_task_config
from gtcore.jobs.spec_sections import KMS_PATTERN

RESERVED_ATTRIBUTES = ("source", "source-ref")
SNS_ARN = r"arn:aws[a-z\-]*:sns:[a-z0-9\-]*:[0-9]{12}:[a-zA-Z0-9_.-]+"
ROLE_ARN = r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
CONTENT_CLASSIFIERS = ("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent")

TOP_KEYS = (
    "LabelingJobName",
    "LabelAttributeName",
    "InputConfig",
    "OutputConfig",
    "RoleArn",
    "LabelCategoryConfigS3Uri",
    "StoppingConditions",
    "LabelingJobAlgorithmsConfig",
    "HumanTaskConfig",
    "Tags",
    "ChainedFrom",  # extension
    "GoldStandard",  # extension
)
MANIFEST_FIELD = "InputConfig.DataSource.S3DataSource.ManifestS3Uri"
OUTPUT_FIELD = "OutputConfig.S3OutputPath"
LABELS_FIELD = "LabelCategoryConfigS3Uri"
TYPE_FIELDS = (
    "HumanTaskConfig.TaskType",
    "HumanTaskConfig.PreHumanTaskLambdaArn",
    "HumanTaskConfig.AnnotationConsolidationConfig",
    "HumanTaskConfig.UiConfig",
)


@dataclass(frozen=True)
class JobSpec:
    """A validated CreateLabelingJob request. URIs are as given (``gtcore.jobs.api`` normalizes them)."""

    name: str
    label_attribute: str
    manifest_uri: str
    output_path: str
    label_config_uri: str
    task_type: TaskType | None  # None: read from the UiConfig template by gtcore.jobs.api
    ui_template_uri: str | None
    team: str  # team name, from WorkteamArn
    title: str
    description: str
    keywords: tuple[str, ...]
    workers_per_object: int
    task_time_limit: int
    availability_lifetime: int
    max_concurrent: int
    instructions: dict[str, Any]  # {"Short", "Full", "Examples": [{"Kind","ImageUri","Caption"}]}
    stopping_conditions: dict[str, int]
    chained_from_attribute: str | None
    request: dict[str, Any]  # a deep copy of the request as accepted


def label_attribute_problems(
    attr: str, field: str = "LabelAttributeName", where: str = "", task_type: TaskType | None = None
) -> list[Problem]:
    """The LabelAttributeName rules for image task types (format, reserved names, suffixes).

    Semantic segmentation and its adjustment must end in ``-ref``; every other type (semseg verification
    included) must not (groundtruth-reference.md 4.1). Without ``task_type`` the non-semseg rule applies.
    """
    c = Checker(where)
    if (
        c.check_text(
            attr,
            field,
            min_len=1,
            max_len=127,
            pattern=ATTRIBUTE_PATTERN,
            pattern_help="letters, digits and hyphens, not at either end",
        )
        is None
    ):
        return c.problems
    if attr in RESERVED_ATTRIBUTES:
        c.add(field, f"{attr!r} is reserved for the data object itself")
    if attr.endswith("-metadata"):
        c.add(field, "must not end with -metadata (that key holds the label's metadata)")
    if task_type is not None and needs_ref_suffix(task_type):
        if not attr.endswith("-ref"):
            c.add(field, f"must end with -ref for {task_type.title} jobs (the value is the URI of the mask PNG)")
    elif attr.endswith("-ref"):
        c.add(field, "must not end with -ref: only semantic segmentation, video and 3D point cloud attributes do")
    return c.problems


def _uri(c: Checker, parent: dict[str, Any], key: str, field: str, *, required: bool) -> str | None:
    value = c.string(parent, key, field, required=required, max_len=1024)
    if value is not None and not value.strip():
        c.add(field, "must not be empty")
        return None
    return value


def _check_input(c: Checker, req: dict[str, Any]) -> str | None:
    inp = c.obj(req, "InputConfig", "InputConfig", required=True)
    if inp is None:
        return None
    c.known_keys(inp, ("DataSource", "DataAttributes"), "InputConfig")
    attrs = c.obj(inp, "DataAttributes", "InputConfig.DataAttributes", required=False)
    if attrs is not None:
        c.known_keys(attrs, ("ContentClassifiers",), "InputConfig.DataAttributes")
        f = "InputConfig.DataAttributes.ContentClassifiers"
        for i, item in enumerate(c.items(attrs, "ContentClassifiers", f, required=False, max_items=256) or []):
            c.enum(item, f"{f}[{i}]", CONTENT_CLASSIFIERS)
    src = c.obj(inp, "DataSource", "InputConfig.DataSource", required=True)
    if src is None:
        return None
    c.known_keys(src, ("S3DataSource", "SnsDataSource"), "InputConfig.DataSource")
    if "SnsDataSource" in src:
        c.add("InputConfig.DataSource.SnsDataSource", "streaming labeling jobs are not available here")
    s3 = c.obj(src, "S3DataSource", "InputConfig.DataSource.S3DataSource", required=True)
    if s3 is None:
        return None
    c.known_keys(s3, ("ManifestS3Uri",), "InputConfig.DataSource.S3DataSource")
    return _uri(c, s3, "ManifestS3Uri", MANIFEST_FIELD, required=True)


def _check_output(c: Checker, req: dict[str, Any]) -> str | None:
    out = c.obj(req, "OutputConfig", "OutputConfig", required=True)
    if out is None:
        return None
    c.known_keys(out, ("S3OutputPath", "KmsKeyId", "SnsTopicArn"), "OutputConfig")
    c.string(out, "KmsKeyId", "OutputConfig.KmsKeyId", required=False, max_len=2048, pattern=KMS_PATTERN)
    c.string(out, "SnsTopicArn", "OutputConfig.SnsTopicArn", required=False, max_len=2048, pattern=SNS_ARN)
    return _uri(c, out, "S3OutputPath", OUTPUT_FIELD, required=True)


def check_job_spec(request: Any, *, where: str = "") -> tuple[JobSpec | None, list[Problem]]:
    """Validate a CreateLabelingJob-shaped request; returns ``(spec, [])`` or ``(None, problems)``."""
    c = Checker(where)
    if not isinstance(request, dict):
        c.add("", "the job spec must be a JSON object (the CreateLabelingJob request)")
        return None, c.problems
    c.known_keys(request, TOP_KEYS, "")
    name = c.string(
        request,
        "LabelingJobName",
        "LabelingJobName",
        required=True,
        min_len=1,
        max_len=63,
        pattern=NAME_PATTERN,
        pattern_help="letters, digits and hyphens, not at either end",
    )
    attr = c.string(request, "LabelAttributeName", "LabelAttributeName", required=True)
    manifest = _check_input(c, request)
    output = _check_output(c, request)
    c.string(request, "RoleArn", "RoleArn", required=False, min_len=20, max_len=2048, pattern=ROLE_ARN)
    labels = _uri(c, request, "LabelCategoryConfigS3Uri", LABELS_FIELD, required=True)
    stopping = sections.check_stopping(c, request)
    human_cfg = c.obj(request, "HumanTaskConfig", "HumanTaskConfig", required=True)
    human = check_human_task_config(c, human_cfg) if human_cfg is not None else None
    task_type = human.task_type if human else None
    if attr is not None:
        found = label_attribute_problems(attr, where=where, task_type=task_type)
        c.problems.extend(found)
        attr = None if found else attr
    typed = any((p.field or "").startswith(TYPE_FIELDS) for p in c.problems)
    if human is not None and task_type is None and not human.ui_template_uri and not typed:
        c.add(
            "HumanTaskConfig.PreHumanTaskLambdaArn",
            "cannot tell the task type: give PreHumanTaskLambdaArn (…:function:PRE-BoundingBox), "
            f"TaskType ({', '.join(tasktypes.TASK_TYPES)}) or a UiTemplateS3Uri",
        )
    sections.check_algorithms(c, request, task_type)
    sections.check_tags(c, request)
    prev = sections.check_chained_from(c, request)
    gold_attr = sections.check_gold_standard(c, request)
    if gold_attr is not None and gold_attr == attr:
        c.add("GoldStandard.LabelAttributeName", "must differ from LabelAttributeName (the answers' attribute)")
    if (
        gold_attr is not None
        and task_type is not None
        and (task_type.draws_boxes or task_type.multi_choice or task_type.paints_mask or task_type.verifies)
    ):
        c.add("GoldStandard", "gold answers are supported for single-label classification jobs only")
    if task_type is not None and (task_type.is_adjustment or task_type.verifies):
        kind = "an adjustment" if task_type.is_adjustment else "a verification"
        chained = request.get("ChainedFrom")
        if not (isinstance(chained, dict) and "LabelAttributeName" in chained):
            c.add(
                "ChainedFrom.LabelAttributeName",
                f"{kind} job needs the attribute that holds the labels to "
                f"{'adjust' if task_type.is_adjustment else 'verify'} (chain it from an earlier job, or name "
                "the attribute of the input manifest)",
            )
        elif prev is not None and prev == attr:
            c.add("LabelAttributeName", f"{kind} job must use a label attribute different from {prev!r}")
    if c.problems or human is None:
        return None, c.problems
    assert name and attr and manifest and output and labels and human.team and human.title and human.description
    assert human.workers_per_object and human.task_time_limit
    spec = JobSpec(
        name=name,
        label_attribute=attr,
        manifest_uri=manifest,
        output_path=output,
        label_config_uri=labels,
        task_type=task_type,
        ui_template_uri=human.ui_template_uri,
        team=human.team,
        title=human.title,
        description=human.description,
        keywords=human.keywords,
        workers_per_object=human.workers_per_object,
        task_time_limit=human.task_time_limit,
        availability_lifetime=human.availability_lifetime,
        max_concurrent=human.max_concurrent,
        instructions=human.instructions,
        stopping_conditions=stopping,
        chained_from_attribute=prev,
        request=copy.deepcopy(request),
    )
    return spec, []


def parse_job_spec(request: Any, *, where: str = "") -> JobSpec:
    """Like ``check_job_spec`` but raises ``SpecError`` listing every problem."""
    spec, problems = check_job_spec(request, where=where)
    if spec is None:
        raise SpecError(problems, summary=f"the job spec{' ' + where if where else ''} has {len(problems)} problem(s)")
    return spec
