"""`gtcore worker`: run background work (job finishing, output and worker-response files, sweeps, automated
labeling) until SIGTERM / SIGINT; run as many as wanted, on any machine sharing the database and the store.
`gtcore migrate`: bring the database schema to the newest revision (also done by every process at start).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from gtcore.cli.common import context, print_json
from gtcore.core import migrate as migrations
from gtcore.work import runner


def _worker(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx = context()
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    kinds = args.kind or None
    if args.until_idle:
        count = runner.run_until_idle(ctx, max_seconds=args.max_seconds or 3600.0, kinds=kinds)
    else:
        name = runner.worker_name()
        print(f"gtcore worker {name}: running background work (Ctrl+C or SIGTERM stops it)", file=sys.stderr)
        count = runner.run(ctx, stop, name=name, poll_seconds=args.poll_seconds, kinds=kinds)
    print(f"gtcore worker: {count} work items run", file=sys.stderr)
    ctx.db.dispose()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    ctx = context()  # opening the database migrates it; report what was there before
    with ctx.db.engine.connect() as conn:
        now = migrations.current(conn)
    print_json({"Database": ctx.db.ping(), "Revision": now, "Head": migrations.head()})
    ctx.db.dispose()
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("worker", help="run background work until stopped (as many workers as wanted)",
                       description=__doc__)  # fmt: skip
    p.add_argument("--poll-seconds", type=float, default=0.5, help="how often an idle worker looks for work")
    p.add_argument("--kind", action="append", help="run only work items of this kind (repeatable)")
    p.add_argument("--until-idle", action="store_true", help="exit once no work is due (scripts, tests)")
    p.add_argument("--max-seconds", type=float, default=None, help="with --until-idle: stop after this long")
    p.set_defaults(func=_worker)
    m = sub.add_parser("migrate", help="bring the database schema to the newest revision", description=__doc__)
    m.set_defaults(func=_migrate)
