"""Automated data labeling's fixed numbers and its algorithm-family table: the one source that the Create job form
(``gtcore.jobform.auto_labeling``), the request checks (``gtcore.jobs.spec_sections``) and the loop
(``gtcore.autolabel``) all read (groundtruth-reference.md section 6). Pure: no database, no store, no numpy.

- a random probe batch of ``PROBE_SIZE`` objects goes to people first; more than ``PROBE_MAX_FAILED_FRACTION``
  of it failing fails the job;
- the validation set is 20 % of the dataset under 5,000 objects, 10 % from 5,000 on;
- people then label a training batch (``MaxConcurrentTaskCount`` - ``PROBE_SIZE``) and the validation set;
- each later batch is ``MaxConcurrentTaskCount`` objects: ``CHECK_FRACTION`` of it drawn at random from the
  objects still unlabeled (the round's check of the machine labels on fresh human labels), the rest the most
  uncertain under the latest model;
- machine labels must reach a fixed target (classification accuracy 0.95; boxes mean IoU 0.6; masks mean IoU 0.7,
  BACKGROUND excluded), proven by a one-sided ``CONFIDENCE`` lower bound over at least ``MIN_CONFIDENT_VALIDATION``
  objects the model has not seen.
"""

from __future__ import annotations

import math

MIN_OBJECTS = 1_250  # Ground Truth's smallest dataset for automated data labeling (GT_AUTOLABEL_MIN_OBJECTS)
ALGORITHM_ACCOUNT = "027400017018"  # the account of Ground Truth's built-in labeling algorithms' ARNs
PROBE_SIZE = 10
PROBE_MAX_FAILED_FRACTION = 0.10
VALIDATION_PERCENT_SMALL = 20  # of a dataset under VALIDATION_LARGE_FROM objects
VALIDATION_PERCENT_LARGE = 10
VALIDATION_LARGE_FROM = 5_000
CHECK_FRACTION = 0.2  # of every later batch: random objects of the remaining pool, the round's fresh check
CONFIDENCE = 0.95  # of the one-sided lower bound a threshold rests on
MIN_CONFIDENT_VALIDATION = 30  # a threshold must rest on at least this many unseen, human-labeled objects
CLASSIFICATION_TARGET = 0.95  # accuracy of the machine labels
BOXES_TARGET = 0.6  # mean IoU of the machine labels
MASKS_TARGET = 0.7  # mean IoU of the machine masks, BACKGROUND excluded

# task type -> Ground Truth's algorithm family (the tail of LabelingJobAlgorithmSpecificationArn)
ALGORITHM_FAMILY = {
    "BoundingBox": "object-detection",
    "ImageClassification": "image-classification",
    "SemanticSegmentation": "semantic-segmentation",
    "TextClassification": "text-classification",
}
TASK_TYPE_OF_FAMILY = {family: task for task, family in ALGORITHM_FAMILY.items()}


def algorithm_arn(task_type: str, region: str) -> str:
    """``arn:aws:sagemaker:<region>:027400017018:labeling-job-algorithm-specification/<family>``."""
    family = ALGORITHM_FAMILY.get(task_type, "")
    return f"arn:aws:sagemaker:{region}:{ALGORITHM_ACCOUNT}:labeling-job-algorithm-specification/{family}"


def task_type_of_algorithm(arn: str) -> str | None:
    """``...:labeling-job-algorithm-specification/object-detection`` -> ``BoundingBox``; None for families this
    product does not run."""
    return TASK_TYPE_OF_FAMILY.get(arn.rsplit("/", 1)[-1])


def target_for(task_type: str) -> tuple[str, float]:
    """``(metric name, target)`` of a task type's machine labels."""
    if task_type == "BoundingBox":
        return "mean-iou", BOXES_TARGET
    if task_type == "SemanticSegmentation":
        return "mean-iou", MASKS_TARGET
    return "accuracy", CLASSIFICATION_TARGET


def validation_percent(total: int) -> int:
    return VALIDATION_PERCENT_SMALL if total < VALIDATION_LARGE_FROM else VALIDATION_PERCENT_LARGE


def validation_size(total: int) -> int:
    """20 % of the dataset under 5,000 objects, 10 % from 5,000 on (rounded up, at least 1)."""
    return max(1, math.ceil(total * validation_percent(total) / 100))


def training_batch_size(max_concurrent: int) -> int:
    """The first human batch after the probe: ``MaxConcurrentTaskCount`` minus the probe (at least 1)."""
    return max(1, max_concurrent - PROBE_SIZE)


def check_size(batch: int) -> int:
    """How many of a later batch of ``batch`` objects are the random check sample (at least 1 of a batch > 1)."""
    if batch <= 1:
        return 0
    return max(1, round(batch * CHECK_FRACTION))
