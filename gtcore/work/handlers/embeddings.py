"""Automated labeling's embeddings (``gtcore.autolabel.embeddings``): ``autolabel.embed`` embeds a job's images
with the pretrained backbone, a chunk per transaction, for at most ``SLICE_SECONDS`` per run, then enqueues
itself again until every object is done (other work runs in between; a killed worker loses one chunk at most,
retried when the lease runs out). A backbone that cannot be loaded stops the embedding with a log line; the
training step reports the same error and the job goes on with people."""

from __future__ import annotations

import logging
from typing import Any

from gtcore.autolabel import embeddings
from gtcore.autolabel.features import load_image
from gtcore.autolabel.models import ModelError
from gtcore.context import Context
from gtcore.core import workqueue
from gtcore.work.registry import WorkItem, handler

log = logging.getLogger(__name__)
SLICE_SECONDS = 60.0


def run_sliced(ctx: Context, item: WorkItem, stored: Any, what: str) -> None:
    """One slice of a job's stored backbone outputs (``stored``: ``autolabel.embeddings`` or ``autolabel.boxmaps``,
    each with ``KIND``, ``wanted`` and ``run_for``), then the same work again while some object is not done."""
    if item.job_id is None or not stored.wanted(ctx, item.job_id):
        return
    try:
        done = stored.run_for(ctx, item.job_id, lambda uri: load_image(ctx, uri), SLICE_SECONDS)
    except (ModelError, ImportError) as exc:
        log.warning("job %s: %s not computed: %s", item.job_id, what, exc)
        return
    if not done:
        with ctx.db.write() as conn:
            workqueue.enqueue(conn, stored.KIND, job_id=item.job_id, key="more")


@handler(embeddings.KIND, max_attempts=6, lease_seconds=300.0)
def embed(ctx: Context, item: WorkItem) -> None:
    run_sliced(ctx, item, embeddings, "embeddings")
