"""Run Alembic from code, for the CLI and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


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
