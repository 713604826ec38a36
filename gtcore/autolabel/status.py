"""What the job status page and the bench show of automated data labeling: the loop's phase (and why it went on
with people only), per iteration (round) the human- and machine-labeled counts, the validation estimate at the
threshold, its one-sided lower bound, the threshold chosen on the validation set and the one the round used after
its check, the metric measured on the round's fresh human-checked sample, training and inference seconds; human
vs machine labels over time for the chart; which model each round chose (for classification the linear head on
pooled embeddings or the map head on block-10 maps); and whether a worker is waiting for the next batch."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from gtcore.autolabel import batches, maphead
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor, require_reader

IT = dbm.autolabel_iterations
MODEL_NAMES = {  # a saved model's kind, as the status page names it
    "builtin-classifier": "linear head",
    maphead.KIND: "map head",
    "builtin-detector": "detector",
    "builtin-segmenter": "segmenter",
    "builtin-text": "text model",
}
S = dbm.autolabel_jobs


@dataclass(frozen=True)
class Iteration:
    number: int
    started_at: float
    released: int  # objects sent to people at its start
    human_labeled: int | None  # human labels the model was trained and validated on
    machine_labeled: int | None
    threshold: float | None  # the one the round machine-labeled at (None: not trained, or none kept the promise)
    metric_name: str | None
    metric: float | None  # the estimate: the validation objects' metric at the validation threshold
    validation_count: int | None
    training_seconds: float | None
    inference_seconds: float | None
    error: str | None
    finished_at: float | None
    validation_threshold: float | None = None  # chosen on the validation set's lower bound
    bound: float | None = None  # the one-sided 95 % lower bound at it
    check_count: int | None = None  # fresh human labels of the round at or above the validation threshold
    check_metric: float | None = None  # the model's metric on them
    check_failed: bool | None = None
    trained: bool = False
    job_ended: bool = False  # the job is final: a round still open ended with it
    model: str = ""  # which model the round chose (classification: which head), from its saved model's kind

    @property
    def stage(self) -> str:
        if self.error:
            return "no model"
        if self.number == 1:
            return "probe"
        if self.number == 2:
            return "validation set and first batch"
        if self.finished_at is not None:
            return "done"
        if self.job_ended:
            return "ended with the job"
        return "waiting for the batch, then labeling" if self.trained else "training (people label the batch)"

    @property
    def decision(self) -> str:
        """What the round's check did to the threshold, in words."""
        if self.number < 3:
            return ""
        if self.job_ended and self.finished_at is None:
            return "the job ended before this model labeled anything"
        if self.finished_at is None or not self.trained or self.error:
            return ""
        if self.validation_threshold is None and self.threshold is not None:
            return "threshold found on the validation and fresh labels together"
        if self.validation_threshold is None:
            return "no machine labels: the bound stayed below the target"
        if self.threshold is None:
            return "no machine labels: the check contradicted the threshold"
        if self.threshold > self.validation_threshold:
            return "threshold raised by the check"
        return "threshold kept"


@dataclass(frozen=True)
class LoopStatus:
    enabled: bool
    phase: str  # new | probe | labeling | loop | human-only | done
    error: str | None
    initial_model_uri: str | None
    iterations: list[Iteration]
    timeline: list[tuple[float, int, int]]  # (epoch seconds, human labeled so far, machine labeled so far)


def loop_status(ctx: Context, actor: Actor, job_id: int) -> LoopStatus:
    """The loop of job ``job_id`` (``enabled`` False for a job without automated data labeling)."""
    require_reader(actor, action="see job progress")
    o, a = dbm.objects, dbm.assignments
    with ctx.db.read() as conn:
        st = conn.execute(select(S).where(S.c.job_id == job_id)).first()
        if st is None:
            return LoopStatus(False, "", None, None, [], [])
        job_status = conn.execute(select(dbm.jobs.c.status).where(dbm.jobs.c.id == job_id)).scalar()
        ended = job_status in ("Completed", "Stopped", "Failed")
        m = dbm.autolabel_models
        kinds = {int(i): str(k) for i, k in conn.execute(select(m.c.id, m.c.kind).where(m.c.job_id == job_id))}
        its = [
            Iteration(
                r.iteration,
                r.started_at,
                r.released,
                r.human_labeled,
                r.machine_labeled,
                None if r.threshold is None or r.threshold < 0 else float(r.threshold),
                r.metric_name,
                r.metric,
                r.validation_count,
                r.training_seconds,
                r.inference_seconds,
                r.error,
                r.finished_at,
                r.validation_threshold,
                r.bound,
                r.check_count,
                r.check_metric,
                r.check_failed,
                r.model_id is not None or r.threshold is not None,
                ended,
                MODEL_NAMES.get(str(kinds.get(r.model_id, "")), str(kinds.get(r.model_id, ""))),
            )  # fmt: skip
            for r in conn.execute(select(IT).where(IT.c.job_id == job_id).order_by(IT.c.iteration))
        ]
        done = select(o.c.idx).where(o.c.job_id == job_id, o.c.status == "done")
        human_times = sorted(
            float(t)
            for (t,) in conn.execute(
                select(func.max(a.c.submitted_at))
                .where(a.c.job_id == job_id, a.c.status == "submitted", a.c.object_idx.in_(done))
                .group_by(a.c.object_idx)
            )
            if t is not None
        )
        machine_times = sorted(
            float(t)
            for (t,) in conn.execute(select(o.c.updated_at).where(o.c.job_id == job_id, o.c.status == "machine"))
        )
    return LoopStatus(True, str(st.phase), st.error, st.initial_model_uri, its, _timeline(human_times, machine_times))


def _timeline(human: list[float], machine: list[float], max_points: int = 300) -> list[tuple[float, int, int]]:
    events = sorted([(t, 1, 0) for t in human] + [(t, 0, 1) for t in machine])
    out: list[tuple[float, int, int]] = []
    h = m = 0
    step = max(1, len(events) // max_points)
    for i, (t, dh, dm) in enumerate(events):
        h += dh
        m += dm
        if i % step == 0 or i == len(events) - 1:
            out.append((t, h, m))
    return out


def preparing_more(ctx: Context, job_id: int) -> bool:
    """Whether the job's automated data labeling is preparing the next batch for people: the job runs, its loop is
    active, objects are still held (not yet sent) and nothing sent is waiting for a worker. A worker with nothing
    to claim then waits for more tasks (once a batch is out this turns False, and the page looks again)."""
    with ctx.db.read() as conn:
        row = conn.execute(
            select(dbm.jobs.c.status, S.c.phase)  # no loop state yet: its first step has not run
            .outerjoin(S, S.c.job_id == dbm.jobs.c.id)
            .where(dbm.jobs.c.id == job_id)
        ).first()
        if row is None or row.status != "InProgress" or row.phase in ("human-only", "done"):
            return False
        c = batches.counts(conn, job_id)
    return c.held > 0 and c.claimable == 0
