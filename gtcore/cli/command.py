"""The ``gtcore`` command. Each group of subcommands lives in ``gtcore.cli.<noun>``.

Exit codes: 0 success, 1 a gtcore error (message on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gtcore.core.errors import GTError

COMMAND_MODULES = ("manifest", "jobs", "workforce", "oidc", "export", "service", "worker", "quality")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gtcore",
        description="Self-hosted Ground Truth labeling: manifests, labeling jobs, workforce, exports.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"gtcore.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
