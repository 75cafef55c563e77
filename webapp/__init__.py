"""Taskpulse's web application: ``create_app`` wires config, extensions, views and handlers."""
from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from .config import ROOT, Config


class IdConverter(IntegerConverter):
    """Row ids in URLs: at most 18 digits, so an absurd id is a 404, not a database
    overflow."""

    regex = r"\d{1,18}"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app. Only wires: no database work, no network."""
    from . import cli, security, sockets
    from .auth import csrf_token
    from .extensions import db, limiter, socketio, tune_sqlite
    from .views import api, auth_pages, pages

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_mapping(Config().as_dict())
    app.config["NODE_MODULES"] = str(ROOT / "node_modules")
    if test_config:
        app.config.from_mapping(test_config)
        # The limiter's store follows REDIS_URL unless set on its own.
        if "RATELIMIT_STORAGE_URI" not in test_config:
            app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]

    app.url_map.converters["id"] = IdConverter
    db.init_app(app)
    with app.app_context():  # builds the engine object only; no connection is opened
        tune_sqlite(db.engine)
    limiter.init_app(app)
    socketio.init_app(
        app,
        message_queue=app.config["REDIS_URL"],
        async_mode=app.config["ASYNC_MODE"],
        cors_allowed_origins=app.config["CORS_ALLOWED_ORIGINS"],
    )
    sockets.register(socketio)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(auth_pages.bp)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.add_url_rule("/healthz", "healthz", api.healthz)
    app.register_error_handler(404, api.json_http_error)
    app.register_error_handler(405, api.json_http_error)
    security.install(app)
    cli.register(app)
    return app
