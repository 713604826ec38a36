"""The validation set as the pool that remains: each round's threshold is chosen (and checked) on the validation
objects that earlier rounds' models would have machine-labeled NOT (confidence under their threshold), because the
objects left for a later round are exactly those: the easy ones are gone. Without this, a validation set drawn from
the whole dataset vouches for a later, harder pool with its easy objects (seen on digits: a round's machine labels
93.9 % right while its validation set said 97 %).

A round stores its validation scores as ``[[object idx, confidence, score], ...]`` (``autolabel_iterations.
validation_scores_json``) and the threshold it used; so round N rebuilds the virtual pool from rounds < N."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select

from gtcore.autolabel import rules
from gtcore.context import Context
from gtcore.core import db as dbm

IT = dbm.autolabel_iterations
Triple = tuple[int, float, float, float]  # (object idx, confidence, score, P(the human label is right))


def gone_before(ctx: Context, job_id: int, n: int) -> set[int]:
    """Validation objects (idx) that a round before ``n`` would have machine-labeled."""
    with ctx.db.read() as conn:
        rows = conn.execute(
            select(IT.c.threshold, IT.c.validation_scores_json).where(
                IT.c.job_id == job_id, IT.c.iteration < n, IT.c.finished_at.is_not(None), IT.c.threshold >= 0
            )
        ).all()
    gone: set[int] = set()
    for threshold, enc in rows:
        for idx, conf, _, _ in triples(enc):
            if rules.machine_labels(conf, threshold):
                gone.add(idx)
    return gone


def triples(enc: str | None) -> list[Triple]:
    """Stored rows ``[idx, confidence, score(, label_right)]`` (rows of earlier versions: labels taken as sure)."""
    rows = json.loads(enc or "[]")
    return [(int(t[0]), float(t[1]), float(t[2]), float(t[3]) if len(t) > 3 else 1.0) for t in rows if len(t) in (3, 4)]


def encode(
    idxs: Sequence[int], confs: Sequence[float], scores: Sequence[float], label_right: Sequence[float] | None = None
) -> str:
    qs = label_right if label_right is not None else [1.0] * len(idxs)
    rows = [
        [int(i), round(float(c), 6), round(float(s), 6), round(float(q), 6)]
        for i, c, s, q in zip(idxs, confs, scores, qs, strict=True)
    ]
    return json.dumps(rows, separators=(",", ":"))


def remaining(rows: Sequence[Triple], gone: set[int]) -> tuple[list[float], list[float], list[float]]:
    """(confidences, scores, label_right) of the validation objects still like the pool."""
    kept = [(c, s, q) for i, c, s, q in rows if i not in gone]
    return [c for c, _, _ in kept], [s for _, s, _ in kept], [q for _, _, q in kept]
