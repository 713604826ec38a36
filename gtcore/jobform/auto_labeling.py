"""Automated data labeling on the Create job form: whether it may be switched on (task type, dataset size,
the libraries on this server), what will happen in the team lead's words, and the algorithm ARN the request
carries. The numbers and the algorithm families are ``gtcore.core.autolabeling``'s (the loop, ``gtcore.autolabel``,
reads the same ones)."""

from __future__ import annotations

from gtcore.core import autolabeling as al
from gtcore.core import extras, tasktypes
from gtcore.jobs.arns import REGION

AUTO_LABELING_MIN_OBJECTS = al.MIN_OBJECTS


def auto_labeling(task_type: str, object_count: int | None, least: int = AUTO_LABELING_MIN_OBJECTS) -> tuple[bool, str]:
    """``(available, reason)``: may automated data labeling be switched on for this type and dataset size?"""
    tt = tasktypes.get(task_type)
    if not tt.supports_auto_labeling:
        return False, (
            f"automated data labeling is not available for {tt.title} jobs (only single-label image "
            "and text classification, bounding boxes and semantic segmentation)"
        )
    lacking = extras.autolabel_missing()
    if lacking:
        return False, (
            f"this server lacks the automated-labeling libraries ({', '.join(lacking)}): "
            f"{extras.AUTOLABEL_INSTALL}, then restart the app"
        )
    if object_count is None:
        return False, "set up the input data first: the dataset size decides whether it is available"
    if object_count < least:
        return False, f"the dataset has {object_count:,} objects; automated data labeling needs at least {least:,}"
    return True, f"the dataset has {object_count:,} objects (at least {least:,})"


def auto_labeling_plan(object_count: int, max_concurrent: int) -> str:
    """What will happen, in the team lead's words (the numbers of ``gtcore.core.autolabeling``)."""
    probe, failing = al.PROBE_SIZE, int(al.PROBE_SIZE * al.PROBE_MAX_FAILED_FRACTION)
    check = al.check_size(max_concurrent)
    return (
        f"People label a random probe of {probe} objects first (more than {failing} failing fails the job), then "
        f"a training batch of {al.training_batch_size(max_concurrent):,} and a validation set of "
        f"{al.validation_size(object_count):,} ({al.validation_percent(object_count)} %). A model trained on "
        "their labels then labels every object it is confident about, at a confidence threshold chosen so that "
        f"the machine labels reach the target with {al.CONFIDENCE:.0%} confidence on objects it has not seen "
        f"(accuracy {al.CLASSIFICATION_TARGET} for classification, mean IoU {al.BOXES_TARGET} for boxes, mean IoU "
        f"{al.MASKS_TARGET} for masks with the background left out). The rest goes to people in batches of "
        f"{max_concurrent:,} ({max_concurrent - check:,} the model is least sure of and {check:,} at random, which "
        "check the machine labels of that round: a threshold they contradict is raised, or the round labels "
        "nothing); the model is retrained after each batch while people label the next. Machine labels are "
        'marked "human-annotated": "no" in the output.'
    )


def algorithm_arn(task_type: str) -> str:
    return al.algorithm_arn(tasktypes.get(task_type).name, REGION)
