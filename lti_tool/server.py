"""Run the app under gunicorn from the ``serve`` command."""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx
from flask import Flask
from gunicorn.app.base import BaseApplication

from lti_tool.db import forget_engine

log = logging.getLogger(__name__)


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def run(app: Flask, host: str, port: int, workers: int) -> None:
    """Serve until stopped; on first start, register the tool with the demo LMS over HTTP."""

    def when_ready(server: Any) -> None:
        if app.config["DEMO_LMS"]:
            threading.Thread(target=_register_with_demo, args=(app,), daemon=True).start()
        print(f"Upstander is running. Open {app.config['DEMO_LMS_URL']}/demo-lms/ "  # noqa: T201
              f"(demo LMS) or {app.config['PUBLIC_URL']}/", flush=True)

    def post_fork(server: Any, worker: Any) -> None:
        # A forked worker must not share the master's pooled database connections.
        forget_engine(app)

    options = {
        "post_fork": post_fork,
        "bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": 4,
        # Threads let the tool and the demo LMS, served by one process, call each other.
        "timeout": 60, "keepalive": 5, "accesslog": "-", "when_ready": when_ready,
    }
    _Gunicorn(app, options).run()


def _register_with_demo(app: Flask) -> None:
    """Open the registration URL exactly as an LMS administrator's browser would."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from lti_tool.db import make_engine
    from lti_tool.demo.registration import registration_start_url
    from lti_tool.models import DemoTool

    engine = make_engine(app.config["DATABASE_URL"])
    with Session(engine) as session:
        registered = session.scalar(select(DemoTool.id).limit(1)) is not None
    engine.dispose()
    if registered:
        return
    try:
        response = httpx.get(registration_start_url(app.config), timeout=30)
        log.warning("demo LMS registration: HTTP %s", response.status_code)
    except httpx.HTTPError as exc:
        log.warning("demo LMS registration failed: %s", exc)
