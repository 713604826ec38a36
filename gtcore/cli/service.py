"""`gtcore maintenance`: the periodic housekeeping a deployment runs from cron or a systemd timer.

It hands expired leases back to the pool, retries worker-response files the store refused earlier,
and fails jobs past Ground Truth's 30-day life. Every step is also done lazily by the app itself;
running it on a schedule keeps idle jobs tidy too.
"""

from __future__ import annotations

import argparse
from typing import Any

from gtcore.cli.common import context, operator, print_json
from gtcore.jobs import api as jobs
from gtcore.queue import api as queue


def _maintenance(args: argparse.Namespace) -> int:
    ctx = context()
    report = {
        "ExpiredLeases": queue.expire_leases(ctx),
        "WorkerResponsesWritten": queue.flush_worker_responses(ctx),
        "JobsFailedOverdue": jobs.fail_overdue_jobs(ctx, operator()),
    }
    print_json(report)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "maintenance",
        help="expire leases, retry worker-response files, fail overdue jobs (run from cron)",
        description=__doc__,
    )
    p.set_defaults(func=_maintenance)
