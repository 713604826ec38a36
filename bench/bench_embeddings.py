"""The pretrained backbone's learners on an image set, without the loop: what they reach for how many human
labels, how long embedding takes, and the process's peak memory.

python bench/bench_embeddings.py DIR [--task classification|boxes|masks] [--labels 50,100,200,400,800]
                                     [--validation 300] [--seed 0]

DIR is one of the bench's sets (``make_photos.py``, ``make_letters.py``, ``make_scenes.py``, ``make_blobs.py``,
``make_shapes.py``, ``gtcore.manifests.sample_digits``): images, ``truth.json`` and (for the label order)
``labels.txt``. A fixed random ``--validation`` set is held out; for each count in ``--labels`` a learner is
trained on that many other images and scored on the validation set: accuracy (classification) or mean IoU
(boxes, masks), and ``covered@target``: the share of the validation set whose confidence is at or above the
lowest threshold at which the covered part still meets the target (0.95 accuracy, 0.6 / 0.7 mean IoU) -- the
point estimate, an upper guide to what the loop's lower-bound rule can machine-label. Prints embedding ms per
image (224 px, batches of 8) and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.autolabel import backbone as bbm  # noqa: E402
from gtcore.autolabel import learner as lrn  # noqa: E402
from gtcore.autolabel.detector import Labeled  # noqa: E402


class GreyMask:
    """A bench set's truth mask (a grey PNG of class indices), read like ``segmenter.MaskTruth``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def classes(self, n_classes: int) -> np.ndarray:
        with Image.open(self.path) as im:
            m = np.asarray(im.convert("L"), dtype=np.uint8)
        return np.where(m < n_classes, m, 0).astype(np.uint8)


TASKS = {"classification": "ImageClassification", "boxes": "BoundingBox", "masks": "SemanticSegmentation"}
TARGET = {"classification": 0.95, "boxes": 0.6, "masks": 0.7}


def covered(confs: list[float], scores: list[float], target: float) -> float:
    order = np.argsort(-np.asarray(confs))
    s = np.asarray(scores)[order]
    ok = np.flatnonzero(np.cumsum(s) / np.arange(1, len(s) + 1) >= target)
    return float((ok.max() + 1) / len(s)) if len(ok) else 0.0


def load_set(folder: Path, task: str) -> tuple[list[str], dict, list[str]]:
    truth = json.loads((folder / "truth.json").read_text())
    names = sorted(truth)
    labels_file = folder / "labels.txt"
    if labels_file.exists():
        labels = [x for x in labels_file.read_text().splitlines() if x]
    elif task == "classification":
        labels = sorted(set(truth.values()))
    else:
        labels = sorted({b["label"] for v in truth.values() for b in v})
    return names, truth, labels


def human_label(task: str, folder: Path, name: str, truth: dict, labels: list[str]) -> object:
    t = truth[name]
    if task == "classification":
        return labels.index(t)
    if task == "boxes":
        return [Labeled(labels.index(b["label"]), (b["left"], b["top"], b["width"], b["height"])) for b in t]
    mask_path = Path(t["mask"]) if Path(t["mask"]).is_absolute() else folder / t["mask"]
    return GreyMask(mask_path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--task", choices=sorted(TASKS), default="classification")
    ap.add_argument("--labels", default="50,100,200,400,800")
    ap.add_argument("--validation", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    names, truth, labels = load_set(a.folder, a.task)
    rng = random.Random(a.seed)
    rng.shuffle(names)
    val, pool = names[: a.validation], names[a.validation :]
    images: dict[str, Image.Image] = {}

    def load(uri: str) -> tuple[Image.Image, float]:
        if uri not in images:
            with Image.open(a.folder / uri) as im:
                images[uri] = im.convert("RGB")
        return images[uri], 1.0

    t0 = time.perf_counter()
    bb = bbm.load()
    print(f"backbone {bb.key} loaded in {time.perf_counter() - t0:.1f} s")
    sample = [load(n)[0] for n in names[:64]]
    bb.embed(sample[:8])
    t0 = time.perf_counter()
    bb.embed(sample)
    print(f"embedding: {(time.perf_counter() - t0) / len(sample) * 1000:.0f} ms an image (224 px, batches of 8)")
    cache = lrn.embeddings.Cache(None, None, bb)
    for n in [int(x) for x in a.labels.split(",") if x]:
        if n > len(pool):
            break
        lr = lrn.Learner(TASKS[a.task], len(labels), cache=cache)
        t0 = time.perf_counter()
        lr.train([(u, human_label(a.task, a.folder, u, truth, labels)) for u in pool[:n]], load)
        fit_s = time.perf_counter() - t0
        items = [(u, human_label(a.task, a.folder, u, truth, labels)) for u in val]
        t0 = time.perf_counter()
        confs, scores, _ = lrn.validation_scores(lr, items, load)
        pred_s = time.perf_counter() - t0
        good = sum(s >= TARGET[a.task] for s in scores) / len(scores)
        cov = covered(confs, scores, TARGET[a.task])
        print(
            f"{n:5d} human labels: validation {'accuracy' if a.task == 'classification' else 'mean IoU'} "
            f"{np.mean(scores):.3f}, {good:.0%} at/above target, covered@target {cov:.0%}"
            f" (train {fit_s:.1f} s, predict {pred_s / len(val) * 1000:.0f} ms an image)"
        )
        if a.task != "classification":
            images.clear()  # bounded memory: full-size images are reread
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
