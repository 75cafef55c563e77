"""Taskpulse's web application: ``create_app`` wires config, extensions, views and handlers."""
from __future__ import annotations

from typing import Any

from flask import Flask

from webapp.core.config import ROOT, Config


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the standalone Flask app. Only wires: no database work, no network."""
    from flask_migrate import Migrate

    from webapp import alerts, cli, scheduling
    from webapp.access import headers
    from webapp.core import schema
    from webapp.core.extensions import db
    from webapp.core.secret_key import check_secret_key
    from webapp.web import api
    from webapp.web.mount import mount

    if "SECRET_KEY" not in (test_config or {}):
        check_secret_key()

    # Static files and templates come from the mounted blueprint, as in a host app.
    app = Flask(__name__, static_folder=None, instance_path=str(ROOT / "instance"))
    app.config.from_mapping(Config().as_dict())
    if test_config:
        app.config.from_mapping(test_config)
        # The limiter's store follows REDIS_URL unless set on its own.
        if "RATELIMIT_STORAGE_URI" not in test_config:
            del app.config["RATELIMIT_STORAGE_URI"]

    mount(app)
    app.register_error_handler(404, api.json_http_error)
    app.register_error_handler(405, api.json_http_error)
    headers.install(app)
    headers.trust_proxies(app)
    cli.register(app)
    scheduling.install()
    alerts.install()
    # Flask-Migrate's commands (`flask --app wsgi migrations ...`) are for writing new
    # revisions; operators use `db upgrade`, which also adopts pre-migration databases.
    Migrate(app, db, directory=str(schema.MIGRATIONS_DIR), command="migrations")
    return app
