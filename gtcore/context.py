"""The things every gtcore operation needs, built once per process: settings, database, storage."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from gtcore.db import Database
from gtcore.settings import Settings


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
    def storage(self):  # type: ignore[no-untyped-def]
        """The URI resolver (``gtcore.storage.Storage``) for this settings object."""
        from gtcore.storage import Storage

        return Storage(self.settings)
