"""Semantic segmentation: per-pixel vote across workers (groundtruth-reference.md 5.1, 5.4). Pure numpy.

Ground Truth treats every pixel as a multi-class classification whose votes are the workers' pixel labels,
with a smoothing function that brings in the surrounding pixels, and reports one confidence per image,
repeated for every class. Our reconstruction (the exact production function is not published):

- score(pixel, class) = votes(pixel, class) + ``SMOOTHING`` x the mean vote share of the class over the 3x3
  neighbourhood, with ``SMOOTHING`` < 1/2 so that the neighbourhood never overrides a strict majority at the
  pixel: it only settles ties (a 1-1 split follows the neighbours). Remaining ties go to the lowest class index
  (BACKGROUND first).
- One worker: the mask is that worker's mask and the confidence is 0 (integer), as in
  ``realdata/semseg-pcb`` and for every single-worker Ground Truth job.
- Several workers: confidence = the mean, over the pixels any worker painted with a class other than
  BACKGROUND, of the share of workers who agree with the chosen class (1.0 when nobody painted anything).
  Not rounded, as observed (e.g. 0.8054600000000001).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SINGLE_WORKER_CONFIDENCE = 0
SMOOTHING = 0.45


@dataclass(frozen=True)
class SegmentationResult:
    mask: np.ndarray  # H x W uint8 class indices
    confidence: float | int


def _neighbour_share(votes: np.ndarray, ys: np.ndarray, xs: np.ndarray, n: int) -> np.ndarray:
    """Mean vote share of one class over the 3x3 neighbourhood of the pixels (ys, xs), edges replicated."""
    h, w = votes.shape
    total = np.zeros(ys.shape, dtype=np.float32)
    for dy in (-1, 0, 1):
        yy = np.clip(ys + dy, 0, h - 1)
        for dx in (-1, 0, 1):
            total += votes[yy, np.clip(xs + dx, 0, w - 1)]
    return total / (9.0 * n)


def vote(masks: Sequence[np.ndarray], n_classes: int) -> SegmentationResult:
    """Consolidate the workers' class-index masks (same shape, values < ``n_classes``).

    The neighbourhood is looked at only where the plurality is tied, so the cost is a few passes over the
    image per class present.
    """
    if not masks:
        raise ValueError("no masks to consolidate")
    shape = masks[0].shape
    for m in masks:
        if m.shape != shape:
            raise ValueError(f"masks differ in size: {m.shape} vs {shape}")
    if len(masks) == 1:
        return SegmentationResult(np.array(masks[0], dtype=np.uint8, copy=True), SINGLE_WORKER_CONFIDENCE)
    n = len(masks)
    present: list[int] = []
    planes: list[np.ndarray] = []
    for c in range(n_classes):  # plain passes over contiguous planes: no (classes, H, W) reductions
        v = np.zeros(shape, dtype=np.uint8)
        for m in masks:
            v += m == c
        if v.any():
            present.append(c)
            planes.append(v)
    votes = planes
    top, top_k = votes[0].copy(), np.zeros(shape, dtype=np.intp)
    for k in range(1, len(present)):  # the first (lowest class) of the most voted
        more = votes[k] > top
        top_k[more] = k
        np.maximum(top, votes[k], out=top)
    n_top = np.zeros(shape, dtype=np.uint8)
    for k in range(len(present)):
        n_top += votes[k] == top
    tied = n_top > 1
    if tied.any():
        ys, xs = np.nonzero(tied)
        best_score = np.full(ys.shape, -1.0, dtype=np.float32)
        best = top_k[ys, xs].copy()
        for k in range(len(present)):
            v = votes[k][ys, xs]
            score = np.where(v == top[ys, xs], v + SMOOTHING * _neighbour_share(votes[k], ys, xs, n), -1.0)
            take = score > best_score
            best[take] = k
            best_score[take] = score[take]
        top_k[ys, xs] = best
    mask = np.asarray(present, dtype=np.uint8)[top_k]
    painted = np.zeros(shape, dtype=bool)
    for m in masks:
        painted |= m != 0
    if not painted.any():
        return SegmentationResult(mask, 1.0)
    agreement = top[painted].astype(np.float64) / n
    return SegmentationResult(mask, float(agreement.mean()))
