"""Making team-lead text safe to show: Markdown that can never carry HTML.

Instructions are Markdown written by a team lead and read by every annotator. Streamlit's ``st.markdown``
does not render raw HTML unless asked to, and this module makes sure of it whatever the renderer does:
``<`` and ``>`` (and ``&``, so an entity cannot smuggle one back) become HTML entities, which the
Markdown renderer shows as the literal characters. ``<script>`` is therefore shown as the text
``<script>``; headings, lists, emphasis and links keep working. Pure functions, no Streamlit.
"""

from __future__ import annotations

import re

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_TABLE = str.maketrans(_ESCAPES)
_TAG = re.compile(r"</?[A-Za-z!?]")
# every ASCII punctuation Markdown or Streamlit (":red[...]", ":icon:", "$math$") could act on
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:=^&'/%?])")


def escape_html(text: str | None) -> str:
    """``text`` with ``&``, ``<`` and ``>`` replaced by entities (quotes are harmless outside tags)."""
    return (text or "").translate(_TABLE)


def safe_markdown(text: str | None) -> str:
    """Team-lead Markdown ready for ``st.markdown``: no tag or entity of the input reaches the page as HTML.

    A leading ``>`` of a line is kept as Markdown's block quote marker (``&gt;`` would print it), since a
    block quote cannot open a tag.
    """
    out = []
    for line in (text or "").split("\n"):
        stripped = line.lstrip(" ")
        indent = line[: len(line) - len(stripped)]
        quote = ""
        while stripped.startswith(">") and len(indent) < 4:
            quote += ">"
            stripped = stripped[1:]
            if stripped.startswith(" "):
                quote += " "
                stripped = stripped[1:]
        out.append(indent + quote + escape_html(stripped))
    return "\n".join(out)


def has_markup(text: str | None) -> bool:
    """True when ``text`` holds something that looks like an HTML tag (to tell the author it shows as text)."""
    return _TAG.search(text or "") is not None


def md_escape(text: str | None, *, single_line: bool = False) -> str:
    """User text shown literally inside a Markdown-rendering element (``st.error``, ``st.markdown``, captions).

    Every Markdown / Streamlit-directive character is backslash-escaped, so an e-mail address, label name or
    URI can neither format itself nor open a link. ``single_line`` folds newlines into spaces.
    """
    out = _MD_SPECIAL.sub(r"\\\1", text or "")
    return out.replace("\n", " ") if single_line else out
