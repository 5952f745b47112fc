"""Alembic environment: the database URL comes from the app's configuration."""

from __future__ import annotations

from alembic import context

import lti_tool.models  # noqa: F401  (registers every table on Base.metadata)
import xapi.tables  # noqa: F401  (and on XapiBase.metadata)
from lti_tool.db import ALL_METADATA, make_engine

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from lti_tool import create_app

    return str(create_app().config["DATABASE_URL"])


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=list(ALL_METADATA), literal_binds=True,
                      compare_server_default=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: object) -> None:
    # render_as_batch: SQLite can only ALTER tables by copying them.
    context.configure(connection=connection, target_metadata=list(ALL_METADATA),
                      compare_server_default=True, compare_type=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
