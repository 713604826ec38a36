"""What the auditor narrowed the manifest viewer's grid to: the filters (vectorised over an attribute's tables,
:mod:`gtcore.viewer.table`), label-verification verdicts to filter on, and the grid's pages."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest
from gtcore.viewer.table import AttributeView

PER_PAGE = 24
LABELED_BY = ("all", "human", "machine")
ADJUSTMENT = ("all", "adjusted", "unadjusted")


@dataclass(frozen=True)
class Filters:
    """What the auditor narrowed the grid to. Every condition must hold (logical AND)."""

    classes: tuple[int, ...] = ()  # at least one label of one of these classes
    confidence_below: float | None = None  # at least one label with confidence < this
    labeled_by: str = "all"  # all | human | machine (metadata human-annotated yes/no)
    adjustment: str = "all"  # all | adjusted | unadjusted (metadata adjustment-status)
    no_labels: bool = False  # only lines with no label at all (no boxes, or attribute missing)
    text: str = ""  # case-insensitive substring of source-ref
    verification: tuple[str, ...] = ()  # (verification attribute, its class-name): lines with that verdict

    def active(self) -> bool:
        return self != Filters()


def apply_filters(view: AttributeView, f: Filters, other: AttributeView | None = None) -> np.ndarray:
    """Positions (into ``manifest.records``) of the lines that pass ``f``, in file order.

    ``other`` is the attribute shown beside ``view`` (compare mode): when ``view`` has no
    adjustment status (an original job), the adjustment filter uses the other's (its adjustment).
    """
    img, lab = view.images, view.labels
    keep = np.ones(len(img), dtype=bool)
    if f.classes:
        hit = lab.loc[lab["class_id"].isin(list(f.classes)), "pos"].to_numpy()
        keep &= np.isin(np.arange(len(img)), hit)
    if f.confidence_below is not None:
        hit = lab.loc[lab["confidence"] < f.confidence_below, "pos"].to_numpy()
        keep &= np.isin(np.arange(len(img)), hit)
    if f.labeled_by in ("human", "machine"):
        keep &= (img["human_annotated"] == ("yes" if f.labeled_by == "human" else "no")).to_numpy()
    if f.adjustment in ("adjusted", "unadjusted"):
        status = img["adjustment_status"]
        if other is not None and not (status != "").any():
            status = other.images["adjustment_status"]
        keep &= (status == f.adjustment).to_numpy()
    if f.no_labels:
        keep &= (img["labels"] == 0).to_numpy()
    if f.text.strip():
        keep &= img["source_ref"].str.contains(f.text.strip(), case=False, regex=False).to_numpy()
    if f.verification:
        keep &= verdicts(view.manifest, f.verification[0]) == f.verification[1]
    return np.flatnonzero(keep)


def verdict_column(records: Any, name: str) -> list[str]:
    """Each line's verdict (metadata ``class-name``) of the label-verification attribute ``name``; "" if none."""
    key = name + aug.META_SUFFIX
    return [m["class-name"] if isinstance(m := r.get(key), dict) and isinstance(m.get("class-name"), str) else ""
            for r in records]  # fmt: skip


def verdicts(manifest: AugmentedManifest, name: str) -> np.ndarray:
    """:func:`verdict_column` over the whole manifest as an array, read once (an index stores it ready)."""
    key = ("verdicts", name)
    if key not in manifest.cache:
        manifest.cache[key] = np.asarray(verdict_column(manifest.records, name), dtype=object)
    out: np.ndarray = manifest.cache[key]
    return out


def verification_choices(manifest: AugmentedManifest) -> list[tuple[str, str]]:
    """``[(verification attribute, verdict)]`` found in the file (label-verification attributes' class-names)."""
    out: set[tuple[str, str]] = set()
    for a in manifest.attributes:
        if a.type == aug.LABEL_VERIFICATION:
            out.update((a.name, v) for v in set(verdicts(manifest, a.name).tolist()) if v)
    return sorted(out)


def page_count(total: int, per_page: int = PER_PAGE) -> int:
    return max(1, math.ceil(total / per_page))


def page_of(positions: np.ndarray, page: int, per_page: int = PER_PAGE) -> list[int]:
    """The positions on 1-based ``page`` (clamped into range)."""
    page = min(max(1, page), page_count(len(positions), per_page))
    return [int(p) for p in positions[(page - 1) * per_page : page * per_page]]
