"""Alembic environment: runs on the engine handed over by store.migrate."""

from __future__ import annotations

from alembic import context

from store.base import Base
import store.models  # noqa: F401  (registers the tables)
import store.embargo_models  # noqa: F401
import store.transparency.models  # noqa: F401

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
