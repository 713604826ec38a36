"""Which handler runs which kind of work item.

A handler is ``fn(ctx, item)``; it must be idempotent (a retried item does the same work again with the same
visible result) and write files atomically (store writes are tmp-then-rename). Raising means "retry later":
the runner records the error and retries with backoff; after ``max_attempts`` the item is ``failed`` with the
reason. ``lease_seconds``: how long a worker that stopped answering keeps the item before another takes it over
(the runner renews the lease while the handler runs).

``load_handlers()`` imports every module of ``gtcore.work.handlers`` (each registers its kinds with
``@handler``), so a worker process knows them all.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from gtcore.context import Context
from gtcore.core.workqueue import WorkItem

__all__ = ["Handler", "HandlerSpec", "WorkItem", "handler", "get", "load_handlers", "kinds"]

Handler = Callable[[Context, WorkItem], None]


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    fn: Handler
    max_attempts: int
    lease_seconds: float


_HANDLERS: dict[str, HandlerSpec] = {}


def handler(kind: str, *, max_attempts: int = 8, lease_seconds: float = 300.0) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of ``kind`` (one handler per kind; re-registering the same function is fine)."""
    if max_attempts < 1 or lease_seconds <= 0:
        raise ValueError("max_attempts must be >= 1 and lease_seconds > 0")

    def register(fn: Handler) -> Handler:
        old = _HANDLERS.get(kind)
        same = old is not None and (old.fn.__module__, old.fn.__qualname__) == (fn.__module__, fn.__qualname__)
        if old is not None and not same:
            raise ValueError(f"work kind {kind!r} already has a handler ({old.fn.__module__}.{old.fn.__qualname__})")
        _HANDLERS[kind] = HandlerSpec(kind, fn, max_attempts, float(lease_seconds))
        return fn

    return register


def get(kind: str) -> HandlerSpec | None:
    return _HANDLERS.get(kind)


def kinds() -> list[str]:
    return sorted(_HANDLERS)


_loaded: list[bool] = []


def load_handlers() -> dict[str, HandlerSpec]:
    """Import every handler module once; return the registry."""
    if not _loaded:
        from gtcore.work import handlers

        for mod in sorted(pkgutil.iter_modules(handlers.__path__), key=lambda m: m.name):
            importlib.import_module(f"gtcore.work.handlers.{mod.name}")
        _loaded.append(True)
    return dict(_HANDLERS)
