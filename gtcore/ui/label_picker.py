"""The label picker: one button per label, number keys to switch, the current label in session state.

Put ``label_picker`` and ``gtcore.ui.canvas.box_canvas`` inside ONE ``st.fragment``: a click (or key
press) then reruns only that fragment, and the canvas receives the new label in the same run. A picker
in a fragment of its own would not reach a canvas outside it until the next full rerun.
"""

from __future__ import annotations

import streamlit as st

from gtcore.core.textsafe import md_escape  # noqa: F401  (re-exported for pages)

# Streamlit reserves "C" (clear cache) and "R" (rerun); digits are free and sit under the fingers.
SHORTCUT_KEYS: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0")


def shortcut_for(index: int) -> str | None:
    """The key that selects the label at ``index`` (first ten labels), else None."""
    return SHORTCUT_KEYS[index] if 0 <= index < len(SHORTCUT_KEYS) else None


def _select(state_key: str, label: str) -> None:
    st.session_state[state_key] = label


def current_label(labels: list[str], *, key: str) -> str:
    """The label selected in the picker ``key`` (the first label until one is picked)."""
    state_key = f"{key}::current"
    value = st.session_state.get(state_key)
    if value not in labels:
        value = labels[0]
        st.session_state[state_key] = value
    return value


def label_picker(labels: list[str], *, key: str, shortcuts: bool = True, per_row: int = 5) -> str:
    """Buttons to choose the current label; keys 1..9, 0 pick the first ten. Returns the current label.

    Labels are shown as plain text (Markdown escaped). The selected one is the primary button.
    """
    if not labels:
        raise ValueError("label_picker needs at least one label")
    selected = current_label(labels, key=key)
    state_key = f"{key}::current"
    for start in range(0, len(labels), per_row):
        row = labels[start : start + per_row]
        cols = st.columns(per_row)
        for offset, label in enumerate(row):
            index = start + offset
            shortcut = shortcut_for(index) if shortcuts else None
            cols[offset].button(
                md_escape(label),
                key=f"{key}::pick{index}",
                type="primary" if label == selected else "secondary",
                shortcut=shortcut,
                help=f"Key {shortcut}" if shortcut else None,
                on_click=_select,
                args=(state_key, label),
                width="stretch",
            )
    return st.session_state[state_key]
