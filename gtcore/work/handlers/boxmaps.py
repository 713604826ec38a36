"""Automated labeling's stored feature maps for boxes (``gtcore.autolabel.boxmaps``): ``autolabel.boxmaps``
computes a bounding-box job's backbone maps, image by image (each file written whole), for at most
``SLICE_SECONDS`` per run, then enqueues itself again until every image is done (other work runs in between; a
killed worker loses one image at most, computed again). A backbone that cannot be loaded stops it with a log
line; the training step reports the same error and the job goes on with people."""

from __future__ import annotations

import logging

from gtcore.autolabel import boxmaps
from gtcore.autolabel.features import load_image
from gtcore.autolabel.models import ModelError
from gtcore.context import Context
from gtcore.core import workqueue
from gtcore.work.registry import WorkItem, handler

log = logging.getLogger(__name__)
SLICE_SECONDS = 60.0


@handler(boxmaps.KIND, max_attempts=6, lease_seconds=300.0)
def compute_maps(ctx: Context, item: WorkItem) -> None:
    if item.job_id is None or not boxmaps.wanted(ctx, item.job_id):
        return
    try:
        done = boxmaps.run_for(ctx, item.job_id, lambda uri: load_image(ctx, uri), SLICE_SECONDS)
    except (ModelError, ImportError) as exc:
        log.warning("job %s: feature maps not computed: %s", item.job_id, exc)
        return
    if not done:
        with ctx.db.write() as conn:
            workqueue.enqueue(conn, boxmaps.KIND, job_id=item.job_id, key="more")
