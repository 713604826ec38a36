"""Process-wide resources for the pages: one Context per distinct settings, cached by Streamlit."""

from __future__ import annotations

import streamlit as st

from gtcore.context import Context
from gtcore.core.settings import Settings


@st.cache_resource(show_spinner=False)
def _context_for(settings: Settings) -> Context:
    return Context.from_settings(settings)


def get_context() -> Context:
    """The Context for the current environment (tests may change GT_* between runs)."""
    return _context_for(Settings.from_env())
