"""Simulated annotators for the bench and the end-to-end tests: real workers answering through the real queue
(``claim_next`` / ``submit``) from a truth file, with a given error rate.

Truth: ``{"<image file name>": "<label>"}`` (classification), ``{"<file name>": [{"label","left","top","width",
"height"}]}`` (boxes) or ``{"<file name>": {"mask": "<path of a PNG of class indices>"}}`` (semantic
segmentation: the answer is that mask painted in the job's colours). A wrong classification answer is another
label, picked at random; a wrong box answer drops one box or moves it by half its size (within the image); a
wrong mask is shifted by 4 pixels right and down.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.colors import semseg_colors
from gtcore.core.errors import TaskError
from gtcore.output.mask_png import encode_palette_png
from gtcore.queue import api as queue


def mask_answer(classes: Any, labels: Sequence[str]) -> dict:
    """A ``crowd-semantic-segmentation`` answer painting ``classes`` (H x W class indices) in the job's colours."""
    colors = semseg_colors(list(labels))
    png = base64.b64encode(encode_palette_png(classes, colors)).decode()
    return {
        "crowd-semantic-segmentation": {
            "labeledImage": {"pngImageData": png},
            "labelMappings": {name: {"color": colors[i + 1]} for i, name in enumerate(labels)},
            "inputImageProperties": {"height": int(classes.shape[0]), "width": int(classes.shape[1])},
        }
    }


def answer_for(truth: Any, labels: Sequence[str], error_rate: float, rng: random.Random, size: tuple[int, int]) -> dict:
    if isinstance(truth, Mapping):
        import numpy as np
        from PIL import Image

        with Image.open(str(truth["mask"])) as im:
            classes = np.array(im, dtype=np.uint8)
        if rng.random() < error_rate:
            classes = np.pad(classes, ((4, 0), (4, 0)))[: classes.shape[0], : classes.shape[1]]
        return mask_answer(classes, labels)
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
