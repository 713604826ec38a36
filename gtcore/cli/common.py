"""Helpers shared by the CLI command modules."""

from __future__ import annotations

import json
import sys
from typing import Any

from gtcore.context import Context
from gtcore.core.access import Actor


def context() -> Context:
    return Context.from_env()


def operator() -> Actor:
    """The CLI is run by the operator on the server: a system actor."""
    return Actor.system_actor()


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=4, default=str)
    sys.stdout.write("\n")
