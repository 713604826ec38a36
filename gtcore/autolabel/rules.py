"""The loop's rules as pure functions: the fixed numbers come from ``gtcore.core.autolabeling`` (one source, the
Create job form reads the same); here the threshold that keeps the accuracy promise, the round's check on fresh
human labels, the stopping budgets and the uncertainty ranking.

A threshold ``t`` machine-labels every object whose confidence is ``>= t`` (objects AT the threshold are
machine-labeled, so their validation twins count). It is never chosen on the point estimate: the machine labels of
the validation objects at or above ``t`` must reach the target with a one-sided 95 % lower confidence bound
(``bounds``: Clopper-Pearson for 1/0 correctness, a Poisson bootstrap of the mean for IoU), over at least
``MIN_CONFIDENT_VALIDATION`` objects. Only a few candidate thresholds are tested (``candidate_sizes``: the ones
covering about 30, 36, 42, 50, 60 ... objects, four per doubling, and all of them), so choosing the lowest one that
passes does not turn the 5 % risk of each test into a much larger one. Noisy human labels:
``bounds.noisy_lower_bound`` turns agreement with labels that are each right with a known probability into a bound on
the accuracy against the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gtcore.autolabel import bounds
from gtcore.core.autolabeling import (
    ALGORITHM_FAMILY,
    CONFIDENCE,
    MIN_CONFIDENT_VALIDATION,
    PROBE_MAX_FAILED_FRACTION,
    PROBE_SIZE,
    check_size,
    target_for,
    task_type_of_algorithm,
    training_batch_size,
    validation_size,
)

__all__ = [
    "CONFIDENCE",
    "MIN_CONFIDENT_VALIDATION",
    "PROBE_SIZE",
    "PROBE_MAX_FAILED_FRACTION",
    "TASK_TYPES",
    "check_size",
    "target_for",
    "task_type_of_algorithm",
    "training_batch_size",
    "validation_size",
]
TASK_TYPES = tuple(ALGORITHM_FAMILY)


def probe_failed(failed: int, probed: int) -> bool:
    """True when more than 10 % of the probe batch failed (the job fails)."""
    return probed > 0 and failed > PROBE_MAX_FAILED_FRACTION * probed


def machine_labels(confidence: float, threshold: float | None) -> bool:
    """Whether an object of ``confidence`` is machine-labeled at ``threshold``: AT the threshold it is (``>=``)."""
    return threshold is not None and confidence >= threshold


def candidate_sizes(n: int, min_count: int = MIN_CONFIDENT_VALIDATION) -> list[int]:
    """The object counts (most confident first) at which a threshold is tested: ``min_count * 2**(j/4)``, and all
    ``n`` (a model good on the whole validation set labels the whole pool, not only the grid's largest size below
    ``n``, which can leave up to a sixth of the pool to people for nothing)."""
    out: list[int] = []
    j = 0
    while True:
        size = round(min_count * 2 ** (j / 4))
        if size > n:
            break
        if not out or size > out[-1]:
            out.append(size)
        j += 1
    if out and out[-1] < n:
        out.append(n)
    return out


@dataclass(frozen=True)
class Threshold:
    value: float | None  # None: no tested threshold keeps the promise (nothing is machine-labeled)
    metric: float | None  # the point estimate: the mean score of the objects at or above it
    bound: float | None  # its one-sided 95 % lower confidence bound (>= the target when value is set)
    covered: int  # objects at or above it
    total: int


def choose_threshold(
    confidences: Sequence[float],
    scores: Sequence[float],
    target: float,
    *,
    metric: str = "accuracy",
    min_count: int = MIN_CONFIDENT_VALIDATION,
    floor: float | None = None,
    label_right: Sequence[float] | None = None,
) -> Threshold:
    """The lowest tested confidence ``t`` (>= ``floor``) such that the objects with confidence ``>= t`` reach
    ``target`` with the one-sided lower bound (Clopper-Pearson for ``accuracy``, bootstrap for ``mean-iou``) over
    at least ``min_count`` objects. Ties: objects of the same confidence are in or out together. ``label_right``:
    each human label's probability of being right (accuracy only; ``noisy_lower_bound``), default all sure.

    When none passes, ``metric`` and ``bound`` describe the most confident ``min_count`` objects (or all of them),
    so the status page can say how far from the target the model is."""
    import numpy as np

    order = sorted(range(len(confidences)), key=lambda i: -float(confidences[i]))
    conf = [float(confidences[i]) for i in order]
    sc = [float(scores[i]) for i in order]
    qs = [float(label_right[i]) for i in order] if label_right is not None else None
    n = len(conf)
    if n == 0:
        return Threshold(None, None, None, 0, 0)
    boot = bounds.bootstrap_prefix_means(sc) if metric != "accuracy" else None
    cum = np.cumsum(sc)

    def at(size: int) -> tuple[float, float]:  # (estimate, bound) of the ``size`` most confident
        mean = float(cum[size - 1] / size)
        if boot is None and qs is not None:
            return mean, bounds.noisy_lower_bound(float(cum[size - 1]), size, qs[:size])
        if boot is None:
            return mean, bounds.accuracy_lower_bound(float(cum[size - 1]), size)
        return mean, float(np.quantile(boot[:, size - 1], 1.0 - CONFIDENCE))

    best: Threshold | None = None
    for size in candidate_sizes(n, min_count):
        while size < n and conf[size] == conf[size - 1]:  # the whole tie group at the threshold
            size += 1
        t = conf[size - 1]
        if floor is not None and t < floor:
            break
        mean, bound = at(size)
        if bound >= target:
            best = Threshold(t, mean, bound, size, n)
    if best is not None:
        return best
    mean, bound = at(min(n, max(1, min_count)))
    return Threshold(None, mean, bound, 0, n)


@dataclass(frozen=True)
class Check:
    """The round's check of its machine labels on fresh human labels of the pool that remains."""

    threshold: float | None  # the threshold the round machine-labels at (raised, or None: no machine labels)
    checked: int  # fresh human-labeled objects at or above the validation threshold
    metric: float | None  # the model's metric on them (None: none was at or above it)
    failed: bool  # the check objects were significantly below the target at the validation threshold
    bound: float | None = None  # found on validation + fresh labels (no validation threshold): the joint bound
    estimate: float | None = None  # ... and the joint point estimate, at the threshold used


