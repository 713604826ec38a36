"""Task types: the names, Ground Truth identifiers and limits each built-in type carries.

One registry shared by job specs, the queue, consolidation, output and the pages. Per-type logic
(answer schema, consolidation, output record) lives in modules of its own beside this one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskType:
    name: str  # our plain name, also accepted as HumanTaskConfig.TaskType
    lambda_suffix: str  # PRE-<suffix> / ACS-<suffix> in Ground Truth's Lambda ARNs
    output_type: str  # the "type" written in <attr>-metadata
    title: str  # shown to team leads
    min_labels: int
    max_labels: int  # API limit (console limit for unlimited types)
    answer_element: str  # answerContent key in worker-response files
    supports_auto_labeling: bool
    is_adjustment: bool = False
    draws_boxes: bool = False
    multi_choice: bool = False


BOUNDING_BOX = TaskType(
    name="BoundingBox",
    lambda_suffix="BoundingBox",
    output_type="groundtruth/object-detection",
    title="Bounding box",
    min_labels=1,
    max_labels=50,
    answer_element="boundingBox",
    supports_auto_labeling=True,
    draws_boxes=True,
)
IMAGE_CLASSIFICATION = TaskType(
    name="ImageClassification",
    lambda_suffix="ImageMultiClass",
    output_type="groundtruth/image-classification",
    title="Image classification (single label)",
    min_labels=2,
    max_labels=30,
    answer_element="crowd-image-classifier",
    supports_auto_labeling=True,
)
IMAGE_MULTI_LABEL = TaskType(
    name="ImageMultiClassification",
    lambda_suffix="ImageMultiClassMultiLabel",
    output_type="groundtruth/image-classification-multilabel",
    title="Image classification (multi-label)",
    min_labels=2,
    max_labels=50,
    answer_element="crowd-image-classifier-multi-select",
    supports_auto_labeling=False,
    multi_choice=True,
)
ADJUSTMENT_BOUNDING_BOX = TaskType(
    name="AdjustmentBoundingBox",
    lambda_suffix="AdjustmentBoundingBox",
    output_type="groundtruth/object-detection",
    title="Bounding box adjustment",
    min_labels=1,
    max_labels=50,
    answer_element="boundingBox",
    supports_auto_labeling=False,
    is_adjustment=True,
    draws_boxes=True,
)

TASK_TYPES: dict[str, TaskType] = {
    t.name: t for t in (BOUNDING_BOX, IMAGE_CLASSIFICATION, IMAGE_MULTI_LABEL, ADJUSTMENT_BOUNDING_BOX)
}
_BY_SUFFIX = {t.lambda_suffix: t for t in TASK_TYPES.values()}

# Types a team lead can pick when creating a job from scratch (adjustment is created by chaining).
CREATABLE = (BOUNDING_BOX, IMAGE_CLASSIFICATION, IMAGE_MULTI_LABEL)


def get(name: str) -> TaskType:
    """Look a task type up by our name, or None-safe KeyError with the known names."""
    try:
        return TASK_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown task type {name!r}; known: {', '.join(TASK_TYPES)}") from None


def from_lambda_arn(arn: str) -> TaskType | None:
    """``arn:aws:lambda:us-east-1:432418664414:function:PRE-BoundingBox`` -> BOUNDING_BOX."""
    tail = arn.rsplit(":", 1)[-1]
    for prefix in ("PRE-", "ACS-"):
        if tail.startswith(prefix):
            return _BY_SUFFIX.get(tail[len(prefix) :])
    return None
