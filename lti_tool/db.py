"""Database engine, typed declarative base and the one-transaction-per-request session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from flask import Flask, g
from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        list[str]: JSONType,
    }


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and foreign keys so it behaves like the server database."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_pragmas(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def init_app(app: Flask) -> None:
    """Attach an engine (created lazily on first use) and the per-request transaction hooks."""
    app.extensions["upstander.sessionmaker"] = None
    app.after_request(_finish_transaction)
    app.teardown_appcontext(_close_session)


def sessionmaker_for(app: Flask) -> sessionmaker[Session]:
    """Return the app's session factory, creating the engine on first use, not at start-up."""
    maker: sessionmaker[Session] | None = app.extensions["upstander.sessionmaker"]
    if maker is None:
        engine = make_engine(app.config["DATABASE_URL"])
        maker = sessionmaker(engine, expire_on_commit=False)
        app.extensions["upstander.sessionmaker"] = maker
    return maker


def forget_engine(app: Flask) -> None:
    """Drop the engine without closing its connections (they belong to the parent after a fork)."""
    maker: sessionmaker[Session] | None = app.extensions["upstander.sessionmaker"]
    if maker is not None and maker.kw.get("bind") is not None:
        maker.kw["bind"].dispose(close=False)
    app.extensions["upstander.sessionmaker"] = None


def dispose_engine(app: Flask) -> None:
    """Close the engine's connections and drop it (before forking workers)."""
    maker: sessionmaker[Session] | None = app.extensions["upstander.sessionmaker"]
    if maker is not None and maker.kw.get("bind") is not None:
        maker.kw["bind"].dispose()
    app.extensions["upstander.sessionmaker"] = None


def session() -> Session:
    """Return this request's session; the request commits it once at the end."""
    if "db_session" not in g:
        from flask import current_app

        g.db_session = sessionmaker_for(current_app)()
    db: Session = g.db_session
    return db


def rollback_request() -> None:
    """Undo this request's writes now, so an error page can still read (e.g. after a failed flush)."""
    db: Session | None = g.get("db_session")
    if db is not None:
        db.rollback()


def _finish_transaction(response: Any) -> Any:
    db: Session | None = g.get("db_session")
    if db is not None:
        # A rejected request stores nothing: only successful responses commit.
        if response.status_code < 400:
            db.commit()
        else:
            db.rollback()
    return response


def _close_session(exc: BaseException | None) -> None:
    db: Session | None = g.pop("db_session", None)
    if db is not None:
        db.rollback()
        db.close()
