"""A real text set from what installed packages ship, for the text learner's tests and bench (no download).

``docstring_set(packages)``: the first paragraph of every function and class docstring in the packages' source
files (read with ``ast``, never imported), labeled with the package it comes from: people's writing about numpy,
scipy, pandas, SQLAlchemy... Deduplicated (a text that two packages share is dropped), at least ``min_chars``
long, in a fixed order (files sorted), so the same installed versions give the same set.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

DEFAULT_PACKAGES = ("numpy", "scipy", "pandas", "sqlalchemy", "sklearn", "PIL", "botocore", "streamlit")


def package_folder(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _first_paragraph(doc: str) -> str:
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


def docstring_set(
    packages: tuple[str, ...] = DEFAULT_PACKAGES, *, min_chars: int = 40, per_package: int | None = None
) -> list[tuple[str, str]]:
    """``[(text, package)]`` (see the module docstring); packages not installed are skipped."""
    seen: dict[str, str | None] = {}
    order: list[str] = []
    for name in packages:
        folder = package_folder(name)
        if folder is None:
            continue
        taken = 0
        for path in sorted(folder.rglob("*.py")):
            if "tests" in path.parts or (per_package is not None and taken >= per_package):
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    continue
                doc = ast.get_docstring(node)
                text = _first_paragraph(doc) if doc else ""
                if len(text) < min_chars or len(text) > 2000:
                    continue
                if text in seen:
                    if seen[text] != name:
                        seen[text] = None  # shared by two packages: no single true label
                    continue
                seen[text] = name
                order.append(text)
                taken += 1
                if per_package is not None and taken >= per_package:
                    break
    return [(t, str(seen[t])) for t in order if seen[t] is not None]
