"""The manifest viewer's statistics: counts and chart data over an attribute's tables (:mod:`gtcore.viewer.table`),
vectorised (100,000 lines in milliseconds, no image decoded), over every line or the filtered ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gtcore.core.colors import class_hex
from gtcore.viewer.table import AttributeView, class_label


@dataclass
class Stats:
    images: int
    labeled_images: int
    unlabeled_images: int
    labels: int
    human: int
    machine: int
    adjusted: int
    unadjusted: int
    per_class: pd.DataFrame  # class_id, class_name, labels, images, color
    labels_per_image: pd.DataFrame  # labels (per image), images
    box_sizes: pd.DataFrame  # bin (sqrt of area, px), boxes
    confidence: pd.DataFrame  # bin (0.05 wide), labels


def _histogram(values: np.ndarray, bins: np.ndarray, name: str, count: str) -> pd.DataFrame:
    values = values[np.isfinite(values)]
    # evenly spaced bins given by count and range: numpy bins by arithmetic instead of sorting every value
    hist, edges = np.histogram(values, bins=len(bins) - 1, range=(float(bins[0]), float(bins[-1])))
    return pd.DataFrame({name: np.round(edges[:-1], 3), count: hist})


def _per_class(lab: pd.DataFrame, names: dict[int, str]) -> pd.DataFrame:
    """class_id, class_name, labels and images (lines with at least one such label) per class id, by class id;
    with counts and one sort (labels come in line order) instead of a pandas groupby-nunique: at 2.5 million
    labels about a second less, and no Python object a label."""
    cid = lab["class_id"].to_numpy().astype(np.int64)
    if not len(cid):
        ids = counts = images = np.zeros(0, np.int64)
    else:
        lo = int(cid.min())
        span = np.bincount(cid - lo)
        ids = np.flatnonzero(span) + lo
        counts = span[ids - lo]
        slot = np.full(len(span), -1, np.int64)
        slot[ids - lo] = np.arange(len(ids))
        key = np.sort(lab["pos"].to_numpy().astype(np.int64) * len(ids) + slot[cid - lo])
        first = np.ones(len(key), bool)
        first[1:] = key[1:] != key[:-1]
        images = np.bincount(key[first] % len(ids), minlength=len(ids))
    return pd.DataFrame({"class_id": ids, "class_name": pd.array([class_label(int(c), names) for c in ids], dtype=str),
                         "labels": counts, "images": images.astype(np.int64)})  # fmt: skip


def statistics(view: AttributeView, positions: np.ndarray | None = None) -> Stats:
    """Counts and chart data over the lines at ``positions`` (all lines when None)."""
    img, lab = view.images, view.labels
    if positions is not None:
        img = img.iloc[positions]
        lab = lab[lab["pos"].isin(positions)]
    per_class = _per_class(lab, view.class_names)
    colors = {cid: hexc for cid, _name, hexc in view.legend()}
    per_class["color"] = [colors.get(int(c), class_hex(int(c))) for c in per_class["class_id"]]
    lpi = img["labels"].value_counts().sort_index()
    sides = np.sqrt(lab["area"].clip(lower=0).to_numpy()) if len(lab) else np.zeros(0)
    finite = sides[np.isfinite(sides)]
    top = float(finite.max()) if finite.size else 1.0
    return Stats(
        images=len(img),
        labeled_images=int((img["labels"] > 0).sum()),
        unlabeled_images=int((img["labels"] == 0).sum()),
        labels=len(lab),
        human=int((img["human_annotated"] == "yes").sum()),
        machine=int((img["human_annotated"] == "no").sum()),
        adjusted=int((img["adjustment_status"] == "adjusted").sum()),
        unadjusted=int((img["adjustment_status"] == "unadjusted").sum()),
        per_class=per_class,
        labels_per_image=pd.DataFrame({"labels": lpi.index.to_numpy(), "images": lpi.to_numpy()}),
        box_sizes=_histogram(sides, np.linspace(0, max(top, 1.0), 21), "side_px", "boxes"),
        confidence=_histogram(lab["confidence"].to_numpy(), np.linspace(0, 1, 21), "confidence", "labels"),
    )
