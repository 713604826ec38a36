"""Benchmark: scale-out as the deployment kit deploys it, with 1, 2 and 4 ``gtcore worker`` processes in one run.

    python bench/bench_scaleout.py [--objects 300] [--needed 2] [--annotators 4] [--workers 1 2 4] [--kill]

Plain processes on this machine (``tests/scaleout.py``): PostgreSQL (``GT_TEST_PG_URL``, a fresh schema), moto's S3
server, ``gtcore migrate`` once, two ``streamlit run app.py`` servers, then for each worker count a fresh BoundingBox
job over real PNGs with its output in the bucket, ``--annotators`` annotator processes claiming and submitting
through gtcore calls on the shared database and store (not through the servers' websockets: see tests/scaleout.py),
and that many ``gtcore worker`` processes. ``--kill`` SIGKILLs one worker at 40 % of the answers (the app server
kill is in tests/test_scaleout.py, where a browser uses it).

Printed per worker count: claim+submit pairs/s over all annotators (first claim to last acknowledged submit), the time
from the last acknowledged answer to ``output.manifest`` in the bucket, the worker-response file writes (S3 versions;
each file should be written once: issue 28's defect makes each worker write each file), and the problems the
verification found (none expected but issue 28's). The load average is printed with each row.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.scaleout import prepare_job, run_annotators, start_cluster, verify, wait_job_final  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=300)
    ap.add_argument("--needed", type=int, default=2)
    ap.add_argument("--annotators", type=int, default=4)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--kill", action="store_true", help="SIGKILL one worker at 40 %% of the answers")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    print(f"# {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f} at start; {args.objects} objects x "
          f"{args.needed} answers, {args.annotators} annotator processes, 2 app servers, "
          "PostgreSQL + moto S3")  # fmt: skip
    cluster = start_cluster(root / "cluster", workers=0)
    rows = []
    try:
        for n in args.workers:
            cluster.start_workers(n)
            job = prepare_job(cluster, objects=args.objects, needed=args.needed, annotators=args.annotators)
            killed: list[int] = []

            def on_progress(
                submitted: int, job_total: int = args.objects * args.needed, killed: list[int] = killed
            ) -> None:
                if args.kill and not killed and len(cluster.workers) > 1 and submitted >= 0.4 * job_total:
                    killed.append(submitted)
                    cluster.kill_worker(0)

            load = os.getloadavg()[0]
            run = run_annotators(cluster, job, on_progress=on_progress, deadline=900)
            status = wait_job_final(cluster, job.job_id, timeout=600)
            result = verify(cluster, job, run)
            rows.append((n, run, result, status, load, os.getloadavg()[0]))
            finish = run.finish_seconds
            print(
                f"workers={n}: {run.pairs} pairs, {run.throughput:.1f} pairs/s, last answer -> output.manifest "
                f"{'n/a' if finish is None else f'{finish:.2f} s'}, worker-response writes "
                f"{result['response_writes']} for {result['response_files']} files, job {status}, "
                f"problems {len(result['problems'])}{' ' + str(result['problems'][:3]) if result['problems'] else ''}, "
                f"load {load:.1f} -> {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            cluster.stop_workers()
            time.sleep(1)
    finally:
        cluster.stop()
    print()
    print("| gtcore workers | claim+submit pairs/s | last answer -> output.manifest | worker-response writes / files "
          "| problems | load (start -> end) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for n, run, result, _status, l0, l1 in rows:
        fin = "n/a" if run.finish_seconds is None else f"{run.finish_seconds:.2f} s"
        print(f"| {n} | {run.throughput:.1f} | {fin} | {result['response_writes']} / {result['response_files']} | "
              f"{len(result['problems'])} | {l0:.1f} -> {l1:.1f} |")  # fmt: skip
    return 0 if all(not r[2]["problems"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
