"""Benchmark: the cost of the private-workforce paths a page or a team lead waits on.

    python bench/bench_workforce.py [--db sqlite|postgres|both] [--rounds 50] [--leases 1000]

Printed per database:

- scrypt (n=2**14, r=8, p=1) hash and verify time: the floor of every sign-in;
- ``signin.sign_in`` end to end (throttle check, KDF, session row);
- ``workforce.actor_for_token`` (what every Streamlit rerun pays): read-only case and the case that
  also writes ``last_seen_at`` (at most every 30 s per session);
- ``invitations.invite`` of 50 addresses to the outbox (50 hashes, one transaction, 50 0600 files);
- ``roster.disable_user`` of a worker holding ``--leases`` leased tasks (sessions end, leases go back).

Figures are wall-clock on whatever machine runs it; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gtcore.context import Context  # noqa: E402
from gtcore.core import db as dbm  # noqa: E402
from gtcore.workforce import invitations, passwords, roster, signin, teams  # noqa: E402
from gtcore.workforce import users as workforce  # noqa: E402
from tests.fixtures.core import PG_URL, make_settings  # noqa: E402
from tests.fixtures.people import PASSWORD, People  # noqa: E402


def _ms(samples: list[float]) -> str:
    s = sorted(samples)
    p95 = s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]
    return f"median {statistics.median(s) * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms   (n={len(s)})"


def _time(fn: Callable[[], object], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _pg_url() -> str | None:
    import uuid

    from sqlalchemy import create_engine

    try:
        eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        schema = "bench_" + uuid.uuid4().hex[:10]
        with eng.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        eng.dispose()
    except Exception as exc:
        print(f"PostgreSQL skipped: {str(exc).splitlines()[0]}")
        return None
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def _leases(ctx: Context, team_id: int, user_id: int, n: int) -> None:
    t = dbm.now()
    with ctx.db.write() as c:
        jid = c.execute(
            dbm.jobs.insert().values(
                name="bench-job",
                name_lower="bench-job",
                arn="arn:local:bench",
                reference_code="r",
                label_attribute="bench",
                task_type="BoundingBox",
                status="InProgress",
                spec_json="{}",
                labels_json='["a"]',
                team_id=team_id,
                input_manifest_uri="file:///m",
                output_path="file:///o",
                workers_per_object=1,
                task_time_limit=300,
                availability_lifetime=3600,
                max_concurrent=n,
                total_objects=n,
                created_at=t,
                updated_at=t,
            )
        ).inserted_primary_key[0]
        c.execute(
            dbm.objects.insert(),
            [
                {"job_id": jid, "idx": i, "line_json": "{}", "needed": 1, "taken": 1, "status": "open", "updated_at": t}
                for i in range(n)
            ],
        )
        c.execute(
            dbm.assignments.insert(),
            [
                {
                    "job_id": jid,
                    "object_idx": i,
                    "worker_id": user_id,
                    "status": "leased",
                    "accepted_at": t,
                    "lease_expires_at": t + 300,
                    "updated_at": t,
                }
                for i in range(n)
            ],
        )


def run(label: str, url: str | None, rounds: int, leases: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context.from_settings(make_settings(Path(tmp), database_url=url))
        print(f"\n== {label}: {ctx.db.ping()}")
        h = passwords.hash_password(PASSWORD)
        print(f"scrypt hash                 {_ms(_time(lambda: passwords.hash_password(PASSWORD), rounds))}")
        print(f"scrypt verify               {_ms(_time(lambda: passwords.verify_password(PASSWORD, h), rounds))}")

        p = People(ctx)
        admin = p.admin()
        w = p.worker("bench-team")
        print(f"sign_in                     {_ms(_time(lambda: signin.sign_in(ctx, w.email, PASSWORD, 'b'), rounds))}")
        token = p.token(w)
        workforce.actor_for_token(ctx, token)
        print(f"actor_for_token (read)      {_ms(_time(lambda: workforce.actor_for_token(ctx, token), rounds * 4))}")
        clock = [dbm.now()]

        def touching() -> None:
            clock[0] += signin.TOUCH_SECONDS + 1
            workforce.actor_for_token(ctx, token, now=clock[0])

        print(f"actor_for_token (+write)    {_ms(_time(touching, rounds))}")

        team = teams.get_team(ctx, admin, "bench-team").id
        batches = [[f"b{r}-{i}@example.com" for i in range(50)] for r in range(3)]
        it = iter(batches)
        inv = _time(lambda: invitations.invite(ctx, admin, next(it), team), len(batches))
        print(f"invite 50 to outbox         {_ms(inv)}   ({statistics.median(inv) / 50 * 1000:.1f} ms per address)")

        victim = p.worker("bench-team")
        assert victim.user_id is not None
        _leases(ctx, team, victim.user_id, leases)
        t = time.perf_counter()
        back = roster.disable_user(ctx, admin, victim.user_id)
        print(f"disable_user ({back} leases)  {(time.perf_counter() - t) * 1000:7.2f} ms")
        ctx.db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--leases", type=int, default=1000)
    args = ap.parse_args()
    if args.db in ("sqlite", "both"):
        run("SQLite", None, args.rounds, args.leases)
    if args.db in ("postgres", "both"):
        url = _pg_url()
        if url:
            run("PostgreSQL", url, args.rounds, args.leases)


if __name__ == "__main__":
    main()
