"""The bare limit for ``bench_queue.py``: the same logical claim + submit with the raw driver (sqlite3 / psycopg).

On the product's own schema (tables and indexes made by ``gtcore.core.db``), one connection per process, kept
for the whole run, no SQLAlchemy, no validation, no checks:

- claim, one transaction: a conditional UPDATE picking the next open object (``taken < needed``, lowest index;
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) returning the object's line, then the assignment INSERT;
- submit, one transaction: the UPDATE of the assignment (``status = 'leased'`` guard) plus the job's counter
  (an UPDATE of the job row: the row every submit of the job touches).

SQLite runs with WAL and the ``synchronous`` level the product's engine sets (read from it by the caller) and
``BEGIN IMMEDIATE`` like the product; PostgreSQL with the server's ``synchronous_commit`` like the product.
"""

from __future__ import annotations

import time
from typing import Any

CLAIM_SQLITE = (
    "UPDATE objects SET taken = taken + 1, updated_at = ? WHERE job_id = ? AND idx = ("
    " SELECT idx FROM objects WHERE job_id = ? AND status = 'open' AND taken < needed ORDER BY idx LIMIT 1)"
    " AND taken < needed RETURNING idx, line_json, source_ref"
)
CLAIM_PG = (
    "UPDATE objects SET taken = taken + 1, updated_at = %s WHERE job_id = %s AND idx = ("
    " SELECT idx FROM objects WHERE job_id = %s AND status = 'open' AND taken < needed ORDER BY idx LIMIT 1"
    " FOR UPDATE SKIP LOCKED) AND taken < needed RETURNING idx, line_json, source_ref"
)
ANY_LEFT = "SELECT 1 FROM objects WHERE job_id = {p} AND status = 'open' AND taken < needed LIMIT 1"
INSERT = (
    "INSERT INTO assignments (job_id, object_idx, worker_id, status, accepted_at, lease_expires_at, updated_at)"
    " VALUES ({p}, {p}, {p}, 'leased', {p}, {p}, {p}) RETURNING id"
)
SUBMIT = (
    "UPDATE assignments SET status = 'submitted', submitted_at = {p}, answer_json = {p}, updated_at = {p}"
    " WHERE id = {p} AND status = 'leased'"
)
JOB_COUNTER = "UPDATE jobs SET updated_at = {p} WHERE id = {p}"


def _connect(url: str, sync: int) -> tuple[Any, bool]:
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split("///", 1)[1], timeout=30, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", f"synchronous={sync}", "foreign_keys=ON", "busy_timeout=30000"):
            conn.execute(f"PRAGMA {pragma}")
        return conn, False
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)), True


def run_bare(url: str, sync: int, job_id: int, worker: int, answer: str, start: Any, ready: Any) -> dict:
    """Claim + submit until the job has no open object left; return timings (seconds) like the product's loop."""
    conn, pg = _connect(url, sync)
    p = "%s" if pg else "?"
    claim_sql = CLAIM_PG if pg else CLAIM_SQLITE
    any_left, insert = ANY_LEFT.format(p=p), INSERT.format(p=p)
    submit, counter = SUBMIT.format(p=p), JOB_COUNTER.format(p=p)
    cur = conn.cursor()
    begin = "BEGIN" if pg else "BEGIN IMMEDIATE"
    if pg:
        conn.autocommit = True  # explicit BEGIN/COMMIT, as on SQLite: the same statements on both
    cur.execute("SELECT 1")
    cur.fetchall()
    ready.put(1)
    start.wait(300)
    claims: list[float] = []
    submits: list[float] = []
    t_start, cpu0 = time.time(), time.process_time()
    while True:
        t0 = time.perf_counter()
        now = time.time()
        cur.execute(begin)
        cur.execute(claim_sql, (now, job_id, job_id))
        obj = cur.fetchone()
        if obj is None:
            cur.execute("COMMIT")
            cur.execute(any_left, (job_id,))
            if cur.fetchone() is None:
                break
            continue  # every candidate was locked by another claim at that instant: look again
        cur.execute(insert, (job_id, obj[0], worker, now, now + 3600, now))
        aid = cur.fetchone()[0]
        cur.execute("COMMIT")
        t1 = time.perf_counter()
        now = time.time()
        cur.execute(begin)
        cur.execute(submit, (now, answer, now, aid))
        if cur.rowcount != 1:
            raise RuntimeError(f"bare submit of assignment {aid} hit {cur.rowcount} rows")
        cur.execute(counter, (now, job_id))
        cur.execute("COMMIT")
        t2 = time.perf_counter()
        claims.append(t1 - t0)
        submits.append(t2 - t1)
    result = {"start": t_start, "end": time.time(), "cpu": time.process_time() - cpu0}
    conn.close()
    return {**result, "claims": claims, "submits": submits}
