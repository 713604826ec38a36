"""The bench's simulated annotators (``bench_autolabel.py``): threads that claim, answer from the truth file with a
set error rate, and submit until the job is final."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import TaskError
from gtcore.jobs import api as jobs
from gtcore.queue import api as queue
from tests.fixtures import simulate

SYSTEM = Actor.system_actor()


def annotate_until_final(ctx: Context, people: list[Actor], job_id: int, truth: dict, labels: list[str],
                          error: float, sizes: dict[str, tuple[int, int]], pause: float = 0.0) -> float:  # fmt: skip
    """Each annotator (a thread) claims, takes ``pause`` seconds, and submits until the job is final; returns the
    seconds in which they had nothing to claim (summed over annotators, divided by their number)."""
    waited = [0.0] * len(people)

    def work(k: int, w: Actor) -> None:
        while True:
            try:
                task = queue.claim_next(ctx, w, job_id)
            except TaskError:
                return
            if task is None:
                if jobs.job_summary(ctx, SYSTEM, job_id=job_id).status in ("Completed", "Stopped", "Failed"):
                    return
                time.sleep(0.2)
                waited[k] += 0.2
                continue
            name = Path(str(task.source_ref)).name
            rng = random.Random(f"{name}:{w.email}")  # the same person errs on the same object whenever asked
            answer = simulate.answer_for(truth[name], labels, error, rng, sizes[name])
            time.sleep(pause)  # --answer-seconds: how long an annotator takes (0: instantly)
            try:
                queue.submit(ctx, w, task.assignment_id, answer)
            except TaskError:
                return

    threads = [threading.Thread(target=work, args=(k, w), daemon=True) for k, w in enumerate(people)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():  # a timed join, so Ctrl-C reaches this thread
            t.join(0.5)
    return sum(waited) / max(1, len(people))
