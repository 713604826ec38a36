"""Automated labeling's stored feature maps for boxes (``gtcore.autolabel.boxmaps``): ``autolabel.boxmaps``
computes a bounding-box job's backbone maps, image by image (each file written whole), in slices of
``embeddings.SLICE_SECONDS``, then enqueues itself again until every image is done (``run_sliced``, the same as
the embeddings: other work runs in between; a killed worker loses one image at most, computed again). A backbone
that cannot be loaded stops it with a log line; the training step reports the same error and the job goes on with
people."""

from __future__ import annotations

from gtcore.autolabel import boxmaps
from gtcore.context import Context
from gtcore.work.handlers.embeddings import run_sliced
from gtcore.work.registry import WorkItem, handler


@handler(boxmaps.KIND, max_attempts=6, lease_seconds=300.0)
def compute_maps(ctx: Context, item: WorkItem) -> None:
    run_sliced(ctx, item, boxmaps, "feature maps")
