"""What the job status page and the bench show of automated data labeling: the loop's phase (and why it went on
with people only), per iteration the human- and machine-labeled counts, the threshold and the validation metric
it was chosen on, training and inference seconds; and human vs machine labels over time for the chart."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor, require_reader

IT = dbm.autolabel_iterations
S = dbm.autolabel_jobs


@dataclass(frozen=True)
class Iteration:
    number: int
    started_at: float
    released: int  # objects sent to people at its start
    human_labeled: int | None  # human labels the model was trained and validated on
    machine_labeled: int | None
    threshold: float | None  # None: not trained yet, or no threshold reached the target
    metric_name: str | None
    metric: float | None
    validation_count: int | None
    training_seconds: float | None
    inference_seconds: float | None
    error: str | None
    finished_at: float | None

    @property
    def stage(self) -> str:
        if self.error:
            return "failed"
        if self.number <= 2 and self.human_labeled is None:
            return "probe" if self.number == 1 else "training and validation labels"
        if self.finished_at is not None:
            return "done"
        return "inferring" if self.threshold is not None else "training"


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
