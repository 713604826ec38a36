"""``viewer.index``: build the manifest viewer's index of a large manifest (:mod:`gtcore.viewer.index`), asked for
by the viewer page (payload ``{"uri": normalized URI}``), so the page never reads a large file whole itself."""

from __future__ import annotations

from gtcore.context import Context
from gtcore.viewer import index
from gtcore.work.registry import WorkItem, handler


@handler(index.WORK_KIND, max_attempts=3, lease_seconds=120.0)
def _index(ctx: Context, item: WorkItem) -> None:
    uri = ctx.storage.normalize(str(item.payload.get("uri", "")))
    if index.load_meta(ctx, uri, ctx.storage.version(uri)) is None:  # built already by an earlier request: done
        index.build(ctx, uri)
