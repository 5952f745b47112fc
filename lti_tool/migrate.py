"""Run Alembic from code, for the CLI and the tests."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# The key of the PostgreSQL advisory lock taken while migrating (any constant; "upstndr" in ASCII).
LOCK_KEY = 0x7570_7374_6E64_72


def alembic_config(url: str) -> Config:
    """Return an Alembic config for the migrations folder and a database URL."""
    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's config uses %-interpolation; a password may contain %.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Fail when the models and the migrations disagree."""
    command.check(alembic_config(url))


@contextmanager
def exclusive(url: str) -> Iterator[None]:
    """Hold the database's start-up lock while migrating and creating the first rows.

    Several ``serve`` instances starting together (a scale-out, a rolling upgrade) would otherwise run
    the same migration at once: on PostgreSQL the second fails with a duplicate type or table, and
    ``ensure_keys`` could create four keys instead of two. PostgreSQL: a session advisory lock (held by
    a connection, so a killed process drops it); SQLite: a ``flock`` beside the database file.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
        finally:
            engine.dispose()
    elif parsed.database and parsed.database != ":memory:":
        with Path(parsed.database + ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield  # closing the file releases the lock
    else:
        yield
