"""Automated labeling's stored block-10 maps for the classification map head (``gtcore.autolabel.clsmaps``):
``autolabel.clsmaps`` computes a job's missing maps for at most ``SLICE_SECONDS`` per run, then enqueues itself
again until every image has them (a killed worker loses one image at most, computed again). A backbone that
cannot be loaded stops it with a log line; the training step reports the same error and the job goes on with
people."""

from __future__ import annotations

from gtcore.autolabel import clsmaps
from gtcore.context import Context
from gtcore.work.handlers.embeddings import run_sliced
from gtcore.work.registry import WorkItem, handler


@handler(clsmaps.KIND, max_attempts=6, lease_seconds=300.0)
def compute_class_maps(ctx: Context, item: WorkItem) -> None:
    run_sliced(ctx, item, clsmaps, "block-10 maps")
