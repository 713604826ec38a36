"""Subcommands of the ``gtcore`` CLI, one module per domain noun. Each exposes ``register(subparsers)``;
each command's handler is set with ``parser.set_defaults(func=handler)`` and returns an exit code."""
