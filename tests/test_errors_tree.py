"""Every GTError subclass in gtcore is drawn in the error tree of gtcore.core.errors' docstring."""

from __future__ import annotations

import importlib
import pkgutil

import gtcore
from gtcore.core import errors


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_every_gterror_is_in_the_tree() -> None:
    for mod in pkgutil.walk_packages(gtcore.__path__, "gtcore."):
        if mod.name.startswith(("gtcore.ui", "gtcore.core.migrations")):
            continue  # Streamlit pages' helpers and Alembic scripts define no errors
        importlib.import_module(mod.name)
    doc = errors.__doc__ or ""
    missing = sorted(c.__name__ for c in _subclasses(errors.GTError) if c.__module__.startswith("gtcore."))
    missing = [name for name in missing if name not in doc and not name.startswith("_")]
    assert not missing, f"GTError subclasses not drawn in gtcore.core.errors' tree: {missing}"
