"""The loop's fixed rules, as pure functions (groundtruth-reference.md section 6).

- a random probe batch of ``PROBE_SIZE`` objects goes to people first; more than ``PROBE_MAX_FAILED_FRACTION``
  of it failing fails the job;
- the validation set is 20 % of the dataset under 5,000 objects, 10 % from 5,000 on;
- people then label a training batch (``MaxConcurrentTaskCount`` - 10) and the validation set;
- on the validation set a confidence threshold is chosen so the objects at or above it reach the fixed target
  (classification accuracy >= 0.95, boxes mean IoU >= 0.6, masks mean IoU >= 0.7 with BACKGROUND excluded);
- the rest goes to people in batches of ``MaxConcurrentTaskCount``, most uncertain first, until everything is
  labeled or a stopping condition (``MaxHumanLabeledObjectCount``, ``MaxPercentageOfInputDatasetLabeled``) ends it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

PROBE_SIZE = 10
PROBE_MAX_FAILED_FRACTION = 0.10
CLASSIFICATION_TARGET = 0.95  # accuracy of the machine labels
BOXES_TARGET = 0.6  # mean IoU of the machine labels
MASKS_TARGET = 0.7  # mean IoU of the machine masks, BACKGROUND excluded (segmenter.mask_score)
MIN_CONFIDENT_VALIDATION = 10  # a threshold must rest on at least this many validation objects
TASK_TYPES = ("ImageClassification", "BoundingBox", "SemanticSegmentation", "TextClassification")
ALGORITHM_FAMILIES = {
    "image-classification": "ImageClassification",
    "text-classification": "TextClassification",
    "object-detection": "BoundingBox",
    "semantic-segmentation": "SemanticSegmentation",
}


def target_for(task_type: str) -> tuple[str, float]:
    """``(metric name, target)`` of a task type's machine labels."""
    if task_type == "BoundingBox":
        return "mean-iou", BOXES_TARGET
    if task_type == "SemanticSegmentation":
        return "mean-iou", MASKS_TARGET
    return "accuracy", CLASSIFICATION_TARGET


def task_type_of_algorithm(arn: str) -> str | None:
    """``arn:aws:sagemaker:<region>:027400017018:labeling-job-algorithm-specification/object-detection`` ->
    ``BoundingBox``; None for families this product does not run."""
    return ALGORITHM_FAMILIES.get(arn.rsplit("/", 1)[-1])


def validation_size(total: int) -> int:
    """20 % of the dataset under 5,000 objects, 10 % from 5,000 on (at least 1)."""
    return max(1, math.ceil(total * (0.2 if total < 5000 else 0.1)))


def training_batch_size(max_concurrent: int) -> int:
    """The first human batch after the probe: ``MaxConcurrentTaskCount`` minus the probe (at least 1)."""
    return max(1, max_concurrent - PROBE_SIZE)


def probe_failed(failed: int, probed: int) -> bool:
    """True when more than 10 % of the probe batch failed (the job fails)."""
    return probed > 0 and failed > PROBE_MAX_FAILED_FRACTION * probed


@dataclass(frozen=True)
class Threshold:
    value: float | None  # None: no threshold reaches the target (nothing is machine-labeled this iteration)
    metric: float | None  # the metric of the validation objects at or above it
    covered: int  # validation objects at or above it
    total: int


def choose_threshold(
    confidences: Sequence[float], scores: Sequence[float], target: float, *, min_count: int = MIN_CONFIDENT_VALIDATION
) -> Threshold:
    """The lowest confidence ``t`` such that the validation objects with confidence >= ``t`` have a mean score
    (1/0 correctness, or IoU) of at least ``target``, over at least ``min_count`` objects.

    Ties: every object with the same confidence is in or out together (a label at the threshold is machine-
    labeled, so its validation twins must count).
    """
    pairs = sorted(zip(confidences, scores, strict=True), key=lambda p: -p[0])
    n = len(pairs)
    best: Threshold = Threshold(None, None, 0, n)
    total = 0.0
    i = 0
    while i < n:
        j = i
        while j < n and pairs[j][0] == pairs[i][0]:
            total += pairs[j][1]
            j += 1
        mean = total / j
        if j >= min_count and mean >= target:
            best = Threshold(float(pairs[i][0]), mean, j, n)
        i = j
    return best


def human_budget(max_human: int | None, human_so_far: int) -> int | None:
    """How many more objects people may label under ``MaxHumanLabeledObjectCount`` (None: no limit)."""
    if max_human is None:
        return None
    return max(0, max_human - human_so_far)


def labeled_budget(max_percent: int | None, total: int, labeled_so_far: int) -> int | None:
    """How many more objects may be labeled (by people or the model) under ``MaxPercentageOfInputDatasetLabeled``."""
    if max_percent is None:
        return None
    return max(0, math.floor(total * max_percent / 100) - labeled_so_far)


def next_batch_size(max_concurrent: int, held: int, budget: int | None) -> int:
    """Objects released to people in the next batch: ``MaxConcurrentTaskCount``, within what is held and the budget."""
    n = min(max_concurrent, held)
    return n if budget is None else max(0, min(n, budget))


def most_uncertain(confidences: Sequence[tuple[int, float | None]], n: int) -> list[int]:
    """The ``n`` object indices with the lowest confidence: never scored first, then the lowest; ties keep the
    given order (the loop passes the held objects in a seeded random order, so unscored picks are random)."""
    ranked = sorted(confidences, key=lambda p: (p[1] is not None, p[1] if p[1] is not None else 0.0))
    return [idx for idx, _ in ranked[:n]]
