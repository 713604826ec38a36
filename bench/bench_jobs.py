"""Benchmark: create a labeling job from a 100,000-line manifest, then describe it with LabelCounters.

Targets (2-core machine): create < 10 s on SQLite; describe (one GROUP BY on the (job_id, status)
index) < 50 ms. Runs on SQLite and, when reachable, PostgreSQL (env GT_TEST_PG_URL or
postgresql+psycopg://gt:gt@127.0.0.1:5432/gt_test; a fresh schema is made and dropped).

    python bench/bench_jobs.py [--lines 100000] [--repeat 20] [--s3-refs]

The manifest's source-refs are local paths under the data folder (checked one by one against the
local roots, the slower case) unless --s3-refs is given. The image files themselves are not needed:
creation does not open images.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.context import Context  # noqa: E402
from gtcore.core.access import Actor  # noqa: E402
from gtcore.core.settings import Settings  # noqa: E402
from gtcore.jobs import api as jobs  # noqa: E402
from gtcore.jobs import create as jobcreate  # noqa: E402
from gtcore.jobs import preflight  # noqa: E402
from gtcore.workforce.teams import create_team  # noqa: E402

PG_URL = os.environ.get("GT_TEST_PG_URL", "postgresql+psycopg://gt:gt@127.0.0.1:5432/gt_test")


def _files(root: Path, n: int, s3_refs: bool) -> dict[str, str]:
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    manifest = root / "input.manifest"
    with manifest.open("w", encoding="utf-8") as fh:
        for i in range(n):
            ref = f"s3://bench-bucket/images/img_{i:06d}.jpg" if s3_refs else str(images / f"img_{i:06d}.jpg")
            fh.write(json.dumps({"source-ref": ref, "meta": {"i": i}}, separators=(",", ":")) + "\n")
    labels = root / "labels.json"
    labels.write_text(
        json.dumps({"document-version": "2018-11-28", "labels": [{"label": x} for x in ("cat", "dog", "bird")]})
    )
    return {"manifest": str(manifest), "labels": str(labels), "output": str(root / "output")}


def _request(name: str, files: dict[str, str]) -> dict:
    return {
        "LabelingJobName": name,
        "LabelAttributeName": "animals",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": files["manifest"]}}},
        "OutputConfig": {"S3OutputPath": files["output"]},
        "LabelCategoryConfigS3Uri": files["labels"],
        "HumanTaskConfig": {
            "WorkteamArn": "bench-team",
            "PreHumanTaskLambdaArn": "arn:aws:lambda:us-east-1:432418664414:function:PRE-BoundingBox",
            "TaskTitle": "Boxes",
            "TaskDescription": "Draw boxes",
            "NumberOfHumanWorkersPerDataObject": 3,
            "TaskTimeLimitInSeconds": 300,
        },
    }


def _pg_schema_url() -> tuple[str, str] | None:
    try:
        from sqlalchemy import create_engine

        eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        schema = "bench_" + uuid.uuid4().hex[:10]
        with eng.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        eng.dispose()
    except Exception as exc:  # noqa: BLE001 - report and skip
        print(f"postgresql: skipped ({str(exc).splitlines()[0]})")
        return None
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", schema


def _drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine

    eng = create_engine(PG_URL)
    with eng.begin() as c:
        c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    eng.dispose()


def run(label: str, db_url: str | None, root: Path, files: dict[str, str], repeat: int) -> None:
    home = root / f"home-{label}"
    env = {"GT_HOME": str(home), "GT_LOCAL_ROOTS": str(root)}
    if db_url:
        env["GT_DATABASE_URL"] = db_url
    ctx = Context.from_settings(Settings.from_env(env, cwd=root))
    system = Actor.system_actor()
    create_team(ctx, system, "bench-team")
    t0 = time.perf_counter()
    plan = preflight.validate_create(ctx, _request(f"bench-{label}", files))
    t1 = time.perf_counter()
    job_id = jobcreate.insert_job(ctx, system, plan)
    create_s = time.perf_counter() - t0
    insert_s = time.perf_counter() - t1
    del plan
    summary = jobs.job_summary(ctx, system, job_id=job_id)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        d = jobs.describe_labeling_job(ctx, system, summary.name)
        times.append((time.perf_counter() - t) * 1000)
    assert d["LabelCounters"]["Unlabeled"] == summary.total_objects
    t = time.perf_counter()
    listed = jobs.list_jobs(ctx, system)
    list_ms = (time.perf_counter() - t) * 1000
    print(
        f"{label:<11} create {summary.total_objects:,} objects: {create_s:6.2f} s "
        f"(validate {create_s - insert_s:.2f} s + insert {insert_s:.2f} s)\n{'':<11} describe: median "
        f"{statistics.median(times):6.1f} ms, max {max(times):6.1f} ms over {repeat} | "
        f"list ({len(listed)} job): {list_ms:6.1f} ms"
    )
    ctx.db.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--s3-refs", action="store_true", help="source-refs are s3:// URIs instead of local paths")
    args = ap.parse_args()
    print(
        f"bench_jobs: {args.lines:,}-line manifest, source-refs {'s3://' if args.s3_refs else 'local paths'}, "
        f"{os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        root = Path(tmp).resolve()
        files = _files(root, args.lines, args.s3_refs)
        run("sqlite", None, root, files, args.repeat)
        pg = _pg_schema_url()
        if pg:
            try:
                run("postgresql", pg[0], root, files, args.repeat)
            finally:
                _drop_schema(pg[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
