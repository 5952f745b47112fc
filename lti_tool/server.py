"""Run the app under gunicorn from the ``serve`` command."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import httpx
from flask import Flask
from gunicorn.app.base import BaseApplication

from lti_tool import embedded_delivery
from lti_tool.db import forget_engine

log = logging.getLogger(__name__)


class Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        # gunicorn 25+ opens a control socket at one fixed path per user; several servers on one machine
        # (the app, `lrs serve`, test servers) would take it from each other, and we do not use it.
        self.cfg.set("control_socket_disable", True)
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def run(app: Flask, host: str, port: int, workers: int, register_demo: bool, *,
        tuning: dict[str, int] | None = None) -> None:
    """Serve until stopped; with ``register_demo``, register the tool with the demo LMS over HTTP.

    The master process forks the workers, so it runs no thread of ours and holds no database
    connection: a fork taken while another thread holds a lock (SQLite's mutex, or an import
    half done) leaves the worker deadlocked or broken. So the first worker registers, not the
    master, and the caller checks the database before gunicorn starts.
    """

    # The xAPI outbox is delivered by `serve` too (one worker at a time, see lti_tool.embedded_delivery).
    delivery = None
    if app.config.get("XAPI_EMBEDDED_WORKER", True):
        delivery = embedded_delivery.EmbeddedDelivery(app, embedded_delivery.lock_file(app.instance_path, os.getpid()))

    def post_worker_init(worker: Any) -> None:
        # age counts workers spawned: only the very first one registers, once.
        if register_demo and worker.age == 1:
            threading.Thread(target=_register_with_demo, args=(app,), daemon=True).start()
        # Every worker, replacements included, competes for the delivery lock; the holder delivers.
        if delivery is not None:
            delivery.start()

    def worker_exit(server: Any, worker: Any) -> None:
        if delivery is not None:
            delivery.stop()

    def when_ready(server: Any) -> None:
        print(f"Upstander is running. Open {app.config['DEMO_LMS_URL']}/demo-lms/ "  # noqa: T201
              f"(demo LMS) or {app.config['PUBLIC_URL']}/", flush=True)

    def post_fork(server: Any, worker: Any) -> None:
        # Each worker builds its own engine on first use.
        forget_engine(app)

    options = {
        "bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": 4,
        # Threads let the tool and the demo LMS, served by one process, call each other.
        "timeout": 60, "graceful_timeout": 10, "keepalive": 5, "accesslog": "-",
        "when_ready": when_ready, "post_fork": post_fork, "post_worker_init": post_worker_init,
        "worker_exit": worker_exit,
    }
    # `serve --threads/--timeout/--graceful-timeout/--keepalive` (behind a proxy, see the README's "Deploying").
    options.update(tuning or {})
    # Operations (lti_tool.ops): JSON logs instead of gunicorn's access log, multiprocess metrics.
    from lti_tool import ops

    master = os.getpid()
    try:
        Gunicorn(app, ops.gunicorn_options(app, options)).run()
    finally:
        # Workers leave through this frame too (gunicorn forks inside run()); only the master cleans up.
        if delivery is not None and os.getpid() == master:
            embedded_delivery.remove(delivery.path)


def _register_with_demo(app: Flask) -> None:
    """Open the registration URL exactly as an LMS administrator's browser would (HTTP only)."""
    from lti_tool.demo.registration import registration_start_url

    try:
        response = httpx.get(registration_start_url(app.config), timeout=30)
        log.warning("demo LMS registration: HTTP %s", response.status_code)
    except httpx.HTTPError as exc:
        log.warning("demo LMS registration failed: %s", exc)
