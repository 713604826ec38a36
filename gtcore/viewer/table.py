"""The manifest viewer's pure side: columnar tables, filters, statistics and paging over a parsed manifest.

A manifest is parsed once (:mod:`gtcore.manifests.augmented`); :func:`attribute_view` turns one label
attribute into two pandas tables, built once and cached on the manifest object:

- ``images``: one row per manifest line (index = position in ``manifest.records``): line number,
  source-ref, label count, human/machine, adjustment status, job name, creation date, lowest confidence;
- ``labels``: one row per box (object detection), class label (classification, multi-label) or
  mask class (semantic segmentation): position, class id and name, left/top/width/height, confidence.

Filtering (here) and statistics (:mod:`gtcore.viewer.statistics`) are vectorised over those tables (100,000
lines in milliseconds); images are never decoded for statistics. Opening files, tiles and provenance (which
read storage and check the acting user) live in :mod:`gtcore.viewer.opener`, :mod:`gtcore.viewer.tiles` and
:mod:`gtcore.viewer.provenance`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gtcore.core.colors import class_hex
from gtcore.core.gcpause import gc_paused
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute, as_class_id
from gtcore.manifests.label_values import names_from_maps

PER_PAGE = 24
LABELED_BY = ("all", "human", "machine")
ADJUSTMENT = ("all", "adjusted", "unadjusted")


@dataclass
class AttributeView:
    manifest: AugmentedManifest
    attr: LabelAttribute | None  # None: a manifest without labels (e.g. an input manifest)
    images: pd.DataFrame
    labels: pd.DataFrame
    class_names: dict[int, str]
    colors: dict[int, str] | None = None  # mask colours by class id (an index stores them; else read from lines)

    @property
    def kind(self) -> str:
        return self.attr.type if self.attr else ""

    def legend(self) -> list[tuple[int, str, str]]:
        """``[(class_id, name, hex colour)]`` for every class the attribute knows, by class id."""
        if self.kind == aug.SEMANTIC_SEGMENTATION:
            return [(cid, name, _mask_hex(self, cid)) for cid, name in self.class_names.items()]
        return [(cid, name, class_hex(cid)) for cid, name in self.class_names.items()]


def _mask_hex(view: AttributeView, cid: int) -> str:
    if view.colors is not None:
        return view.colors.get(cid) or class_hex(cid)
    for rec in view.manifest.records:
        m = aug.mask_of(rec, view.attr) if view.attr else None
        if m and cid in m.classes and m.classes[cid][1]:
            return m.classes[cid][1]
    return class_hex(cid)


_NUM = (int, float)  # exact types: bool is not a number here
_EMPTY: dict = {}  # stands for a missing objects[i] entry


def _numbers(col: pd.Series) -> np.ndarray:
    """Floats of a column read from JSON: NaN where the value was not a JSON number (strings, booleans)."""
    if col.dtype.kind in "fi":
        return col.to_numpy(dtype=np.float64)
    return np.fromiter((v if type(v) in _NUM else math.nan for v in col), np.float64, len(col))


def _od_labels(P: list[int], anns: list[Any], objs: list[Any]) -> dict[str, np.ndarray]:
    """The label columns of an object-detection attribute from every annotation of every line (gathered
    in ``_build``'s one pass), converted column by column (pandas' record reader does the per-box work)."""
    cols = ["class_id", "left", "top", "width", "height"]
    try:
        frame = pd.DataFrame.from_records(anns, columns=cols, nrows=len(anns))
        conf = pd.DataFrame.from_records(objs, columns=["confidence"], nrows=len(objs))["confidence"]
    except (TypeError, AttributeError, ValueError):  # rare: some annotations or objects are not JSON objects
        keep = [i for i, a in enumerate(anns) if type(a) is dict]
        P, anns = [P[i] for i in keep], [anns[i] for i in keep]
        objs = [objs[i] if type(objs[i]) is dict else _EMPTY for i in keep]
        frame = pd.DataFrame.from_records(anns, columns=cols, nrows=len(anns))
        conf = pd.DataFrame.from_records(objs, columns=["confidence"], nrows=len(objs))["confidence"]
    cid = frame["class_id"]
    if cid.dtype.kind == "i":
        class_ids = np.where(cid.to_numpy() >= 0, cid.to_numpy(), -1)
    else:
        class_ids = np.fromiter((as_class_id(v) for v in cid), np.int64, len(cid))
    return {
        "pos": np.asarray(P, dtype=np.int64),
        "class_id": class_ids.astype(np.int64),
        **{k: _numbers(frame[k]) for k in cols[1:]},
        "confidence": _numbers(conf),
    }


def _build(
    manifest: AugmentedManifest, attr: LabelAttribute | None, names: dict[int, str] | None = None
) -> AttributeView:
    """The view of ``attr`` over ``manifest``; ``names`` (class id -> name) when known already (a file indexed in
    chunks knows them from the whole file), else from these lines' class maps."""
    recs = manifest.records
    n = len(recs)
    src, human, adj, job, created, has = [""] * n, [""] * n, [""] * n, [""] * n, [""] * n, [False] * n
    img_w, img_h = np.full(n, np.nan), np.full(n, np.nan)
    cols: dict[str, list[Any]] = {k: [] for k in ("pos", "class_id", "left", "top", "width", "height", "confidence")}
    name = attr.name if attr else ""
    meta_key = name + aug.META_SUFFIX
    kind = attr.type if attr else ""

    order = ("pos", "class_id", "left", "top", "width", "height", "confidence")
    col_lists = tuple(cols[k] for k in order)

    def add(pos: int, cid: int, box: tuple[float, float, float, float], conf: float) -> None:
        for lst, v in zip(col_lists, (pos, cid, *box, conf), strict=True):
            lst.append(v)

    nan4 = (math.nan, math.nan, math.nan, math.nan)
    empty: dict = {}
    P: list[int] = []
    anns: list[Any] = []
    objs: list[Any] = []
    maps: dict[Any, int] = {}
    for pos, rec in enumerate(recs):
        s = rec.get("source-ref")
        if s is None:
            s = rec.get("source")
        src[pos] = s if type(s) is str else ""
        if not attr or name not in rec:
            continue
        value = rec[name]
        meta = rec.get(meta_key)
        if type(meta) is not dict:
            meta = empty
        has[pos] = True
        # inlined on purpose: this loop runs once per line (100,000 lines)
        v = meta.get("human-annotated")
        human[pos] = v if type(v) is str else ""
        v = meta.get("adjustment-status")
        adj[pos] = v if type(v) is str else ""
        v = meta.get("job-name")
        job[pos] = v if type(v) is str else ""
        v = meta.get("creation-date")
        created[pos] = v if type(v) is str else ""
        if kind == aug.OBJECT_DETECTION:
            sizes = value.get("image_size") if type(value) is dict else None
            sz = sizes[0] if type(sizes) is list and sizes else None
            if type(sz) is dict:
                w, h = sz.get("width"), sz.get("height")
                img_w[pos] = w if type(w) in _NUM else math.nan
                img_h[pos] = h if type(h) in _NUM else math.nan
            lst = value.get("annotations") if type(value) is dict else None
            if type(lst) is list and lst:
                k = len(lst)
                P.extend([pos] * k)
                anns.extend(lst)
                conf = meta.get("objects")
                objs.extend(conf if type(conf) is list and len(conf) == k else [_EMPTY] * k)
            cm = meta.get("class-map")
            if type(cm) is dict and cm:
                try:
                    items = tuple(cm.items())
                    maps[items] = maps.get(items, 0) + 1
                except TypeError:  # a name that is not hashable (a list ...) is no name
                    pass
        elif kind == aug.SEMANTIC_SEGMENTATION:
            mask = aug.mask_of(rec, name)
            for cid, (cname, _hex, conf) in mask.classes.items() if mask else []:
                if cid != 0 and cname.upper() != "BACKGROUND":
                    add(pos, cid, nan4, math.nan if conf is None else conf)
        else:
            for c in aug.classes_of(rec, name):
                add(pos, c.class_id, nan4, math.nan if c.confidence is None else c.confidence)
    if kind == aug.OBJECT_DETECTION:
        labels = pd.DataFrame(_od_labels(P, anns, objs))
    else:
        labels = pd.DataFrame(
            {
                "pos": np.asarray(cols["pos"], dtype=np.int64),
                "class_id": np.asarray(cols["class_id"], dtype=np.int64),
                **{k: np.asarray(cols[k], dtype=np.float64) for k in ("left", "top", "width", "height", "confidence")},
            }
        )
    od = kind == aug.OBJECT_DETECTION
    if names is None:
        names = names_from_maps(maps) if od else (aug.class_names(recs, attr) if attr else {})
    known = {c: class_label(c, names) for c in labels["class_id"].unique().tolist()}
    labels["class_name"] = labels["class_id"].map(known)
    labels["area"] = labels["width"] * labels["height"]
    counts = np.bincount(labels["pos"].to_numpy(), minlength=n) if n else np.zeros(0, dtype=np.int64)
    min_conf = labels.groupby("pos")["confidence"].min().reindex(range(n)).to_numpy() if n else np.zeros(0)
    images = pd.DataFrame(
        {
            "line": np.asarray(manifest.lines, dtype=np.int64),
            "source_ref": src,
            "has_label": has,
            "labels": counts,
            "human_annotated": human,
            "adjustment_status": adj,
            "job_name": job,
            "creation_date": created,
            "min_confidence": min_conf,
            "image_width": img_w,
            "image_height": img_h,
        }
    )
    return AttributeView(manifest=manifest, attr=attr, images=images, labels=labels, class_names=names)


