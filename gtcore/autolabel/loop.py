"""The loop's bookkeeping: which objects people may label, when to train, when the job fails or goes on with
people only. The rules are in ``rules``; training and inference in ``training``.

Objects of a job with automated data labeling are inserted *held* (``objects.held``): open, but never claimed
(``gtcore.queue.leases.candidates`` skips them). ``step`` (the ``autolabel.step`` work item, enqueued at creation,
after every settled object and every minute while the job runs) moves the job through its phases, each move a
compare-and-set on ``autolabel_jobs`` inside one write transaction (two workers running ``step`` at once cannot
release a batch twice):

- ``new`` -> ``probe``: release ``PROBE_SIZE`` random objects (iteration 1);
- ``probe`` -> ``labeling``: once the probe is settled, fail the job if more than 10 % of it failed, else release
  the validation set and the training batch (iteration 2; no training batch when the job starts from a model);
- ``labeling`` / ``loop``, Ground Truth's schedule, one round (iteration N >= 3) at a time: a round starts when
  every object released so far is settled (answered or failed: an object claimed but not answered is not) and the
  previous round's model has labeled what it could. It releases ONE batch of ``MaxConcurrentTaskCount`` held
  objects (the most uncertain under the latest model, and ``check_size`` of them at random from the pool that
  remains), within the ``MaxHumanLabeledObjectCount`` budget, and trains model N on the human labels of earlier
  rounds (never the validation set, never this round's batch). People label that batch while model N trains; model
  N labels nothing until the batch is settled, then its threshold is checked on the batch (fresh human labels of
  the remaining pool, ``rules.check_round``) and it machine-labels. So annotators are at most one batch ahead, and
  which objects people and the model label does not depend on how fast people answer or how loaded the machine is.
- ``human-only``: a model could not be used (bad ONNX file, crash): every held object is released to people and
  the reason is shown on the status page; no human answer is touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from gtcore.autolabel import batches, rules
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.jobs import actions as jobactions
from gtcore.jobs.describe import spec_of

O = dbm.objects  # noqa: E741
J = dbm.jobs
S = dbm.autolabel_jobs
IT = dbm.autolabel_iterations
Action = tuple[str, int]  # ("train" | "infer" | "step", iteration)


@dataclass(frozen=True)
class JobFacts:
    id: int
    name: str
    status: str
    task_type: str
    labels: list[str]
    attr: str
    max_concurrent: int
    total: int
    spec: dict[str, Any]
    output_path: str

    @property
    def folder(self) -> str:
        return self.output_path.rstrip("/") + "/" + self.name

    @property
    def algorithms(self) -> dict[str, Any]:
        return dict(self.spec.get("LabelingJobAlgorithmsConfig") or {})

    @property
    def initial_model_uri(self) -> str | None:
        uri = self.algorithms.get("InitialActiveLearningModelArn")
        return uri if isinstance(uri, str) and uri else None

    @property
    def stopping(self) -> dict[str, int]:
        return dict(self.spec.get("StoppingConditions") or {})


def job_facts(conn: Connection, job_id: int) -> JobFacts | None:
    row = conn.execute(select(J).where(J.c.id == job_id)).first()
    if row is None:
        return None
    spec = spec_of(row)
    return JobFacts(
        int(row.id),
        str(row.name),
        str(row.status),
        str(row.task_type),
        list(json.loads(row.labels_json or "[]")),
        str(row.label_attribute),
        int(row.max_concurrent),
        int(row.total_objects),
        spec,
        str(row.output_path),
    )


def is_autolabel(spec: dict[str, Any]) -> bool:
    return bool(spec.get("LabelingJobAlgorithmsConfig"))


def chained_model_uri(conn: Connection, f: JobFacts) -> str | None:
    """A job chained from one that used automated data labeling, keeping its label attribute, starts from that
    job's final model (groundtruth-reference.md sections 6 and 8)."""
    chained = f.spec.get("ChainedFrom") or {}
    if not isinstance(chained, dict) or chained.get("LabelAttributeName") != f.attr:
        return None
    name = chained.get("LabelingJobName")
    if not isinstance(name, str):
        return None
    m = dbm.autolabel_models
    row = conn.execute(
        select(m.c.uri)
        .join(S, S.c.final_model_id == m.c.id)
        .join(J, J.c.id == S.c.job_id)
        .where(J.c.name_lower == name.lower())
    ).first()
    return None if row is None else str(row.uri)


def ensure_state(conn: Connection, f: JobFacts) -> Any:
    row = conn.execute(select(S).where(S.c.job_id == f.id)).first()
    if row is None:
        initial = f.initial_model_uri or chained_model_uri(conn, f)
        conn.execute(
            S.insert().values(job_id=f.id, phase="new", iteration=0, initial_model_uri=initial, updated_at=dbm.now())
        )
        row = conn.execute(select(S).where(S.c.job_id == f.id)).first()
    return row


def _advance(conn: Connection, job_id: int, old_iteration: int, **values: Any) -> bool:
    """Compare-and-set of the loop's state: True if this transaction moved it."""
    return (
        conn.execute(
            update(S).where(S.c.job_id == job_id, S.c.iteration == old_iteration).values(updated_at=dbm.now(), **values)
        ).rowcount
        == 1
    )


