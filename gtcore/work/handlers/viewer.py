"""``viewer.index``: build the manifest viewer's index of a large manifest (:mod:`gtcore.viewer.index`), asked for
by the viewer page (payload ``{"uri": normalized URI}``), so the page never reads a large file whole itself."""

from __future__ import annotations

import logging

from gtcore.context import Context
from gtcore.core.errors import ManifestError
from gtcore.viewer import index
from gtcore.work.registry import WorkItem, handler

log = logging.getLogger(__name__)


@handler(index.WORK_KIND, max_attempts=3, lease_seconds=120.0)
def _index(ctx: Context, item: WorkItem) -> None:
    uri = ctx.storage.normalize(str(item.payload.get("uri", "")))
    if index.load_meta(ctx, uri, ctx.storage.version(uri)) is not None:  # built already by an earlier request
        return
    try:
        index.build(ctx, uri)
    except ManifestError:  # not a single readable line: the page shows why (the status file); a retry cannot help
        log.info("viewer index of %s: nothing to index", uri)