def check_round(
    threshold: Threshold,
    val: tuple[Sequence[float], ...],
    fresh: tuple[Sequence[float], ...],
    target: float,
    *,
    metric: str = "accuracy",
    min_count: int = MIN_CONFIDENT_VALIDATION,
) -> Check:
    """Check a threshold chosen on the validation set (``val``/``fresh``: confidences, scores and optionally each
    human label's probability of being right) against the round's fresh human labels (objects the model
    never saw, drawn from the pool that remains: harder than the validation set once easy objects are gone).

    The threshold the round uses is the lowest ``t >= threshold`` at which (a) the validation and fresh objects
    at or above ``t`` together reach the target with the one-sided lower bound, and (b) the fresh objects at or
    above ``t`` are not significantly below the target (their one-sided upper bound reaches it). None when no such
    ``t`` exists: the round machine-labels nothing. When the validation set alone gave no threshold (in later
    rounds few validation objects are still like the pool), the lowest ``t`` passing both on validation + fresh
    objects together is searched the same way."""
    t0 = threshold.value
    f_conf, f_score = [float(c) for c in fresh[0]], [float(s) for s in fresh[1]]
    v_q = [float(q) for q in val[2]] if len(val) > 2 else [1.0] * len(val[0])
    f_q = [float(q) for q in fresh[2]] if len(fresh) > 2 else [1.0] * len(f_conf)

    def fresh_at(t: float) -> list[float]:
        return [s for c, s in zip(f_conf, f_score, strict=True) if machine_labels(c, t)]

    def upper(xs: list[float]) -> float:
        return bounds.accuracy_upper_bound(sum(xs), len(xs)) if metric == "accuracy" else bounds.mean_upper_bound(xs)

    confs = [float(c) for c in val[0]] + f_conf
    scores = [float(s) for s in val[1]] + f_score
    qs = v_q + f_q
    first: list[float] = []
    measured: float | None = None
    failed = False
    floor: float | None
    if t0 is not None:
        first = fresh_at(t0)
        measured = sum(first) / len(first) if first else None
        failed = bool(first) and upper(first) < target
        if not failed and _bound_at(confs, scores, qs, t0, metric) >= target:
            return Check(t0, len(first), measured, failed)  # the fresh labels agree: the threshold stands
        floor = min((c for c in confs if c > t0), default=None)
    else:  # the remaining validation set alone cannot prove it (later rounds: few objects are left like the
        # pool); with the round's fresh labels added, it may
        floor = min(confs, default=None)
    while floor is not None:
        joint = choose_threshold(
            confs, scores, target, metric=metric, min_count=min_count, floor=floor,
            label_right=qs if metric == "accuracy" else None,
        )  # fmt: skip
        if joint.value is None:  # a higher floor only removes candidates: none can pass
            break
        xs = fresh_at(joint.value)
        if not xs or upper(xs) >= target:
            if t0 is None:  # what the check measured is at the threshold it found, and the bound it rests on
                return Check(joint.value, len(xs), sum(xs) / len(xs) if xs else None, False, joint.bound, joint.metric)
            return Check(joint.value, len(first), measured, failed)
        floor = min((c for c in confs if c > joint.value), default=None)
    return Check(None, len(first), measured, failed)


def _bound_at(confs: Sequence[float], scores: Sequence[float], qs: Sequence[float], t: float, metric: str) -> float:
    kept = [(s, q) for c, s, q in zip(confs, scores, qs, strict=True) if machine_labels(c, t)]
    xs = [s for s, _ in kept]
    if metric == "accuracy":
        return bounds.noisy_lower_bound(sum(xs), len(xs), [q for _, q in kept])
    return bounds.mean_lower_bound(xs)


def human_budget(max_human: int | None, human_so_far: int) -> int | None:
    """How many more objects people may label under ``MaxHumanLabeledObjectCount`` (None: no limit)."""
    if max_human is None:
        return None
    return max(0, max_human - human_so_far)


def labeled_budget(max_percent: int | None, total: int, labeled_so_far: int) -> int | None:
    """How many more objects may be labeled (by people or the model) under ``MaxPercentageOfInputDatasetLabeled``."""
    if max_percent is None:
        return None
    import math

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
