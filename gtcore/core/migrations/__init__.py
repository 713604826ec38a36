"""Alembic migrations for the whole schema (``gtcore migrate``; also run by ``Database.migrate`` at start).

``env.py`` runs them on the connection ``gtcore.core.migrate.upgrade`` hands over (inside its lock);
``versions/`` holds one revision per schema change, ids ``0001_baseline``, ``0002_work_items``, ...
Imports: alembic, sqlalchemy and the standard library only.
"""
