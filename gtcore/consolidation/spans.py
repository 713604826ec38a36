"""Consolidating named-entity spans across workers: Ground Truth's documented rule (groundtruth-reference.md 5.1).

"Clusters text selections by Jaccard similarity. Boundaries are the mode of the selections, or the median if
there is no clear mode. The label is the most-assigned label in the cluster, with ties broken at random."

How we do it (the parts the reference leaves open are our choices, written down here):

1. Clustering, across labels: every pair of spans from *different* workers whose character sets have a Jaccard
   index (overlap / union of the two offset ranges) of at least ``JACCARD_MIN`` (0.5) is a candidate link; links
   are taken best first and join two clusters unless the joined cluster would hold two spans of one worker. So
   a worker's own overlapping spans ("New York" and "New York Times") stay apart.
2. A cluster is kept when at least ``ceil(n / 2)`` of the ``n`` workers selected it, and at least 2 when there are
   2 or more workers (the rule of the box consolidation: with 2 workers a span only one of them marked is
   dropped). With one worker every span is kept.
3. Boundaries: the most frequent ``(start, end)`` pair when one pair is more frequent than every other; else the
   median start and the median end (the lower median of an even count: offsets stay whole characters; if that
   gives an empty span, the longest member's boundaries).
4. Label: the most frequent label of the cluster; a tie is broken at random with a generator seeded by the
   object and the span, so consolidating again gives the same output.
5. Confidence: 0 with one worker (as Ground Truth writes it); else support share x label share x the mean
   Jaccard of the members with the final span, rounded to 2 decimals and at most 0.95 (Ground Truth's cap for
   classification).

Output order: clusters in the order of their first member (the first worker's spans in the order drawn), so a
one-worker object keeps the worker's own order.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median_low

JACCARD_MIN = 0.5
CONFIDENCE_CAP = 0.95
SINGLE_WORKER_CONFIDENCE = 0  # written as 0, like the other single-worker confidences


@dataclass(frozen=True)
class Span:
    label: str
    start: int
    end: int


@dataclass(frozen=True)
class MergedSpan:
    label: str
    start: int
    end: int
    confidence: float | int
    support: int  # workers in the cluster


def jaccard(a: Span, b: Span) -> float:
    inter = min(a.end, b.end) - max(a.start, b.start)
    if inter <= 0:
        return 0.0
    return inter / (max(a.end, b.end) - min(a.start, b.start))


def _clusters(per_worker: Sequence[Sequence[Span]]) -> list[list[tuple[int, int]]]:
    """Clusters of (worker, index) members, in the order of their first member."""
    members = [(w, i) for w, spans in enumerate(per_worker) for i in range(len(spans))]
    parent = {m: m for m in members}
    workers = {m: {m[0]} for m in members}

    def root(m: tuple[int, int]) -> tuple[int, int]:
        while parent[m] != m:
            parent[m] = parent[parent[m]]
            m = parent[m]
        return m

    links = []
    for x, (wa, ia) in enumerate(members):
        a = per_worker[wa][ia]
        for wb, ib in members[x + 1 :]:
            if wb == wa:
                continue
            j = jaccard(a, per_worker[wb][ib])
            if j >= JACCARD_MIN:
                links.append((-j, (wa, ia), (wb, ib)))
    links.sort()
    for _, ma, mb in links:
        ra, rb = root(ma), root(mb)
        if ra == rb or workers[ra] & workers[rb]:
            continue
        first, second = (ra, rb) if ra < rb else (rb, ra)
        parent[second] = first
        workers[first] |= workers.pop(second)
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for m in members:
        groups.setdefault(root(m), []).append(m)
    return sorted(groups.values(), key=min)


def _bounds(spans: list[Span]) -> tuple[int, int]:
    counts = Counter((s.start, s.end) for s in spans).most_common()
    if len(counts) == 1 or counts[0][1] > counts[1][1]:
        return counts[0][0]
    start, end = median_low([s.start for s in spans]), median_low([s.end for s in spans])
    if end <= start:
        longest = max(spans, key=lambda s: (s.end - s.start, -s.start))
        return longest.start, longest.end
    return start, end


def consolidate_spans(per_worker: Sequence[Sequence[Span]], *, seed: int = 0) -> list[MergedSpan]:
    """The consolidated entities of one text from each worker's spans (see the module's rules)."""
    n = len(per_worker)
    if n == 0:
        return []
    least = 1 if n == 1 else max(2, math.ceil(n / 2))
    out: list[MergedSpan] = []
    for members in _clusters(per_worker):
        if len(members) < least:
            continue
        spans = [per_worker[w][i] for w, i in members]
        start, end = _bounds(spans)
        votes = Counter(s.label for s in spans).most_common()
        tied = sorted(label for label, c in votes if c == votes[0][1])
        label = tied[0] if len(tied) == 1 else random.Random(f"{seed}:{start}:{end}").choice(tied)  # noqa: S311
        confidence: float | int = SINGLE_WORKER_CONFIDENCE
        if n > 1:
            final = Span(label, start, end)
            fit = sum(jaccard(s, final) for s in spans) / len(spans)
            share = votes[0][1] / len(spans)
            confidence = min(CONFIDENCE_CAP, round(len(spans) / n * share * fit, 2))
        out.append(MergedSpan(label, start, end, confidence, len(spans)))
    return out
