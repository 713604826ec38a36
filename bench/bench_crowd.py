"""Benchmark: accuracy of our Dawid-Skene EM vs majority vote on synthetic crowds with known truth.

    python bench/bench_crowd.py [--items 3000] [--seeds 1 2 3 4 5] [--classes 4] [--per-item 3]

Each scenario draws a pool of simulated workers with a given accuracy (a wrong answer is a uniformly
random other class), gives every item ``--per-item`` distinct workers at random, then compares the
share of items whose consolidated label equals the truth. Majority vote breaks ties deterministically
(lowest class index), like ``gtcore.consolidation.classification.majority_vote``; a random tie-break is shown too.
Our EM must be at least as good as majority vote on average over the seeds of each scenario (single
rows may differ by a few items when all workers are equally good: then both only break 1-1-1 ties).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.consolidation.classification import dawid_skene, majority_vote  # noqa: E402

SCENARIOS: dict[str, list[float]] = {
    "mixed (0.95..0.25)": [0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.25],
    "two good, one always wrong": [0.85, 0.8, 0.0],
    "mostly good, few spammers": [0.9] * 8 + [0.25, 0.25],
    "uniform 0.7": [0.7] * 10,
}


def simulate(seed: int, accuracies: list[float], n_items: int, k: int, per_item: int) -> tuple[list[int], list]:
    rng = random.Random(seed)
    workers = [f"w{i}" for i in range(len(accuracies))]
    truth = [rng.randrange(k) for _ in range(n_items)]
    items = []
    for t in truth:
        votes = []
        for w in rng.sample(range(len(workers)), min(per_item, len(workers))):
            c = t if rng.random() < accuracies[w] else rng.choice([x for x in range(k) if x != t])
            votes.append((workers[w], c))
        items.append(votes)
    return truth, items


def random_tie_mv(items: list, k: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    out = []
    for votes in items:
        counts = [0] * k
        for _w, c in votes:
            counts[c] += 1
        best = max(counts)
        out.append(rng.choice([c for c in range(k) if counts[c] == best]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=3000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--per-item", type=int, default=3)
    args = ap.parse_args()
    k = args.classes
    print(f"{args.items} items, {k} classes, {args.per_item} workers per item")
    print(f"{'scenario':28} {'seed':>4} {'MV(low)':>8} {'MV(rand)':>8} {'EM':>8} {'EM-MV':>7} {'EM s':>6}")
    worse_rows = 0
    worse_scenarios = []
    for name, accs in SCENARIOS.items():
        sums = [0.0, 0.0]
        for seed in args.seeds:
            truth, items = simulate(seed, accs, args.items, k, args.per_item)
            mv = majority_vote(items, k)
            t0 = time.perf_counter()
            em = dawid_skene(items, k)
            secs = time.perf_counter() - t0
            acc_mv = sum(r.label == t for r, t in zip(mv, truth, strict=True)) / len(truth)
            acc_rand = sum(c == t for c, t in zip(random_tie_mv(items, k, seed), truth, strict=True)) / len(truth)
            acc_em = sum(r.label == t for r, t in zip(em, truth, strict=True)) / len(truth)
            worse_rows += acc_em < acc_mv
            sums[0] += acc_mv
            sums[1] += acc_em
            print(
                f"{name:28} {seed:>4} {acc_mv:8.4f} {acc_rand:8.4f} {acc_em:8.4f} {acc_em - acc_mv:+7.4f} {secs:6.3f}"
            )
        n = len(args.seeds)
        print(f"{name:28} mean {sums[0] / n:8.4f} {'':8} {sums[1] / n:8.4f} {(sums[1] - sums[0]) / n:+7.4f}")
        if sums[1] < sums[0]:
            worse_scenarios.append(name)
    print(f"rows where EM < MV(low): {worse_rows} of {len(SCENARIOS) * len(args.seeds)}")
    print("EM >= MV on average in every scenario" if not worse_scenarios else f"EM < MV on average: {worse_scenarios}")
    return 1 if worse_scenarios else 0


if __name__ == "__main__":
    raise SystemExit(main())
