"""The consolidation request and response files of one write (groundtruth-reference.md §2), streamed::

    annotations/consolidated-annotation/consolidation-request/iteration-1/<ts>.json    (compact JSON arrays;
    annotations/consolidated-annotation/consolidation-response/iteration-1/<ts>.json    one <ts> for both)

``ConsolidationPair`` takes the objects of one chunk at a time (``add``) and writes both arrays piece by piece
(``Storage.start_write``) from already-encoded pieces (the stored answer text, the encoded record); ``publish``
puts them under one timestamp name (``YYYY-MM-DD_HH:MM:SS.json``, never a suffix): now, or the first later
second whose name is free in both folders. Nothing is written when no object was added.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from gtcore.context import Context
from gtcore.output.records import ObjectAnswers

REQUEST_DIR = "annotations/consolidated-annotation/consolidation-request/iteration-1"
RESPONSE_DIR = "annotations/consolidated-annotation/consolidation-response/iteration-1"
_str = json.encoder.encode_basestring  # a JSON string literal, non-ASCII kept raw (like ensure_ascii=False)


def _timestamp_name(when: datetime) -> str:
    return when.strftime("%Y-%m-%d_%H:%M:%S")


def _request_item(it: ObjectAnswers) -> str:
    src = it.line.get("source-ref")
    if isinstance(src, str):
        data_object = '{"s3Uri":' + _str(src) + "}"
    else:
        data_object = '{"content":' + json.dumps(it.line.get("source"), ensure_ascii=False) + "}"
    annotations = ",".join(
        '{"workerId":'
        + _str(a.worker_id)
        + ',"annotationData":{"content":'
        + _str(a.raw or json.dumps(a.content, separators=(",", ":")))
        + "}}"
        for a in it.answers
    )
    return f'{{"datasetObjectId":"{it.idx}","dataObject":{data_object},"annotations":[{annotations}]}}'


class ConsolidationPair:
    def __init__(self, ctx: Context, folder: str) -> None:
        self.ctx = ctx
        self.req_dir = ctx.storage.join(folder, REQUEST_DIR)
        self.resp_dir = ctx.storage.join(folder, RESPONSE_DIR)
        self.request = ctx.storage.start_write(ctx.storage.join(self.req_dir, "pending.json"))
        try:
            self.response = ctx.storage.start_write(ctx.storage.join(self.resp_dir, "pending.json"))
        except BaseException:
            self.request.discard()
            raise
        self.count = 0

    def add(self, items: Sequence[ObjectAnswers], encoded: dict[int, str]) -> None:
        request, response = [], []
        for it in items:
            enc = encoded.get(it.idx)
            if enc is None:
                continue
            request.append(_request_item(it))
            response.append(f'{{"datasetObjectId":"{it.idx}","consolidatedAnnotation":{{"content":{enc}}}}}')
        if not request:
            return
        lead = "," if self.count else "["
        self.request.write((lead + ",".join(request)).encode("utf-8"))
        self.response.write((lead + ",".join(response)).encode("utf-8"))
        self.count += len(request)

    def publish(self) -> str | None:
        """Both files under one free timestamp name; returns the name (None: nothing was added)."""
        if not self.count:
            return None
        self.request.write(b"]")
        self.response.write(b"]")
        storage = self.ctx.storage
        start = datetime.now(UTC)
        for k in range(3600):
            name = _timestamp_name(start + timedelta(seconds=k)) + ".json"
            if storage.exists(storage.join(self.resp_dir, name)):
                continue
            if storage.publish_write(self.request, storage.join(self.req_dir, name), if_absent=True):
                storage.publish_write(self.response, storage.join(self.resp_dir, name))
                return name
        raise FileExistsError(f"{self.req_dir}: no free timestamp name within an hour from {start:%Y-%m-%d_%H:%M:%S}")

    def discard(self) -> None:
        self.request.discard()
        self.response.discard()
