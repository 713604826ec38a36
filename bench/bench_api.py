"""Benchmark: the SageMaker API's requests per second against a bare Starlette handler doing the same database
read, in the same run, on a database of 10,000 labeling jobs.

    python bench/bench_api.py [--jobs 10000] [--seconds 10] [--clients 4] [--database-url URL | --postgres]

Builds a fresh database (SQLite by default) with ``--jobs`` jobs: one real job made by CreateLabelingJob (3
objects), copied row by row (objects included) under new names. Then, for each operation, two servers on
uvicorn (one process each, started the same way):

- ``gtcore serve-api``: the whole path (SigV4 verification with botocore, the throttle check, the key lookup and
  decryption, the role check, the model's input checks, the gtcore call, the model's output shaping);
- a bare Starlette handler calling the same gtcore function (``describe_labeling_job`` / ``list_labeling_jobs``,
  MaxResults 100, the first page) as the system actor and returning its JSON: the database read alone.

``--clients`` threads each POST the same pre-signed request (a SigV4 signature stays valid for 15 minutes, as on
AWS) over a kept-alive connection, ``--seconds`` seconds per server in ``--rounds`` interleaved rounds. Printed:
the median requests/s of each server and the ratio API / bare, with the load average. Clients and servers share
the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from gtcore.context import Context  # noqa: E402
from gtcore.core import db as dbm  # noqa: E402
from gtcore.workforce import access_keys  # noqa: E402
from tests.api_world import ApiWorld  # noqa: E402
from tests.browser import free_port, wait_until  # noqa: E402


def bare_app() -> Any:
    """The baseline: the same gtcore reads behind a bare Starlette handler (no signature, no model)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from gtcore.core.access import Actor
    from gtcore.jobs import api as jobs

    ctx = Context.from_env()
    system = Actor.system_actor()

    def read(target: str, body: dict[str, Any]) -> bytes:
        if target.endswith("DescribeLabelingJob"):
            out = jobs.describe_labeling_job(ctx, system, body["LabelingJobName"])
        else:
            out = jobs.list_labeling_jobs(ctx, system, max_results=body.get("MaxResults", 100))
        return json.dumps(out, default=str).encode()

    async def endpoint(request: Request) -> Response:
        body = json.loads(await request.body())
        data = await run_in_threadpool(read, request.headers.get("x-amz-target", ""), body)
        return Response(data, media_type="application/x-amz-json-1.1")

    return Starlette(routes=[Route("/", endpoint, methods=["POST"])])


def build(world: ApiWorld, n_jobs: int) -> str:
    """One real job, then ``n_jobs - 1`` copies of its rows; returns a name in the middle."""
    from gtcore.jobs import api as jobs

    jobs.create_labeling_job(world.ctx, world.admin, world.documented_request("bench-00000"))
    j, o = dbm.jobs, dbm.objects
    with world.ctx.db.write() as conn:
        job = conn.execute(select(j)).one()._asdict()
        objs = [r._asdict() for r in conn.execute(select(o).where(o.c.job_id == job["id"]))]
        t0 = job["created_at"]
        for start in range(1, n_jobs, 1000):
            rows, obj_rows = [], []
            for i in range(start, min(n_jobs, start + 1000)):
                name = f"bench-{i:05d}"
                rows.append(
                    {**job, "id": job["id"] + i, "name": name, "name_lower": name, "created_at": t0 + i * 0.001}
                    | {"arn": job["arn"].replace("bench-00000", name), "updated_at": t0 + i * 0.001}
                )
                obj_rows += [{**x, "job_id": job["id"] + i} for x in objs]
            conn.execute(j.insert(), rows)
            conn.execute(o.insert(), obj_rows)
    return f"bench-{n_jobs // 2:05d}"


@contextlib.contextmanager
def server(cmd: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import socket

        def up() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        wait_until(up, timeout=60, what=" ".join(cmd))
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def presigned(url: str, key: Any, target: str, body: bytes) -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(key.key_id, key.secret), "sagemaker", "local").add_auth(req)
    return dict(req.headers.items())


def hammer(url: str, headers: dict[str, str], body: bytes, seconds: float, clients: int) -> float:
    import requests

    counts = [0] * clients
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        with requests.Session() as s:
            while time.monotonic() < stop:
                r = s.post(url + "/", data=body, headers=headers, timeout=60)
                if r.status_code != 200:
                    errors.append(r.text[:200])
                    return
                counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{url}: {errors[0]}")
    return sum(counts) / (time.monotonic() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per server (medians printed)")
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    ap.add_argument("--postgres", action="store_true", help="a fresh schema on GT_TEST_PG_URL's PostgreSQL")
    args = ap.parse_args()
    if args.postgres:
        from tests.fixtures.core import pg_schema_url

        args.database_url = pg_schema_url("bench_api_")[0]

    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    world = ApiWorld.create(tmp, args.database_url)
    t = time.monotonic()
    name = build(world, args.jobs)
    print(
        f"database: {world.ctx.settings.database_url.split('?')[0]}, {args.jobs} jobs in {time.monotonic() - t:.1f} s"
    )
    env = {**os.environ, **world.env, "PYTHONPATH": str(ROOT)}
    api_port, bare_port = free_port(), free_port()
    api_cmd = [sys.executable, "-m", "gtcore.cli.command", "serve-api", "--port", str(api_port), "--log-level", "error"]
    bare_cmd = [sys.executable, "-m", "uvicorn", "bench.bench_api:bare_app", "--factory", "--port", str(bare_port)]
    bare_cmd += ["--log-level", "error", "--no-access-log"]
    operations = [
        ("DescribeLabelingJob", {"LabelingJobName": name}),
        ("ListLabelingJobs", {"MaxResults": 100}),
    ]
    with server(api_cmd, env, api_port) as api_url, server(bare_cmd, env, bare_port) as bare_url:
        key = world.admin_key
        for op, params in operations:
            body = json.dumps(params).encode()
            target = f"SageMaker.{op}"
            api_headers = presigned(api_url, key, target, body)
            bare_headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
            hammer(api_url, api_headers, body, 2.0, args.clients)  # warm up both
            hammer(bare_url, bare_headers, body, 2.0, args.clients)
            load = os.getloadavg()[0]
            api_runs, bare_runs = [], []
            for _ in range(args.rounds):  # interleaved, so a change of the machine's load hits both alike
                api_runs.append(hammer(api_url, api_headers, body, args.seconds / args.rounds, args.clients))
                bare_runs.append(hammer(bare_url, bare_headers, body, args.seconds / args.rounds, args.clients))
            api_rps, bare_rps = statistics.median(api_runs), statistics.median(bare_runs)
            print(
                f"{op:22s} API {api_rps:8.1f} req/s   bare Starlette {bare_rps:8.1f} req/s   "
                f"ratio {api_rps / bare_rps:.2f}   (load {load:.1f}, {args.clients} clients, {os.cpu_count()} cores)"
            )
    _ = access_keys  # the keys the world made are the API's


if __name__ == "__main__":
    main()
