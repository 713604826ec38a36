"""Automated data labeling on the Create job form: whether it may be switched on (task type, dataset size,
the libraries on this server), what will happen in the team lead's words, and the algorithm ARN the request
carries. The loop itself is ``gtcore.autolabel`` (run by the background workers)."""

from __future__ import annotations

from gtcore.core import extras, tasktypes
from gtcore.jobs.preflight import REGION
from gtcore.jobs.spec_sections import ALGORITHM_FAMILY

AUTO_LABELING_MIN_OBJECTS = 1_250  # groundtruth-reference.md section 6
ALGORITHM_ACCOUNT = "027400017018"


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
    """What will happen, in the team lead's words (gtcore.autolabel.rules, groundtruth-reference.md section 6)."""
    validation = max(1, -(-object_count * (20 if object_count < 5000 else 10) // 100))
    return (
        f"People label a random probe of 10 objects first (more than 1 failing fails the job), then a training "
        f"batch of {max(1, max_concurrent - 10):,} and a validation set of {validation:,} "
        f"({'20' if object_count < 5000 else '10'} %). A model trained on their labels then labels every object "
        "it is confident about (at least 95 % accurate for classification, mean IoU 0.6 for boxes, mean IoU 0.7 "
        "for masks with the background left out, measured on the validation set); the most uncertain rest goes to "
        f"people in batches of {max_concurrent:,}, and the "
        'model is retrained after each batch. Machine labels are marked "human-annotated": "no" in the output.'
    )


def algorithm_arn(task_type: str) -> str:
    family = ALGORITHM_FAMILY.get(tasktypes.get(task_type).name, "")
    return f"arn:aws:sagemaker:{REGION}:{ALGORITHM_ACCOUNT}:labeling-job-algorithm-specification/{family}"
