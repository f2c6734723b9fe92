"""Alembic environment: the connection comes from exchange_api.store.db.migrate (config.attributes), or from
sqlalchemy.url / CITYPOINTS_DATABASE_URL when alembic runs from the command line."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from exchange_api.store.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from exchange_api.settings import Settings
        url = Settings().database_url
    engine = create_engine(url)
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
