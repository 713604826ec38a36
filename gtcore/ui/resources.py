"""Process-wide resources for the pages: one Context per distinct settings, cached by Streamlit.

``get_context`` runs several times in every page run; hashing a Settings for ``st.cache_resource`` costs
5-30 ms on a loaded machine, so the Context is first looked up by the GT_* environment and the working
folder (all that ``Settings.from_env`` reads), which costs microseconds.
"""

from __future__ import annotations

import os

import streamlit as st

from gtcore.context import Context
from gtcore.core.settings import Settings

_by_env: dict[tuple[str, tuple[tuple[str, str], ...]], Context] = {}


@st.cache_resource(show_spinner=False)
def _context_for(settings: Settings) -> Context:
    return Context.from_settings(settings)


def get_context() -> Context:
    """The Context for the current environment (tests may change GT_* between runs)."""
    key = (os.getcwd(), tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("GT_"))))
    ctx = _by_env.get(key)
    if ctx is None:
        ctx = _by_env[key] = _context_for(Settings.from_env())
    return ctx
