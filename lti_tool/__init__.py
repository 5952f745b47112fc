"""Upstander: peer bystander intervention training as an LTI 1.3 tool."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app: configuration, database hooks, blueprints and error pages."""
    app = Flask(__name__, instance_relative_config=True)
    from lti_tool import config, db, errors, ratelimit, security

    config.load(app, test_config)
    # Operations first: its request hooks (request id, request log, metrics) must wrap all others.
    from lti_tool import ops

    ops.init_app(app)
    db.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    ratelimit.init_app(app)

    from lti_tool.blueprints import api_docs, app_pages, lti, player, site, xapi_profile

    app.register_blueprint(site.bp)
    app.register_blueprint(lti.bp)
    app.register_blueprint(app_pages.bp)
    app.register_blueprint(player.bp)
    app.register_blueprint(xapi_profile.bp)
    app.register_blueprint(api_docs.bp)
    from lti_tool.blueprints import dashboard

    app.register_blueprint(dashboard.bp)
    from lti_tool.blueprints import dashboard_reports

    app.register_blueprint(dashboard_reports.bp)
    from lti_tool.blueprints import dashboard_gradebook

    app.register_blueprint(dashboard_gradebook.bp)
    from lti_tool import lrs_mount

    lrs_mount.init_app(app)
    if app.config["DEMO_LMS"]:
        from lti_tool.blueprints import demo_lms

        app.register_blueprint(demo_lms.bp)
    return app
