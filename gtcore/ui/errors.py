"""One place that turns gtcore's typed errors into messages on a page. Never renders HTML."""

from __future__ import annotations

import streamlit as st

from gtcore.errors import GTError, ValidationError


def show_error(exc: BaseException, *, prefix: str = "") -> None:
    """Show a GTError as a clear message (every problem of a ValidationError, as plain text)."""
    head = f"{prefix}: " if prefix else ""
    if isinstance(exc, ValidationError):
        st.error(f"{head}{len(exc.problems)} problem(s) to fix", icon=":material/error:")
        st.code("\n".join(str(p) for p in exc.problems) or str(exc), language=None)
    elif isinstance(exc, GTError):
        st.error(f"{head}{exc.message}", icon=":material/error:")
    else:
        st.error(f"{head}unexpected error: {type(exc).__name__}: {exc}", icon=":material/error:")
