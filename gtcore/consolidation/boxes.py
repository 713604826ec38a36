"""Bounding-box consolidation: match boxes across workers by IoU, average each match.

Rule (our reconstruction of Ground Truth's "find the most similar boxes by IoU and average them",
groundtruth-reference.md §5.3):

1. Boxes are matched **per class** only (a "cat" never merges with a "dog").
2. Greedy agglomerative clustering: every box starts as its own cluster; candidate pairs of boxes
   from *different* workers with IoU >= ``iou_threshold`` (default ``IOU_THRESHOLD`` = 0.5) are taken
   from the highest IoU down (ties: earlier worker, then earlier box). Two clusters merge when
   (a) they share no worker -- a cluster holds at most one box per worker -- and (b) the mean IoU
   over every cross pair of their boxes is >= ``iou_threshold`` (average linkage, so a chain of
   barely-overlapping boxes does not snowball).
3. A cluster survives when at least ``min_support`` distinct workers drew it; the default
   (``majority(n)``) is ``ceil(n / 2)`` of the workers who answered, but at least 2 when two or more answered
   (2 of 2, 2 of 3, 2 of 4, 3 of 5, ...): with 2 workers a box only one of them drew is dropped (issue 17;
   until then it was kept with confidence 0.25 and false boxes went into training data). The bench
   (``bench/bench_crowd.py --part boxes``) measures both rules; pass ``min_support=1`` for the old one.
4. Coordinates are the arithmetic mean of the members' ``left``, ``top``, ``width``, ``height``,
   unrounded (like Ground Truth's ``164.60000000000002``); a mean that is a whole number is written
   as an integer (Ground Truth writes ``"height":859``).
5. Confidence = ``round(support / n * mean_iou, 2)`` where ``mean_iou`` is the mean pairwise IoU of
   the cluster's boxes (a one-box cluster, possible only when ``min_support`` is 1, counts
   ``iou_threshold`` as its mean IoU). It spans 0..1, e.g. 3 of 5 workers at IoU 0.8 -> 0.48.
6. One worker: his boxes unchanged (integers stay integers), each with
   ``SINGLE_WORKER_CONFIDENCE`` (0, as in Ground Truth's 2025+ outputs; 2019 outputs used 0.09).
7. Output order: clusters ordered by their earliest box (worker order, then drawing order), so the
   result is deterministic for a given answer order.

Adjustment jobs use ``same_boxes`` (same labelled boxes in any order, within ``ADJUST_TOLERANCE`` px)
to tell whether a worker changed the boxes he was shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

IOU_THRESHOLD = 0.5
ADJUST_TOLERANCE = 0.01  # pixels; smaller differences are float noise from the canvas round trip
# Confidence Ground Truth writes when one worker labelled the object (0 since 2025; 0.09 in 2019).
SINGLE_WORKER_CONFIDENCE = 0

Number = int | float


class Box(NamedTuple):
    """A box as a worker drew it, in source-image pixels."""

    label: str
    left: Number
    top: Number
    width: Number
    height: Number

    @property
    def right(self) -> float:
        return self.left + self.width


class ConsolidatedBox(NamedTuple):
    label: str
    left: Number
    top: Number
    width: Number
    height: Number
    confidence: Number
    support: int  # distinct workers whose boxes formed this one


def iou(a: Box, b: Box) -> float:
    """Intersection over union (Jaccard index) of two boxes; 0 when either has no area."""
    # tuple unpacking and conditional expressions: this runs for every pair of boxes of a job (hot path)
    _la, al, at, aw, ah = a
    _lb, bl, bt, bw, bh = b
    ar, br, ab, bb = al + aw, bl + bw, at + ah, bt + bh
    iw = (ar if ar < br else br) - (al if al > bl else bl)
    if iw <= 0:
        return 0.0
    ih = (ab if ab < bb else bb) - (at if at > bt else bt)
    if ih <= 0:
        return 0.0
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def majority(n_workers: int) -> int:
    """Default minimum support: ceil(n / 2); at least 2 when 2+ workers answered, 1 for a single worker."""
    if n_workers <= 1:
        return 1
    return max(2, math.ceil(n_workers / 2))


def consolidate_boxes(
    worker_boxes: Sequence[Sequence[Box]],
    *,
    iou_threshold: float = IOU_THRESHOLD,
    min_support: int | None = None,
) -> list[ConsolidatedBox]:
    """Consolidate the boxes of several workers (one inner sequence per worker, in answer order)."""
    n = len(worker_boxes)
    if n == 0:
        return []
    if n == 1:
        return [
            ConsolidatedBox(b.label, b.left, b.top, b.width, b.height, SINGLE_WORKER_CONFIDENCE, 1)
            for b in worker_boxes[0]
        ]
    need = majority(n) if min_support is None else max(1, min_support)
    # every box in answer order (its position is its global order), grouped by label
    flat: list[Box] = [b for boxes in worker_boxes for b in boxes]
    if len(flat) < need:
        return []  # fewer boxes than the support a cluster needs
    owner = [w for w, boxes in enumerate(worker_boxes) for _b in boxes]
    by_label: dict[str, list[int]] = {}
    for k, b in enumerate(flat):
        ids = by_label.get(b[0])
        if ids is None:
            by_label[b[0]] = [k]
        else:
            ids.append(k)
    out: list[tuple[int, ConsolidatedBox]] = []
    for members in by_label.values():
        if len(members) < need:
            continue  # too few boxes of this class for one cluster
        drew = len({owner[k] for k in members})
        if drew < need:
            continue  # too few workers drew this class at all
        clusters = _small(flat, members, iou_threshold) if drew == len(members) <= 3 else None
        if clusters is None:
            clusters = _cluster(flat, owner, members, iou_threshold)
        for cl, mean_iou in clusters:
            m = len(cl)
            if m < need:
                continue
            first = flat[cl[0]]
            if m == 1:  # only when min_support is 1: the box as drawn
                left, top, width, height = first.left, first.top, first.width, first.height
            else:
                sl = st = sw = sh = 0.0
                for k in cl:
                    _lab, bl, bt, bw, bh = flat[k]
                    sl += bl
                    st += bt
                    sw += bw
                    sh += bh
                left, top, width, height = sl / m, st / m, sw / m, sh / m  # whole means as int (rule 4)
                left = int(left) if left.is_integer() else left
                top = int(top) if top.is_integer() else top
                width = int(width) if width.is_integer() else width
                height = int(height) if height.is_integer() else height
            conf = round(min(1.0, m / n * mean_iou), 2)
            out.append((cl[0], ConsolidatedBox(first.label, left, top, width, height, conf, m)))
    out.sort(key=lambda t: t[0])
    return [c for _k, c in out]


def _small(flat: list[Box], ids: list[int], thr: float) -> list[tuple[list[int], float]] | None:
    """Fast path for 1-3 boxes from distinct workers: the result ``_cluster`` gives, or None to use it."""
    if len(ids) == 1:
        return [(ids, thr)]
    if len(ids) == 2:
        v = iou(flat[ids[0]], flat[ids[1]])
        return [(ids, v)] if v >= thr else [([ids[0]], thr), ([ids[1]], thr)]
    a, b, c = flat[ids[0]], flat[ids[1]], flat[ids[2]]
    vals = (iou(a, b), iou(a, c), iou(b, c))
    if min(vals) >= thr:  # every pair matches: greedy average linkage ends with one cluster
        return [(ids, sum(vals) / 3)]
    return None


def _cluster(flat: list[Box], owner: list[int], ids: list[int], thr: float) -> list[tuple[list[int], float]]:
    """Greedy average-linkage clustering of one class's boxes (``ids``: global ids, ascending).

    Returns each cluster as (sorted global ids, mean pairwise IoU); a one-box cluster's mean is ``thr``.
    IoUs are computed for pairs of boxes from different workers whose x-ranges overlap (a sweep on the
    left edge); every other pair has IoU 0.
    """
    m = len(ids)
    rect = []
    for k in ids:
        b = flat[k]
        rect.append((b.left, b.top, b.left + b.width, b.top + b.height, b.width * b.height))
    own = [owner[k] for k in ids]
    order = sorted(range(m), key=lambda i: rect[i][0])
    ious: dict[tuple[int, int], float] = {}
    pairs: list[tuple[float, int, int]] = []
    for pos, i in enumerate(order):
        al, at, ar, ab, aa = rect[i]
        oi = own[i]
        for j in order[pos + 1 :]:
            bl, bt, br, bb, ba = rect[j]
            if bl >= ar:
                break  # sorted on the left edge: no later box overlaps box i in x
            if own[j] == oi:
                continue
            ih = (ab if ab < bb else bb) - (at if at > bt else bt)
            if ih <= 0:
                continue
            inter = ((ar if ar < br else br) - bl) * ih
            union = aa + ba - inter
            v = inter / union if union > 0 else 0.0
            key = (i, j) if i < j else (j, i)
            ious[key] = v
            if v >= thr:
                pairs.append((v, key[0], key[1]))
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    cluster_of = list(range(m))
    members = [[i] for i in range(m)]
    masks = [1 << o for o in own]  # workers present in each cluster, as a bit set
    for _v, i, j in pairs:
        ci, cj = cluster_of[i], cluster_of[j]
        if ci == cj or masks[ci] & masks[cj]:
            continue
        mi, mj = members[ci], members[cj]
        if len(mi) > 1 or len(mj) > 1:  # two single boxes: their IoU already passed the threshold
            cross = [ious.get((p, q) if p < q else (q, p), 0.0) for p in mi for q in mj]
            if sum(cross) < thr * len(cross):
                continue
        keep, gone = (ci, cj) if ci < cj else (cj, ci)
        for p in members[gone]:
            cluster_of[p] = keep
        members[keep] = members[keep] + members[gone]
        members[gone] = []
        masks[keep] |= masks[gone]
    out = []
    for mem in members:
        if not mem:
            continue
        if len(mem) == 1:
            out.append(([ids[mem[0]]], thr))
            continue
        mem.sort()
        vals = [ious.get((p, q), 0.0) for x, p in enumerate(mem) for q in mem[x + 1 :]]
        out.append(([ids[p] for p in mem], sum(vals) / len(vals)))
    return out


def same_boxes(a: Sequence[Box], b: Sequence[Box], tol: float = ADJUST_TOLERANCE) -> bool:
    """True when both lists hold the same labelled boxes (any order), coordinates within ``tol``."""
    if len(a) != len(b):
        return False
    rest = list(b)
    for x in a:
        for k, y in enumerate(rest):
            if x.label == y.label and all(
                abs(p - q) <= tol
                for p, q in ((x.left, y.left), (x.top, y.top), (x.width, y.width), (x.height, y.height))
            ):
                del rest[k]
                break
        else:
            return False
    return True