def attribute_view(manifest: AugmentedManifest, attribute: str | LabelAttribute | None) -> AttributeView:
    """The columnar view of one attribute (``None``: images only), built once per manifest and attribute."""
    attr = manifest.attribute(attribute) if isinstance(attribute, str) else attribute
    key = ("view", attr.name if attr else None)
    if key not in manifest.cache:
        with gc_paused():
            manifest.cache[key] = _build(manifest, attr)
    view: AttributeView = manifest.cache[key]
    return view


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


def class_names_of(manifest: AugmentedManifest, attr: LabelAttribute) -> dict[int, str]:
    """Class id -> name of ``attr`` over the whole file, read once (an index stores it ready)."""
    key = ("names", attr.name)
    if key not in manifest.cache:
        manifest.cache[key] = aug.class_names(manifest.records, attr)
    names: dict[int, str] = manifest.cache[key]
    return names


def page_count(total: int, per_page: int = PER_PAGE) -> int:
    return max(1, math.ceil(total / per_page))


def page_of(positions: np.ndarray, page: int, per_page: int = PER_PAGE) -> list[int]:
    """The positions on 1-based ``page`` (clamped into range)."""
    page = min(max(1, page), page_count(len(positions), per_page))
    return [int(p) for p in positions[(page - 1) * per_page : page * per_page]]


def class_label(cid: int, names: dict[int, str]) -> str:
    """The name the label tables give class id ``cid``: its class-map name, else "class <id>" ("invalid": -1)."""
    if cid in names:
        return names[cid]
    return "invalid" if cid == -1 else f"class {cid}"


def annotations_table(view: AttributeView, pos: int) -> pd.DataFrame:
    """The labels of one line: class, left, top, width, height, confidence (as in the file)."""
    rows = view.labels[view.labels["pos"] == pos]
    return rows[["class_id", "class_name", "left", "top", "width", "height", "confidence"]].reset_index(drop=True)


def detail(view: AttributeView, pos: int) -> dict[str, Any]:
    """What the detail panel shows besides the picture: line, source-ref and the attribute's metadata."""
    rec = view.manifest.records[pos]
    meta = aug.metadata_of(rec, view.attr) if view.attr else {}
    return {"line": int(view.images.at[pos, "line"]), "source-ref": aug.source_of(rec), **meta}
