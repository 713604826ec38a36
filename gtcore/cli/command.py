"""The ``gtcore`` command. Each group of subcommands lives in ``gtcore.cli.<noun>``.

Exit codes: 0 success, 1 an error (a one-line message on stderr, never a traceback: gtcore's typed errors, files
that cannot be read or written, standard input that ends early; anything else is reported as an internal error,
with the traceback only when ``GT_DEBUG=1``), 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from gtcore.core.errors import GTError

COMMAND_MODULES = ("manifest", "jobs", "workforce", "oidc", "export", "service", "worker", "quality", "apikeys")


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
    except EOFError:
        print("error: standard input ended before the command read what it needed", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception as exc:  # the last line of defence: a message, not a traceback
        if os.environ.get("GT_DEBUG") == "1":
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (set GT_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
