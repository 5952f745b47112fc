"""Operations: structured request logs with request ids, Prometheus metrics, readiness, and the
reverse-proxy set-up (``PROXY_FIX``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    """Trust ``PROXY_FIX`` proxies, log and measure every request, add /readyz and /metrics.

    Call right after the configuration is loaded: the request hooks must be the first added (see
    ``logs.init_app``).
    """
    from lti_tool.blueprints import ops as ops_views
    from lti_tool.ops import logs, metrics

    proxies = int(app.config["PROXY_FIX"])
    if proxies > 0:
        # X-Forwarded-For/-Proto/-Host from that many proxies in front of us: the client's real address
        # (rate limits, logs) and scheme (HSTS, secure cookies). Never trusted when no proxy is declared.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    logs.init_app(app)
    metrics.init_app(app)
    app.register_blueprint(ops_views.bp)


def gunicorn_options(app: Flask, options: dict[str, Any]) -> dict[str, Any]:
    """Prepare ``upstander serve``: JSON logs by default, no gunicorn access log, multiprocess metrics.

    Runs in the gunicorn master before the workers fork. Returns ``options`` with ours merged in; a
    hook (a callable) both define runs theirs first, then ours.
    """
    from lti_tool.ops import logs, metrics

    logs.configure(app.config, default_format="json")
    merged = dict(options)
    for key, value in {**logs.gunicorn_options(app.config), **metrics.gunicorn_options()}.items():
        theirs = merged.get(key)
        merged[key] = _chain(theirs, value) if callable(theirs) and callable(value) and key != "logger_class" \
            else value
    return merged


def _chain(first: Callable[..., Any], second: Callable[..., Any]) -> Callable[..., None]:
    def both(*args: Any) -> None:
        first(*args)
        second(*args)

    return both
