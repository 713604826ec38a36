"""`gtcore maintenance`: one round of the background workers' maintenance sweep, for deployments that want it
from cron too (``gtcore worker`` and the app's embedded worker run it every 30 s by themselves).

It hands expired leases back to the pool, fails objects past the job's TaskAvailabilityLifetimeInSeconds and
jobs past Ground Truth's 30-day life, finishes jobs left Stopping, writes worker-response files the store refused
earlier and deletes old finished work items.
"""

from __future__ import annotations

import argparse
from typing import Any

from gtcore.cli.common import context, print_json
from gtcore.work.handlers import maintenance


def _maintenance(args: argparse.Namespace) -> int:
    print_json(maintenance.sweep(context()))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "maintenance",
        help="one maintenance sweep: leases, lifetimes, overdue and stopping jobs, worker-response files",
        description=__doc__,
    )
    p.set_defaults(func=_maintenance)
