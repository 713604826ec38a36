"""Multi-label and bounding-box parts of ``bench_crowd.py`` (simulations with known truth)."""

from __future__ import annotations

import math
import os

import numpy as np

from gtcore.consolidation.boxes import Box, consolidate_boxes, iou
from gtcore.consolidation.classification import consolidate_multilabel
from gtcore.consolidation.multilabel import multilabel_em

ML_LABELS = 6
ML_ITEMS = 10_000
ML_WORKERS = 200


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def simulate_multilabel(seed: int, n: int = ML_ITEMS, k: int = ML_LABELS, n_workers: int = ML_WORKERS):  # type: ignore[no-untyped-def]  # noqa: E501
    """Items with a set of labels (each present with p 0.25); 3 distinct workers per item (lognormal activity).

    Workers: 60 % good (say yes to a present label with p U(0.75, 0.95), to an absent one with p U(0.02, 0.08)),
    15 % mediocre (U(0.5, 0.65) / U(0.1, 0.2)), 15 % spammers (yes with p 0.3 whatever the truth), 5 % lazy
    (yes with p 0.05), 5 % adversaries (yes to an absent label with p 0.7, to a present one with p 0.2).
    """
    rng = np.random.default_rng(seed)
    kinds = rng.choice(5, size=n_workers, p=[0.6, 0.15, 0.15, 0.05, 0.05])
    which = [kinds == 0, kinds == 1, kinds == 2, kinds == 3]
    sens = np.select(which, [rng.uniform(0.75, 0.95, n_workers), rng.uniform(0.5, 0.65, n_workers), 0.3, 0.05], 0.2)
    fpr = np.select(which, [rng.uniform(0.02, 0.08, n_workers), rng.uniform(0.1, 0.2, n_workers), 0.3, 0.05], 0.7)
    truth = rng.random((n, k)) < 0.25
    weights = rng.lognormal(0, 1, n_workers)
    items = []
    for i in range(n):
        ws = rng.choice(n_workers, size=3, replace=False, p=weights / weights.sum())
        answers = []
        for w in ws:
            p = np.where(truth[i], sens[w], fpr[w])
            answers.append((int(w), [int(c) for c in np.flatnonzero(rng.random(k) < p)]))
        items.append(answers)
    return truth, items


def multilabel_part(seeds: list[int]) -> None:
    print(f"\n== multi-label: {ML_ITEMS:,} items x 3 answers, {ML_LABELS} labels, {ML_WORKERS} workers ==")
    print(f"  {'seed':>4} {'method':32} {'exact set':>9} {'label acc':>9}")
    sums: dict[str, list[float]] = {}
    for seed in seeds:
        truth, items = simulate_multilabel(seed)
        methods = {
            "agreement (any worker, GT rule)": [consolidate_multilabel([ch for _w, ch in it]).labels for it in items],
            "per-label majority (>= 2 of 3)": [
                [c for c in range(ML_LABELS) if sum(c in ch for _w, ch in it) * 2 > len(it)] for it in items
            ],
            "per-label EM (multilabel_em)": [r.labels for r in multilabel_em(items, ML_LABELS)],
        }
        for name, labels in methods.items():
            pred = np.zeros_like(truth)
            for i, ls in enumerate(labels):
                pred[i, ls] = True
            exact = float((pred == truth).all(axis=1).mean())
            lab = float((pred == truth).mean())
            sums.setdefault(name, []).extend([exact, lab])
            print(f"  {seed:>4} {name:32} {exact:9.4f} {lab:9.4f}   (load {_load()})")
    for name, v in sums.items():
        print(f"  mean {name:32} {np.mean(v[0::2]):9.4f} {np.mean(v[1::2]):9.4f}")


def _truth_boxes(rng: np.random.Generator) -> list[Box]:
    out = []
    for _ in range(rng.integers(1, 5)):
        w, h = rng.uniform(50, 300, 2)
        out.append(Box(f"c{rng.integers(3)}", float(rng.uniform(0, 1000 - w)), float(rng.uniform(0, 800 - h)),
                       float(w), float(h)))  # fmt: skip
    return out


def _worker_boxes(rng: np.random.Generator, truth: list[Box]) -> list[Box]:
    """Misses (p 0.1), edge noise (sd 3 % of the size), an outlier edge (p 0.05: 30-60 % of the size), a false box
    (p 0.15 per answer)."""
    out = []
    for b in truth:
        if rng.random() < 0.1:
            continue
        edges = [b.left, b.top, b.left + b.width, b.top + b.height]
        size = [b.width, b.height, b.width, b.height]
        edges = [e + rng.normal(0, 0.03 * s) for e, s in zip(edges, size, strict=True)]
        if rng.random() < 0.05:
            j = int(rng.integers(4))
            edges[j] += (1 if j >= 2 else -1) * rng.uniform(0.3, 0.6) * size[j]
        out.append(Box(b.label, edges[0], edges[1], max(1.0, edges[2] - edges[0]), max(1.0, edges[3] - edges[1])))
    if rng.random() < 0.15:
        out.extend(_truth_boxes(rng)[:1])
    rng.shuffle(out)  # type: ignore[arg-type]
    return out


def _score(pred: list, truth: list[Box]) -> tuple[int, int, list[float]]:
    """Greedy one-to-one matching at IoU >= 0.5, same class: (matched, predicted, IoUs of matches)."""
    cand = [
        (iou(Box(p.label, p.left, p.top, p.width, p.height), t), a, b)
        for a, p in enumerate(pred)
        for b, t in enumerate(truth)
        if p.label == t.label
    ]
    pairs = sorted(cand, reverse=True)
    used_p, used_t, ious = set(), set(), []
    for v, a, b in pairs:
        if v < 0.5:
            break
        if a not in used_p and b not in used_t:
            used_p.add(a)
            used_t.add(b)
            ious.append(v)
    return len(ious), len(pred), ious


def boxes_part(seeds: list[int], images: int = 2000) -> None:
    print(f"\n== boxes: {images:,} images per seed, 1-4 true boxes, 3 classes; misses 10 %, false box 15 % per answer, "
          "outlier edge 5 %, edge noise 3 % ==")  # fmt: skip
    print(f"  {'workers':>7} {'rule':26} {'precision':>9} {'recall':>7} {'mean IoU':>8}")
    for n in (2, 3, 5):
        rules = {"ours (default)": None, "old ceil(n/2)": max(1, math.ceil(n / 2))}
        for name, support in rules.items():
            matched = predicted = true = 0
            ious: list[float] = []
            for seed in seeds:
                rng = np.random.default_rng(seed * 7919 + n)
                for _ in range(images):
                    truth = _truth_boxes(rng)
                    answers = [_worker_boxes(rng, truth) for _ in range(n)]
                    m, p, v = _score(consolidate_boxes(answers, min_support=support), truth)
                    matched, predicted, true = matched + m, predicted + p, true + len(truth)
                    ious.extend(v)
            print(f"  {n:>7} {name:26} {matched / max(predicted, 1):9.4f} {matched / true:7.4f} {np.mean(ious):8.4f}")
