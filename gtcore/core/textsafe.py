"""Making team-lead text safe to show: Markdown that can never carry HTML.

Instructions are Markdown written by a team lead and read by every annotator. Streamlit's ``st.markdown``
does not render raw HTML unless asked to, and this module makes sure of it whatever the renderer does:
``<`` and ``>`` (and ``&``, so an entity cannot smuggle one back) become HTML entities, which the
Markdown renderer shows as the literal characters. ``<script>`` is therefore shown as the text
``<script>``; headings, lists, emphasis and links keep working. Pure functions, no Streamlit.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_TABLE = str.maketrans(_ESCAPES)
_TAG = re.compile(r"</?[A-Za-z!?]")
# every ASCII punctuation Markdown or Streamlit (":red[...]", ":icon:", "$math$") could act on
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:=^&'/%?])")
# what GFM's autolink literals would turn into links (``https://...``, ``www.x``, ``a@b.c``), whatever escapes
# stand in the middle: shown as code spans, where no rule makes a link
_LINKABLE = re.compile(r"(?i)(?:[a-z][a-z0-9+.\-]*:(?://|\\/\\/)|www\.)[^\s]*|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")


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

    Every Markdown / Streamlit-directive character is backslash-escaped, and what GFM would turn into a link
    despite escapes (``https://...``, ``www.``, e-mail addresses) is shown as a code span, so an e-mail address,
    label name, file name or URI can neither format itself nor open a link. This is THE helper for user and data
    text in every Markdown-rendering element (``st.error``, ``st.markdown``, captions, widget labels).
    ``single_line`` folds newlines into spaces.
    """
    raw = text or ""
    out, pos = [], 0
    for m in _LINKABLE.finditer(raw):
        out.append(_MD_SPECIAL.sub(r"\\\1", raw[pos : m.start()]))
        out.append(_code_span(m.group(0)))
        pos = m.end()
    out.append(_MD_SPECIAL.sub(r"\\\1", raw[pos:]))
    joined = "".join(out)
    return joined.replace("\n", " ") if single_line else joined


def _code_span(text: str) -> str:
    """``text`` as an inline code span (a fence longer than any run of backticks in it)."""
    longest = max((len(r) for r in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# --------------------------------------------------------------------------- links and images of instructions

LINK_SCHEMES = ("http", "https", "mailto")


@dataclass(frozen=True)
class InstructionImage:
    """An image of the instructions that is one of the job's own example images (the product serves it)."""

    uri: str
    alt: str


_INLINE = re.compile(
    r"(?P<bang>!?)\[(?P<text>(?:[^\[\]\\\n]|\\.)*)\]"
    r"\(\s*(?P<url>[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?P<title>\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
)
_DEFINITION = re.compile(r"^ {0,3}\[(?:[^\]\\\n]|\\.)+\]:.*$", re.MULTILINE)


def link_allowed(url: str) -> bool:
    """True for an absolute ``http``/``https`` URL with a host, or a ``mailto:`` address."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        return bool(parts.path)
    return scheme in ("http", "https") and bool(parts.netloc)


def _unescape(url: str) -> str:
    return url.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _markdown_parser() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    md.validateLink = lambda url: True  # type: ignore[method-assign] # see every link the browser's renderer could make, whatever its scheme
    return md


def _unsafe_targets(markdown: str) -> list[str]:
    """Links of ``markdown`` with a scheme other than http(s)/mailto, and every image, as a CommonMark parser
    finds them (the check behind the rewrite: what it missed is caught here)."""
    bad: list[str] = []

    def walk(tokens: Any) -> None:
        for tok in tokens:
            if tok.type == "image":
                bad.append("image " + str(tok.attrs.get("src", "")))
            elif tok.type == "link_open" and not link_allowed(_unescape(str(tok.attrs.get("href", "")))):
                bad.append("link " + str(tok.attrs.get("href", "")))
            if tok.children:
                walk(tok.children)

    walk(_markdown_parser().parse(markdown))
    return bad


def instruction_parts(text: str | None, example_uris: Collection[str] = ()) -> list[str | InstructionImage]:
    """Team-lead Markdown split for display: Markdown strings ready for ``st.markdown`` (``safe_markdown``: no
    HTML; links only ``http``, ``https`` and ``mailto``, others keep their text only; no images) and, in their
    place, the images that are the job's own example images (``example_uris``), which the product serves.
    Any other image shows as its alternative text: the annotator's browser never fetches from elsewhere.

    Reference definitions (``[x]: url``) are shown as text. Should the rewrite miss a construct, the parser
    check shows that part as literal text.
    """
    allowed = {u.strip() for u in example_uris if u}
    parts: list[str | InstructionImage] = []
    md = _DEFINITION.sub(lambda m: md_escape(m.group(0)), safe_markdown(text))
    pos = 0
    chunk: list[str] = []
    for m in _INLINE.finditer(md):
        chunk.append(md[pos : m.start()])
        pos = m.end()
        url = _unescape(m.group("url"))
        label = m.group("text")
        if m.group("bang"):
            if url in allowed:
                parts.append("".join(chunk))
                chunk = []
                parts.append(InstructionImage(url, _unescape(label)))
            else:
                chunk.append(md_escape(f"[image not shown: {_unescape(label) or 'no description'}]"))
        elif link_allowed(url):
            chunk.append(m.group(0))
        else:
            chunk.append(md_escape(_unescape(label)))
    chunk.append(md[pos:])
    parts.append("".join(chunk))
    out: list[str | InstructionImage] = []
    for part in parts:
        if isinstance(part, str):
            if not part.strip():
                continue
            if _unsafe_targets(part):
                part = md_escape(_unescape(part))
        out.append(part)
    return out
