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


def _box3(a: np.ndarray) -> np.ndarray:
    """Mean over each pixel's 3x3 neighbourhood (edges padded by replication)."""
    p = np.pad(a, 1, mode="edge").astype(np.float32)
    s = p[:-2, :-2] + p[:-2, 1:-1] + p[:-2, 2:] + p[1:-1, :-2] + p[1:-1, 1:-1] + p[1:-1, 2:]
    s += p[2:, :-2] + p[2:, 1:-1] + p[2:, 2:]
    return s / 9.0


def vote(masks: Sequence[np.ndarray], n_classes: int) -> SegmentationResult:
    """Consolidate the workers' class-index masks (same shape, values < ``n_classes``)."""
    if not masks:
        raise ValueError("no masks to consolidate")
    shape = masks[0].shape
    for m in masks:
        if m.shape != shape:
            raise ValueError(f"masks differ in size: {m.shape} vs {shape}")
    if len(masks) == 1:
        return SegmentationResult(np.array(masks[0], dtype=np.uint8, copy=True), SINGLE_WORKER_CONFIDENCE)
    stack = np.stack(masks)
    present = [c for c in range(n_classes) if (stack == c).any()]
    best = np.zeros(shape, dtype=np.uint8)
    best_score = np.full(shape, -1.0, dtype=np.float32)
    best_votes = np.zeros(shape, dtype=np.uint16)
    for c in present:  # lowest index first: a strictly greater score is needed to take a pixel over
        votes = (stack == c).sum(axis=0, dtype=np.uint16)
        score = votes.astype(np.float32) + (SMOOTHING / len(masks)) * _box3(votes)
        take = score > best_score
        best[take] = c
        best_score[take] = score[take]
        best_votes[take] = votes[take]
    painted = (stack != 0).any(axis=0)
    if not painted.any():
        return SegmentationResult(best, 1.0)
    agreement = best_votes[painted].astype(np.float64) / len(masks)
    return SegmentationResult(best, float(agreement.mean()))
