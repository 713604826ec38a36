"""Annotation consolidation: pure algorithms, no I/O (groundtruth-reference.md §5).

Bounding boxes live in ``gtcore.consolidation.boxes`` (re-exported here): IoU matching per class,
averaging, majority support, per-box confidence; its docstring states the rule and thresholds.

Single-label classification: "modified Dawid-Skene" EM over the whole job (§5.2).

- Items answered by one worker are not fitted: they get that worker's answer and confidence
  ``SINGLE_WORKER_CONFIDENCE`` (0), like Ground Truth's one-worker jobs.
- Starting point: majority vote. Item posteriors start at the vote shares; each worker's confusion
  matrix starts from ``prior_matrix(0.7)`` (diagonal 0.7, off-diagonal ``0.3 / (K - 1)``).
- M-step: soft counts ``N_w[true, given]`` from the posteriors, smoothed Dirichlet-style with
  ``prior_matrix(acc_w) * n_w + prior_matrix(mean_acc) * n_w / 2`` (``n_w`` = the worker's answers,
  ``acc_w`` = his current soft accuracy, ``mean_acc`` = the mean over workers), rows normalised.
  The class prior is the mean item posterior.
- E-step: posterior ∝ prior × Π_w C_w[true, given]; worker accuracies are re-estimated after it.
- Stops after ``EM_MAX_EPOCHS`` (20) or when the log-likelihood changes by < ``EM_TOLERANCE``
  (1e-8, relative).
- Label = argmax posterior; ties (within 1e-12) go to the lowest class index. Confidence =
  ``round(max posterior, 2)`` clipped to ``CONFIDENCE_CAP`` (0.95, as every real output shows).

Majority vote (``majority_vote``, also the bench baseline): the most chosen class, ties to the lowest
class index, confidence = vote share.

Multi-label: a label is in the result when at least one worker chose it (Ground Truth §1.3). Its
confidence is the share of workers who chose it, rounded to 2 decimals and capped at 0.95; one worker
gives ``SINGLE_WORKER_CONFIDENCE`` per label. Labels are ordered by confidence, then class index.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from gtcore.consolidation.boxes import (
    IOU_THRESHOLD,
    SINGLE_WORKER_CONFIDENCE,
    Box,
    ConsolidatedBox,
    consolidate_boxes,
    iou,
    majority,
)

__all__ = [
    "CONFIDENCE_CAP",
    "EM_INITIAL_ACCURACY",
    "EM_MAX_EPOCHS",
    "EM_TOLERANCE",
    "IOU_THRESHOLD",
    "SINGLE_WORKER_CONFIDENCE",
    "Box",
    "ClassResult",
    "ConsolidatedBox",
    "MultiResult",
    "consolidate_boxes",
    "consolidate_multilabel",
    "dawid_skene",
    "iou",
    "majority",
    "majority_vote",
    "prior_matrix",
]

CONFIDENCE_CAP = 0.95
EM_INITIAL_ACCURACY = 0.7
EM_MAX_EPOCHS = 20
EM_TOLERANCE = 1e-8
_TIE = 1e-12
_ACC_CLIP = (1e-3, 1 - 1e-3)

Number = int | float
# One item's answers: (worker key, class index) pairs.
ItemVotes = Sequence[tuple[Hashable, int]]


@dataclass(frozen=True)
class ClassResult:
    label: int  # class index
    confidence: Number
    posterior: tuple[float, ...] = ()


@dataclass(frozen=True)
class MultiResult:
    labels: list[int]  # class indices, most confident first
    confidence: dict[int, Number]


def prior_matrix(accuracy: float, k: int) -> np.ndarray:
    """K x K matrix with ``accuracy`` on the diagonal and the rest spread evenly on each row."""
    if k == 1:
        return np.ones((1, 1))
    m = np.full((k, k), (1.0 - accuracy) / (k - 1))
    np.fill_diagonal(m, accuracy)
    return m


def _argmax_low(row: np.ndarray) -> int:
    best = float(row.max())
    return int(np.flatnonzero(row >= best - _TIE)[0])


def _cap(p: float) -> Number:
    return min(round(p, 2), CONFIDENCE_CAP)


def majority_vote(items: Sequence[ItemVotes], k: int) -> list[ClassResult]:
    """Most chosen class per item (ties: lowest class index); confidence = vote share (capped)."""
    out: list[ClassResult] = []
    for votes in items:
        counts = np.zeros(k)
        for _w, c in votes:
            counts[c] += 1
        if not votes:
            raise ValueError("an item without answers cannot be consolidated")
        share = counts / counts.sum()
        label = _argmax_low(counts)
        conf: Number = SINGLE_WORKER_CONFIDENCE if len(votes) == 1 else _cap(float(share[label]))
        out.append(ClassResult(label, conf, tuple(float(x) for x in share)))
    return out


def dawid_skene(
    items: Sequence[ItemVotes],
    k: int,
    *,
    max_epochs: int = EM_MAX_EPOCHS,
    tol: float = EM_TOLERANCE,
    initial_accuracy: float = EM_INITIAL_ACCURACY,
) -> list[ClassResult]:
    """Modified Dawid-Skene over every item of a job; one ``ClassResult`` per item, in order."""
    results: list[ClassResult | None] = [None] * len(items)
    fit_items: list[int] = []
    for i, votes in enumerate(items):
        if not votes:
            raise ValueError(f"item {i} has no answers")
        for _w, c in votes:
            if not 0 <= c < k:
                raise ValueError(f"item {i}: class index {c} outside 0..{k - 1}")
        if len(votes) == 1:
            results[i] = ClassResult(votes[0][1], SINGLE_WORKER_CONFIDENCE, ())
        else:
            fit_items.append(i)
    if fit_items:
        post = _fit([items[i] for i in fit_items], k, max_epochs, tol, initial_accuracy)
        for row, i in zip(post, fit_items, strict=True):
            label = _argmax_low(row)
            results[i] = ClassResult(label, _cap(float(row[label])), tuple(float(x) for x in row))
    return [r for r in results if r is not None]


def _fit(items: Sequence[ItemVotes], k: int, max_epochs: int, tol: float, acc0: float) -> np.ndarray:
    worker_index: dict[Hashable, int] = {}
    it_l: list[int] = []
    wk_l: list[int] = []
    cl_l: list[int] = []
    for i, votes in enumerate(items):
        for w, c in votes:
            it_l.append(i)
            wk_l.append(worker_index.setdefault(w, len(worker_index)))
            cl_l.append(c)
    it, wk, cl = np.array(it_l), np.array(wk_l), np.array(cl_l)
    n_items, n_workers = len(items), len(worker_index)
    n_w = np.bincount(wk, minlength=n_workers).astype(float)
    # majority vote shares as the starting posterior
    post = np.zeros((n_items, k))
    np.add.at(post, (it, cl), 1.0)
    post /= post.sum(axis=1, keepdims=True)
    acc = np.full(n_workers, acc0)
    prev_ll: float | None = None
    for _epoch in range(max_epochs):
        # M-step: smoothed confusion matrices and class prior
        given = np.zeros((n_workers, k, k))  # given[w, answered, true]
        np.add.at(given, (wk, cl), post[it])
        counts = given.transpose(0, 2, 1)  # counts[w, true, answered]
        mean_acc = float(acc.mean())
        smooth = np.stack([prior_matrix(a, k) for a in acc]) * n_w[:, None, None]
        smooth += prior_matrix(mean_acc, k)[None, :, :] * (n_w[:, None, None] / 2.0)
        conf = counts + smooth
        conf /= conf.sum(axis=2, keepdims=True)
        prior = np.clip(post.mean(axis=0), 1e-12, None)
        # E-step
        log_post = np.tile(np.log(prior), (n_items, 1))
        np.add.at(log_post, it, np.log(conf[wk, :, cl]))
        top = log_post.max(axis=1, keepdims=True)
        expd = np.exp(log_post - top)
        norm = expd.sum(axis=1, keepdims=True)
        post = expd / norm
        ll = float((np.log(norm) + top).sum())
        # worker accuracy = soft agreement of his answers with the posterior
        agree = np.bincount(wk, weights=post[it, cl], minlength=n_workers)
        acc = np.clip(agree / n_w, *_ACC_CLIP)
        if prev_ll is not None and abs(ll - prev_ll) <= tol * abs(prev_ll):
            break
        prev_ll = ll
    return post


def consolidate_multilabel(worker_choices: Sequence[Sequence[int]]) -> MultiResult:
    """Per-label agreement: every label chosen by at least one worker, with its share as confidence."""
    n = len(worker_choices)
    if n == 0:
        return MultiResult([], {})
    counts: dict[int, int] = {}
    for choice in worker_choices:
        for c in set(choice):
            counts[c] = counts.get(c, 0) + 1
    conf: dict[int, Number] = {c: (SINGLE_WORKER_CONFIDENCE if n == 1 else _cap(cnt / n)) for c, cnt in counts.items()}
    order = sorted(counts, key=lambda c: (-counts[c], c))
    return MultiResult(order, {c: conf[c] for c in order})
