"""One place that turns gtcore's typed errors into messages on a page.

Messages carry user text (e-mails, URIs, label names): they are shown literally, never as HTML or Markdown.
"""

from __future__ import annotations

import streamlit as st

from gtcore.core.errors import GTError, ValidationError
from gtcore.core.textsafe import md_escape


def show_error(exc: BaseException, *, prefix: str = "") -> None:
    """Show a GTError as a clear message (every problem of a ValidationError, as plain text)."""
    head = f"{md_escape(prefix)}: " if prefix else ""
    if isinstance(exc, ValidationError):
        count = f"{len(exc.problems)} problem(s) to fix"
        summary = (exc.summary or "").removesuffix(count).removesuffix(": ")
        what = f"{md_escape(summary)}: {count}" if summary else count
        st.error(f"{head}{what}", icon=":material/error:")
        st.code("\n".join(str(p) for p in exc.problems) or str(exc), language=None, wrap_lines=True)  # in full
    elif isinstance(exc, GTError):
        st.error(f"{head}{md_escape(exc.message)}", icon=":material/error:")
    else:
        st.error(f"{head}unexpected error: {type(exc).__name__}: {md_escape(str(exc))}", icon=":material/error:")
