"""How sure the human labels are: the consolidation's posterior of each object's consolidated class, so that the
bound on the machine labels' accuracy is about the TRUTH, not about labels that are themselves a few percent wrong
(single-label classification with 2+ annotators per object).

Why: with 3 annotators at 15 % error, about 4 % of the consolidated labels are wrong (two wrong answers on one
object). A model that is 99 % right against the truth then agrees with its validation labels only about 95 % of
the time, and no threshold could prove 0.95 against them: nothing would be machine-labeled. The consolidation
(``gtcore.consolidation.classification.fit_single_label``: Dawid-Skene EM over the whole job, a confusion matrix
per worker) gives each object ``P(true class = consolidated class | all answers)``: ``label_right``. The bound
(``bounds.noisy_lower_bound``) turns the model's agreement with the labels into a bound on its accuracy against
the truth with these probabilities. Objects answered by one person count as sure (as before: their agreement
understates the accuracy, it never overstates it when the model's errors are independent of the person's).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import and_, select

from gtcore.consolidation.classification import fit_single_label
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import tasktypes


def job_posteriors(ctx: Context, job_id: int, labels: Sequence[str], task_type: str) -> dict[int, np.ndarray]:
    """Object index -> posterior over the job's classes, for objects with 2+ submitted answers; {} for task types
    that are not single-label classification."""
    try:
        tt = tasktypes.get(task_type)
    except (KeyError, ValueError):
        return {}
    if tt.draws_boxes or tt.multi_choice or tt.marks_spans or tt.verifies or "classifier" not in tt.answer_element:
        return {}
    a, u = dbm.assignments, dbm.users
    with ctx.db.read() as conn:
        rows = conn.execute(
            select(a.c.object_idx, a.c.worker_id, a.c.answer_json)
            .join(u, u.c.id == a.c.worker_id)
            .where(and_(a.c.job_id == job_id, a.c.status == "submitted", a.c.answer_json.is_not(None)))
            .order_by(a.c.object_idx, a.c.submitted_at, a.c.id)
        ).all()
    class_id = {n: i for i, n in enumerate(labels)}
    by_obj: dict[int, list[tuple[Any, int]]] = {}
    for idx, worker, answer in rows:
        try:
            c = class_id.get(json.loads(answer)[tt.answer_element]["label"])
        except (ValueError, KeyError, TypeError):
            c = None
        if c is not None:
            by_obj.setdefault(int(idx), []).append((worker, c))
    order = sorted(by_obj)
    if not order:
        return {}
    fitted = fit_single_label([by_obj[i] for i in order], max(1, len(labels)))
    out: dict[int, np.ndarray] = {}
    for idx, res in zip(order, fitted.results, strict=True):
        if len(by_obj[idx]) >= 2 and len(res.posterior) == len(labels):
            out[idx] = np.asarray(res.posterior, dtype=np.float64)
    return out


def label_right(idxs: Sequence[int], post: dict[int, np.ndarray]) -> list[float]:
    """Each object's probability that its consolidated (arg-max) class is the true one; 1.0 where no posterior is
    known (one answer)."""
    return [float(np.max(post[int(i)])) if int(i) in post else 1.0 for i in idxs]
