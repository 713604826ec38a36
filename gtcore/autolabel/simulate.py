"""Simulated annotators for the bench and the end-to-end tests: real workers answering through the real queue
(``claim_next`` / ``submit``) from a truth file, with a given error rate.

Truth: ``{"<image file name>": "<label>"}`` (classification) or ``{"<file name>": [{"label","left","top","width",
"height"}]}`` (boxes). A wrong classification answer is another label, picked at random; a wrong box answer
drops one box or moves it by half its size (within the image).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import TaskError
from gtcore.queue import api as queue


def answer_for(truth: Any, labels: Sequence[str], error_rate: float, rng: random.Random, size: tuple[int, int]) -> dict:
    if isinstance(truth, str):
        label = truth
        if rng.random() < error_rate:
            label = rng.choice([x for x in labels if x != truth] or [truth])
        return {"crowd-image-classifier": {"label": label}}
    boxes = [dict(b) for b in truth]
    if boxes and rng.random() < error_rate:
        k = rng.randrange(len(boxes))
        if rng.random() < 0.5:
            boxes.pop(k)
        else:
            b = boxes[k]  # moved by half its size, kept inside the image
            b["left"] = max(0, min(b["left"] + b["width"] // 2, size[0] - b["width"]))
            b["top"] = max(0, min(b["top"] + b["height"] // 2, size[1] - b["height"]))
    return {"boundingBox": {"boundingBoxes": boxes, "inputImageProperties": {"width": size[0], "height": size[1]}}}


def annotate(
    ctx: Context,
    workers: Sequence[Actor],
    job_id: int,
    truth: Mapping[str, Any],
    labels: Sequence[str],
    *,
    error_rate: float = 0.0,
    rng: random.Random | None = None,
    limit: int | None = None,
    size: tuple[int, int] = (160, 120),
) -> int:
    """Workers take turns claiming and answering until nothing is left to claim (or ``limit`` answers)."""
    rng = rng or random.Random(0)
    done = 0
    idle: set[str] = set()
    while len(idle) < len(workers) and (limit is None or done < limit):
        for w in workers:
            if w.email in idle:
                continue
            try:
                task = queue.claim_next(ctx, w, job_id)
            except TaskError:  # the job ended (completed, stopped, failed)
                return done
            if task is None:
                idle.add(w.email)
                continue
            name = PurePosixPath(str(task.source_ref)).name
            queue.submit(ctx, w, task.assignment_id, answer_for(truth[name], labels, error_rate, rng, size))
            done += 1
    return done
