"""Worker quality of one labeling job for team leads (not in Ground Truth): the job status page and
``gtcore worker-quality``.

Fits the single-label EM (``gtcore.consolidation.classification.fit_single_label``) on the job's submitted
answers, gold objects (``GoldStandard.LabelAttributeName`` of the job, see ``gtcore.jobs.spec``) as fixed
truths, and turns the fitted worker matrices into ``gtcore.consolidation.quality.WorkerQuality`` rows
(estimated accuracy, most frequent confusion, likely spammer / adversary flags, score on gold objects).
Other task types get ``supported=False`` with the reason (the box and multi-label models have no per-worker
confusion matrix of classes). Admins and auditors may read it. Reads only; nothing is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select

from gtcore.consolidation.classification import fit_single_label
from gtcore.consolidation.quality import WorkerQuality, worker_quality
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import tasktypes
from gtcore.core.access import Actor, require_reader
from gtcore.core.errors import NotFound
from gtcore.jobs.describe import find_job_row
from gtcore.output.records import gold_class
from gtcore.output.writer import gold_attribute


@dataclass
class JobQuality:
    job_name: str
    supported: bool
    reason: str = ""
    gold_attribute: str | None = None
    gold_objects: int = 0
    workers: list[WorkerQuality] = field(default_factory=list)
    emails: dict[str, str] = field(default_factory=dict)  # public worker id -> e-mail

    def to_json(self) -> dict[str, Any]:
        return {
            "LabelingJobName": self.job_name,
            "Supported": self.supported,
            **({"Reason": self.reason} if self.reason else {}),
            "GoldAttribute": self.gold_attribute,
            "GoldObjects": self.gold_objects,
            "Workers": [{"email": self.emails.get(w.worker, ""), **w.to_json()} for w in self.workers],
        }


def job_quality(ctx: Context, actor: Actor, *, job_id: int | None = None, name: str | None = None) -> JobQuality:
    """Worker quality of the job given by id or name (see the module docstring)."""
    require_reader(actor, action="see worker quality")
    j, o, a, u = dbm.jobs, dbm.objects, dbm.assignments, dbm.users
    with ctx.db.read() as conn:
        if name is not None:
            job = find_job_row(conn, name)
        else:
            job = conn.execute(select(j).where(j.c.id == job_id)).first()
            if job is None:
                raise NotFound(f"labeling job {job_id} does not exist")
        tt = tasktypes.get(job.task_type)
        if tt.draws_boxes or tt.multi_choice or tt.marks_spans:
            return JobQuality(job.name, False, f"worker quality is estimated for single-label jobs; this is {tt.name}")
        labels: list[str] = json.loads(job.labels_json)
        answers = list(
            conn.execute(
                select(a.c.object_idx, u.c.worker_id, u.c.email, a.c.answer_json)
                .join(u, u.c.id == a.c.worker_id)
                .where(and_(a.c.job_id == job.id, a.c.status == "submitted", a.c.answer_json.is_not(None)))
                .order_by(a.c.object_idx, a.c.submitted_at, a.c.id)
            )
        )
        gold_attr = gold_attribute(job)
        lines: dict[int, str] = {}
        if gold_attr:
            idxs = sorted({r.object_idx for r in answers})
            for idx, line in conn.execute(select(o.c.idx, o.c.line_json).where(o.c.job_id == job.id)):
                if idx in idxs and gold_attr in line:
                    lines[idx] = line
    emails = {r.worker_id: r.email for r in answers}
    by_obj: dict[int, list[tuple[str, int]]] = {}
    class_id = {n: i for i, n in enumerate(labels)}
    for r in answers:
        try:
            c = class_id.get(json.loads(r.answer_json)[tt.answer_element]["label"])
        except (ValueError, KeyError, TypeError):
            c = None
        if c is not None:
            by_obj.setdefault(r.object_idx, []).append((r.worker_id, c))
    order = sorted(by_obj)
    items = [by_obj[i] for i in order]
    gold: dict[int, int] = {}
    for pos, idx in enumerate(order):
        if idx in lines:
            g = gold_class(json.loads(lines[idx]), gold_attr or "", labels)
            if g is not None:
                gold[pos] = g
    res = JobQuality(job.name, True, gold_attribute=gold_attr, gold_objects=len(gold), emails=emails)
    if not items:
        return res
    fitted = fit_single_label(items, max(1, len(labels)), gold=gold)
    if fitted.model is None:
        res.reason = "no object has two answers yet: nothing to compare workers with"
        return res
    scores: dict[str, tuple[int, int]] = {}
    for pos, g in gold.items():
        for w, c in items[pos]:
            right, n = scores.get(w, (0, 0))
            scores[w] = (right + (c == g), n + 1)
    res.workers = worker_quality(fitted.model, fitted.workers, labels, gold_scores=scores)
    return res
