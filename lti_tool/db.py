"""Database engine, typed declarative base and the one-transaction-per-request session."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from xapi.db import NAMING_CONVENTION, TYPE_ANNOTATION_MAP, XapiBase, make_engine, utcnow

# Migrations 0001/0002 name the column type as lti_tool.db.UTCDateTime; keep that name importable.
from xapi.db import UTCDateTime as UTCDateTime

__all__ = ["ALL_METADATA", "Base", "XapiBase", "make_engine", "session", "sessionmaker_for", "utcnow"]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = TYPE_ANNOTATION_MAP


# Alembic and the test clean-up cover the tool's tables and the xAPI package's tables.
ALL_METADATA = (Base.metadata, XapiBase.metadata)


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
