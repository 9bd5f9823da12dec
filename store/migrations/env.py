"""Alembic environment: runs on the engine handed over by store.migrate."""

from __future__ import annotations

from alembic import context

from store.base import Base
import store.models  # noqa: F401  (registers the tables)
import store.embargo_models  # noqa: F401
import store.retention.models  # noqa: F401
import store.transparency.models  # noqa: F401

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:  # batch mode rebuilds a table to alter it: the references to it are checked once it stands again
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
            raise RuntimeError("a migration left rows referring to rows that are gone; nothing was changed")
    connection.commit()
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
