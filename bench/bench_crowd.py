"""Benchmark: consolidation quality and speed on the hard simulated crowd of issue 17, side by side with
crowd-kit 1.4.2 (``pip install -e .[bench]``) and the oracle.

    python bench/bench_crowd.py [--sizes 100000 10000] [--seeds 1 2 3] [--part single multilabel boxes]
                                [--wawa-python /tmp/ck-venv/bin/python]

single: the crowd of ``bench/crowd_sim.py`` (10 classes, 3 answers per item, 500 workers with lognormal activity;
50 % good workers with look-alike errors, 20 % mediocre, 15 % uniform spammers, 5 % constant spammers, 10 %
adversaries). Prints, per size and seed and as the mean over seeds, accuracy, wall and CPU time of our majority vote
(the list API the product calls, and the array core, comparable to crowd-kit's DataFrame input),
Ground Truth's published modified Dawid-Skene (``gt_mds``), our hierarchical EM (``dawid_skene`` on lists and
``em.fit`` on arrays), the same
with 2 % gold items (accuracy on the other 98 %, against the EM without gold on the same items), crowd-kit's
MajorityVote, Wawa and DawidSkene (``n_iter=100``), and the oracle (true matrices); then the expected
calibration error (10 bins) of the posteriors and of the confidence we write (rounded, capped at 0.95).
crowd-kit's Wawa fails with scikit-learn >= 1.6 (``__sklearn_tags__``): the bench prints the reason and, with
``--wawa-python``, runs it in that interpreter (a venv with scikit-learn < 1.6 and crowd-kit 1.4.2).

multilabel: 6 labels, per-label agreement (Ground Truth's rule, our output before issue 17), per-label
majority and the per-label EM (``gtcore.consolidation.multilabel``); exact-set accuracy and label accuracy.

boxes: simulated box answers (misses, false boxes, outlier edges, edge noise) for 2, 3 and 5 workers;
precision, recall and mean IoU against the true boxes for the support rule we ship and the old ``ceil(n/2)``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import crowd_sim as cs  # noqa: E402
from bench_crowd_parts import boxes_part, multilabel_part  # noqa: E402

from gtcore.consolidation import em  # noqa: E402
from gtcore.consolidation.classification import dawid_skene, majority_vote, majority_vote_arrays  # noqa: E402
from gtcore.consolidation.gt_mds import modified_dawid_skene  # noqa: E402

_WAWA = """
import sys, time, numpy as np, pandas as pd
from crowdkit.aggregation import Wawa
d = np.load(sys.argv[1])
df = pd.DataFrame({"task": d["item"], "worker": d["worker"], "label": d["label"]})
t = time.perf_counter(); r = Wawa().fit_predict(df); dt = time.perf_counter() - t
np.save(sys.argv[2], r.reindex(range(int(d["n"]))).to_numpy())
print(dt)
"""


def ece(conf: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(right[m].mean() - conf[m].mean())
    return total / len(conf)


CPU: dict[str, float] = {}


def timed(fn, name: str = ""):  # type: ignore[no-untyped-def]
    """(result, wall seconds); the CPU seconds of the call go to ``CPU[name]``."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    CPU[name] = time.process_time() - c
    return out, time.perf_counter() - t


def crowdkit_runs(c: cs.Crowd, n: int, wawa_python: str | None) -> dict[str, tuple[float | None, float, str]]:
    """{method: (accuracy or None, seconds, note)} for crowd-kit's methods."""
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene, MajorityVote, Wawa
    except ImportError as exc:
        return {"crowd-kit": (None, 0.0, f"not installed ({exc}); pip install -e .[bench]")}
    df = pd.DataFrame({"task": c.item, "worker": c.worker, "label": c.label})
    out: dict[str, tuple[float | None, float, str]] = {}

    def acc(series) -> float:  # type: ignore[no-untyped-def]
        return float((series.reindex(range(n)).to_numpy() == c.truth).mean())

    r, dt = timed(lambda: MajorityVote().fit_predict(df), "crowd-kit MajorityVote")
    out["crowd-kit MajorityVote"] = (acc(r), dt, "")
    try:
        r, dt = timed(lambda: Wawa().fit_predict(df), "crowd-kit Wawa")
        out["crowd-kit Wawa"] = (acc(r), dt, "")
    except AttributeError as exc:
        note = f"skipped here: {str(exc).split('.')[0]} (crowd-kit 1.4.2 needs scikit-learn < 1.6)"
        if wawa_python:
            with tempfile.TemporaryDirectory() as tmp:
                data, res = os.path.join(tmp, "d.npz"), os.path.join(tmp, "r.npy")
                np.savez(data, item=c.item, worker=c.worker, label=c.label, n=n)
                p = subprocess.run([wawa_python, "-c", _WAWA, data, res], capture_output=True, text=True)
                if p.returncode == 0:
                    pred = np.load(res, allow_pickle=False)
                    out["crowd-kit Wawa"] = (float((pred == c.truth).mean()), float(p.stdout.split()[-1]),
                                             f"run by {wawa_python}")  # fmt: skip
                else:
                    out["crowd-kit Wawa"] = (None, 0.0, note + "; --wawa-python failed: " + p.stderr[-200:])
        else:
            out["crowd-kit Wawa"] = (None, 0.0, note + "; pass --wawa-python to run it in a venv")
    r, dt = timed(lambda: DawidSkene(n_iter=100).fit_predict(df), "crowd-kit DawidSkene")
    out["crowd-kit DawidSkene"] = (acc(r), dt, "")
    return out


