"""Process-wide resources for the pages: the Context (``gtcore.context.Context.shared``: one per GT_* environment
and working folder, with its database engine and its ``memory``, every per-process cache of gtcore)."""

from __future__ import annotations

from gtcore.context import Context


def get_context() -> Context:
    """The Context for the current environment (tests may change GT_* between runs)."""
    return Context.shared()
