"""Serve the built-in LRS alone (``upstander lrs serve``): a Flask app with only the LRS in it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import sessionmaker

from xapi.db import make_engine
from xapi.lrs import LrsSettings, init_app


def create_lrs_app(database_url: str, pepper: bytes, home_page: str, url_prefix: str = "/xapi") -> Flask:
    """Build a WSGI app serving the LRS at ``url_prefix`` on the given database."""
    app = Flask(__name__)
    maker = sessionmaker(make_engine(database_url), expire_on_commit=False)
    init_app(app, LrsSettings(session_factory=maker, pepper=pepper, home_page=home_page), url_prefix)
    return app