def single_part(sizes: list[int], seeds: list[int], wawa_python: str | None) -> None:
    for n in sizes:
        print(f"\n== single label: {n:,} items x {cs.PER_ITEM} answers, {cs.K} classes, {cs.N_WORKERS} workers ==")
        table: dict[str, list[tuple[float | None, float]]] = {}
        cpu: dict[str, list[float]] = {}
        notes: dict[str, str] = {}
        eces: dict[str, list[float]] = {}
        for seed in seeds:
            c = cs.simulate(seed, n)
            items = c.votes()
            rows: dict[str, tuple[float | None, float]] = {}
            mv, dt = timed(lambda items=items: majority_vote(items, cs.K), "ours majority_vote (lists)")
            rows["ours majority_vote (lists)"] = (float(np.mean([r.label for r in mv] == c.truth)), dt)
            (mvl, _mvc), dt = timed(
                lambda c=c, n=n: majority_vote_arrays(c.item, c.label, n, cs.K), "ours majority_vote_arrays"
            )
            rows["ours majority_vote_arrays"] = (float((mvl == c.truth).mean()), dt)
            post, dt = timed(lambda items=items: modified_dawid_skene(items, cs.K), "Ground Truth modified DS (gt_mds)")
            rows["Ground Truth modified DS (gt_mds)"] = (float((post.argmax(1) == c.truth).mean()), dt)
            eces.setdefault("Ground Truth modified DS, max posterior", []).append(
                ece(post.max(1), post.argmax(1) == c.truth)
            )
            ours, dt = timed(lambda items=items: dawid_skene(items, cs.K), "ours dawid_skene (lists)")
            lab = np.array([r.label for r in ours])
            rows["ours dawid_skene (lists)"] = (float((lab == c.truth).mean()), dt)
            fit, dt = timed(
                lambda c=c, n=n: em.fit(c.item, c.worker, c.label, n, cs.N_WORKERS, cs.K), "ours em.fit (arrays)"
            )
            rows["ours em.fit (arrays)"] = (float((fit.posterior.argmax(1) == c.truth).mean()), dt)
            raw = np.array([max(r.posterior) for r in ours])
            eces.setdefault("ours, max posterior", []).append(ece(raw, lab == c.truth))
            eces.setdefault("ours, output confidence (rounded, cap 0.95)", []).append(
                ece(np.array([float(r.confidence) for r in ours]), lab == c.truth)
            )
            rng = np.random.default_rng(seed + 1000)
            gold_ids = rng.permutation(n)[: n // 50]
            rest = np.ones(n, dtype=bool)
            rest[gold_ids] = False
            gold = {int(i): int(c.truth[i]) for i in gold_ids}
            g, dt = timed(
                lambda items=items, gold=gold: dawid_skene(items, cs.K, gold=gold), "ours + 2% gold (on the other 98%)"
            )
            rows["ours + 2% gold (on the other 98%)"] = (
                float((np.array([r.label for r in g]) == c.truth)[rest].mean()),
                dt,
            )
            rows["ours without gold (same 98%)"] = (float((lab == c.truth)[rest].mean()), 0.0)
            for name, (a, secs, note) in crowdkit_runs(c, n, wawa_python).items():
                rows[name] = (a, secs)
                if note:
                    notes[name] = note
            orc = cs.oracle(c)
            rows["oracle (true matrices)"] = (float((orc.argmax(1) == c.truth).mean()), 0.0)
            eces.setdefault("oracle, max posterior", []).append(ece(orc.max(1), orc.argmax(1) == c.truth))
            load = os.getloadavg()
            print(f"seed {seed} (load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f})")
            for name, (a, secs) in rows.items():
                table.setdefault(name, []).append((a, secs))
                c_s = CPU.pop(name, None)
                if c_s is not None:
                    cpu.setdefault(name, []).append(c_s)
                extra = "" if c_s is None else f" wall, {c_s:6.2f} s CPU"
                print(f"  {name:40} {'-' if a is None else f'{a:.4f}':>8} {secs:8.2f} s{extra}")
        print(f"mean over seeds {seeds}:")
        for name, vals in table.items():
            accs = [a for a, _ in vals if a is not None]
            mean = f"{np.mean(accs):.4f}" if len(accs) == len(vals) else "-"
            c_s = f" wall, {np.mean(cpu[name]):6.2f} s CPU" if cpu.get(name) else ""
            print(f"  {name:40} {mean:>8} {np.mean([s for _, s in vals]):8.2f} s{c_s}  {notes.get(name, '')}")
        print("expected calibration error (10 bins), mean over seeds:")
        for name, vals in eces.items():
            print(f"  {name:48} {np.mean(vals):.4f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 10_000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--part", nargs="+", default=["single", "multilabel", "boxes"])
    ap.add_argument("--wawa-python", default=os.environ.get("GT_BENCH_WAWA_PYTHON"))
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if "single" in args.part:
        single_part(args.sizes, args.seeds, args.wawa_python)
    if "multilabel" in args.part:
        multilabel_part(args.seeds)
    if "boxes" in args.part:
        boxes_part(args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
