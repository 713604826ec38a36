"""The things every gtcore operation needs, built once per process: settings, database, storage, and what the
process remembers (``memory``: ``gtcore.core.memory.ProcessMemory``, every per-process cache and its rules).

Its own layer, right above ``gtcore.storage``: every domain package takes a Context.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cached_property

from gtcore.core.db import Database
from gtcore.core.memory import ProcessMemory
from gtcore.core.settings import Settings
from gtcore.storage.store import Storage

_shared_lock = threading.Lock()
_shared: dict[tuple[str, tuple[tuple[str, str], ...]], Context] = {}  # (cwd, GT_* variables) -> its Context
_by_settings: dict[Settings, Context] = {}  # two environments that read as the same Settings share one Context


@dataclass(frozen=True)
class Context:
    settings: Settings
    db: Database
    memory: ProcessMemory = field(default_factory=ProcessMemory, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        settings.home.mkdir(parents=True, exist_ok=True)
        return cls(settings=settings, db=Database(settings.database_url))

    @classmethod
    def from_env(cls) -> Context:
        return cls.from_settings(Settings.from_env())

    @classmethod
    def shared(cls) -> Context:
        """This process's Context for the current environment: one per working folder and set of ``GT_*``
        variables (all that ``Settings.from_env`` reads), built once. The pages and the API server use it, so a
        process keeps one database engine and one ``memory`` per configuration (tests may change ``GT_*``
        between runs and get another). The look-up costs microseconds (hashing a Settings costs milliseconds)."""
        key = (os.getcwd(), tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("GT_"))))
        ctx = _shared.get(key)
        if ctx is None:
            with _shared_lock:
                ctx = _shared.get(key)
                if ctx is None:
                    settings = Settings.from_env()
                    ctx = _by_settings.get(settings)
                    if ctx is None:
                        ctx = _by_settings[settings] = cls.from_settings(settings)
                    _shared[key] = ctx
        return ctx

    @cached_property
    def storage(self) -> Storage:
        """The URI resolver (``gtcore.storage.store.Storage``) for this settings object."""
        return Storage(self.settings)
