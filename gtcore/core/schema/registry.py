"""The one ``MetaData`` every table of the schema registers on, and the pre-Alembic ``schema_info`` table."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table

SCHEMA_VERSION = 1  # schema_info's version, frozen at the baseline: Alembic's alembic_version tracks changes

metadata = MetaData()

schema_info = Table(
    "schema_info",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)
