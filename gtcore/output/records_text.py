"""Output records of the text task types (groundtruth-reference.md 1.4, 1.8).

Text classification is consolidated as image classification is (the Dawid-Skene EM in ``records``); only the
``type`` and, for single-label, the metadata key order differ: the one real text-classification line known
(reference 1.4, 2019) orders them ``confidence, job-name, class-name, human-annotated, creation-date, type``,
and we write that order so such a line and ours compare byte for byte. Multi-label text uses the multi-label
image order (no real text line is known).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TEXT_SINGLE_METADATA_ORDER = ("confidence", "job-name", "class-name", "human-annotated", "creation-date", "type")


def text_single_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``meta`` (a single-label record's metadata) in the text-classification key order."""
    out = {k: meta[k] for k in TEXT_SINGLE_METADATA_ORDER if k in meta}
    out.update({k: v for k, v in meta.items() if k not in out})
    return out