def _new_iteration(conn: Connection, job_id: int, n: int, released: int) -> None:
    conn.execute(IT.insert().values(job_id=job_id, iteration=n, started_at=dbm.now(), released=released))


def latest_iteration(conn: Connection, job_id: int) -> Any:
    return conn.execute(select(IT).where(IT.c.job_id == job_id).order_by(IT.c.iteration.desc()).limit(1)).first()


def trained(it: Any) -> bool:
    """Whether iteration ``it``'s training step has run (a model, or a recorded 'no threshold')."""
    return it.model_id is not None or it.threshold is not None


def step(ctx: Context, job_id: int) -> list[Action]:
    """Move the job's loop on if it is due; returns the work to enqueue. Idempotent."""
    fail_reason = None
    with ctx.db.write() as conn:
        f = job_facts(conn, job_id)
        if f is None or f.status != "InProgress" or not is_autolabel(f.spec):
            return []
        st = ensure_state(conn, f)
        if st.phase in ("human-only", "done"):
            return []
        c = batches.counts(conn, job_id)
        seed = job_id * 1009 + int(st.iteration)
        if st.phase == "new":
            probe = batches.random_held(conn, job_id, rules.PROBE_SIZE, seed)
            if _advance(conn, job_id, 0, phase="probe", iteration=1):
                _new_iteration(conn, job_id, 1, batches.hand_to_people(conn, job_id, probe, "probe", 1))
            return []
        if st.phase == "probe":
            if c.probe_open:
                return []
            if rules.probe_failed(c.probe_failed, c.probe_total):
                fail_reason = (
                    f"automated data labeling: {c.probe_failed} of the {c.probe_total} objects of the first (probe) "
                    f"batch failed; more than {rules.PROBE_MAX_FAILED_FRACTION:.0%} fails the job"
                )
                _advance(conn, job_id, int(st.iteration), phase="done")
            else:
                val = batches.random_held(conn, job_id, rules.validation_size(f.total), seed)
                n = batches.hand_to_people(conn, job_id, val, "validation", 2)
                if not st.initial_model_uri:
                    batch = batches.random_held(conn, job_id, rules.training_batch_size(f.max_concurrent), seed + 1)
                    n += batches.hand_to_people(conn, job_id, batch, "train", 2)
                if _advance(conn, job_id, 1, phase="labeling", iteration=2):
                    _new_iteration(conn, job_id, 2, n)
                return []
        else:
            return _loop_step(conn, f, st, c, seed)
    if fail_reason:
        jobactions.fail_labeling_job(ctx, Actor.system_actor(), f.name, fail_reason)
    return []


def _loop_step(conn: Connection, f: JobFacts, st: Any, c: batches.Counts, seed: int) -> list[Action]:
    if c.released_open:
        return []  # the round's batch (or the validation set) is not settled: people first
    last = latest_iteration(conn, f.id)
    n = int(st.iteration)
    if st.phase == "loop" and last is not None and last.finished_at is None:
        return [("infer", n)] if trained(last) else []  # the batch is settled: the model may label now
    if not c.held:
        return []
    budget = rules.human_budget(f.stopping.get("MaxHumanLabeledObjectCount"), c.human + c.released_open)
    labeled = rules.labeled_budget(
        f.stopping.get("MaxPercentageOfInputDatasetLabeled"), f.total, c.human + c.machine + c.released_open
    )
    if labeled is not None:  # people never label past MaxPercentageOfInputDatasetLabeled either
        budget = labeled if budget is None else min(budget, labeled)
    k = rules.next_batch_size(f.max_concurrent, c.held, budget)
    if st.phase == "loop" and k == 0 and last is not None and (last.released == 0 or last.human_labeled == c.human):
        return []  # nothing new to learn from and nobody to send work to: the stopping condition ends the job
    if not _advance(conn, f.id, n, phase="loop", iteration=n + 1):
        return []
    uncertain, check = batches.next_batch(conn, f.id, k, seed) if k else ([], [])
    moved = batches.hand_to_people(conn, f.id, uncertain, "batch", n + 1) + batches.hand_to_people(
        conn, f.id, check, "check", n + 1
    )
    _new_iteration(conn, f.id, n + 1, moved)
    return [("train", n + 1)]


def still_running(conn: Connection, job_id: int) -> bool:
    """Whether the job's loop may still have work to do (InProgress, not human-only)."""
    row = conn.execute(select(J.c.status, S.c.phase).join(S, S.c.job_id == J.c.id).where(J.c.id == job_id)).first()
    return row is not None and row.status == "InProgress" and row.phase not in ("human-only", "done")


def go_human_only(ctx: Context, job_id: int, reason: str, iteration: int | None = None) -> None:
    """A model cannot be used: release every held object to people and record why (shown on the status page)."""
    with ctx.db.write() as conn:
        conn.execute(
            update(S).where(S.c.job_id == job_id).values(phase="human-only", error=reason[:2000], updated_at=dbm.now())
        )
        if iteration is not None:
            conn.execute(
                update(IT)
                .where(IT.c.job_id == job_id, IT.c.iteration == iteration)
                .values(error=reason[:2000], finished_at=dbm.now())
            )
        idxs = [i for i, _ in batches.held_objects(conn, job_id)]
        batches.hand_to_people(conn, job_id, idxs, "batch", iteration or 0)
