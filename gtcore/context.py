"""The things every gtcore operation needs, built once per process: settings, database, storage.

Its own layer, right above ``gtcore.storage``: every domain package takes a Context.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from gtcore.core.db import Database
from gtcore.core.settings import Settings
from gtcore.storage.store import Storage


@dataclass(frozen=True)
class Context:
    settings: Settings
    db: Database

    @classmethod
    def from_settings(cls, settings: Settings) -> Context:
        settings.home.mkdir(parents=True, exist_ok=True)
        return cls(settings=settings, db=Database(settings.database_url))

    @classmethod
    def from_env(cls) -> Context:
        return cls.from_settings(Settings.from_env())

    @cached_property
    def storage(self) -> Storage:
        """The URI resolver (``gtcore.storage.store.Storage``) for this settings object."""
        return Storage(self.settings)
