"""Benchmark: how much of a validation set the bound can machine-label when the human labels are noisy, with and
without the labels' posteriors (``bounds.noisy_lower_bound``), on simulated, known-calibrated models.

python bench/bench_noisy_bound.py [--classes 6] [--validation 300] [--error 0.15] [--workers 3] [--a 60] [--draws 20]

Each draw: ``--validation`` objects, the model's confidence ~ Beta(a, 1) and right with exactly that probability
(mean accuracy a/(a+1)); ``--workers`` simulated people answer each object, each wrong with probability ``--error``
(a uniformly chosen other class); the posterior of the consolidated label under that noise. Prints the share of
the validation set at or above the chosen threshold (what the loop would machine-label of a pool like it) with the
labels' posteriors and with the labels taken as sure, and the true accuracy above the thresholds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.autolabel import rules  # noqa: E402
from tests.fixtures.simulate import label_posterior  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", type=int, default=6)
    ap.add_argument("--validation", type=int, default=300)
    ap.add_argument("--error", type=float, default=0.15)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--a", type=float, default=60.0)
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    k, n = args.classes, args.validation
    noisy, plain, true_acc, wrong_labels = [], [], [], []
    for _ in range(args.draws):
        conf = np.clip(rng.beta(args.a, 1.0, n), 1.0 / k, 1.0)
        truth = rng.integers(0, k, n)
        right = rng.random(n) < conf
        pred = np.where(right, truth, (truth + rng.integers(1, k, n)) % k)
        agree, sure = [], []
        for i in range(n):
            ans = [
                int((truth[i] + rng.integers(1, k)) % k) if rng.random() < args.error else int(truth[i])
                for _ in range(args.workers)
            ]
            post = label_posterior(ans, k, args.error)
            agree.append(float(int(np.argmax(post)) == int(pred[i])))
            sure.append(float(np.max(post)))
            wrong_labels.append(int(np.argmax(post)) != int(truth[i]))
        th = rules.choose_threshold(conf, agree, 0.95, label_right=sure)
        noisy.append(th.covered / n)
        plain.append(rules.choose_threshold(conf, agree, 0.95).covered / n)
        if th.value is not None:
            true_acc.append(float(right[conf >= th.value].mean()))
    acc, wrong = args.a / (args.a + 1), float(np.mean(wrong_labels))
    print(f"{args.draws} draws of {n} validation objects, {k} classes, model accuracy {acc:.3f}, "
          f"{args.workers} people at error {args.error}: consolidated labels wrong {wrong:.1%}")  # fmt: skip
    print(f"covered with the labels' posteriors: {np.mean(noisy):.1%} (labels taken as sure: {np.mean(plain):.1%})")
    if true_acc:
        print(f"true accuracy at or above the threshold: mean {np.mean(true_acc):.4f}, lowest {min(true_acc):.4f}")


if __name__ == "__main__":
    main()
