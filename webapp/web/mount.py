"""Mount Taskpulse into a Flask app: database, limiter, Socket.IO handlers, and one
``taskpulse`` blueprint (pages, API, static files) under a URL prefix. Shared by the
standalone app (:func:`webapp.create_app`) and the embedding extension
(:class:`webapp.embed.Taskpulse`)."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app
from werkzeug.routing import IntegerConverter

from webapp.access.host_login import EXTENSION_KEY, HostLogin, Mounted
from webapp.core import vocabulary
from webapp.core.config import ROOT, Config, engine_options
from webapp.core.redis_urls import limiter_storage

BLUEPRINT = "taskpulse"


class IdConverter(IntegerConverter):
    """Row ids in URLs: at most 18 digits, so an absurd id is a 404, not a database
    overflow."""

    regex = r"\d{1,18}"


def config_defaults(app: Flask) -> None:
    """Taskpulse's settings from the environment, for keys the app has not set (a host
    app keeps its own database URL, secret key, cookie and body-size settings)."""
    limiter_store_unset = "RATELIMIT_STORAGE_URI" not in app.config
    defaults = Config()
    for key, value in defaults.as_dict().items():
        app.config.setdefault(key, value)
    if limiter_store_unset:
        # The sign-in limiter's store is the app's Redis (a host may set its own REDIS_URL).
        app.config["RATELIMIT_STORAGE_URI"], app.config["RATELIMIT_STORAGE_OPTIONS"] = \
            limiter_storage(app.config["REDIS_URL"])
    app.config.setdefault("NODE_MODULES", str(ROOT / "node_modules"))
    # Flask's own default is no limit; Taskpulse's API still caps what it reads.
    app.config.setdefault("TASKPULSE_MAX_BODY_BYTES", defaults.MAX_CONTENT_LENGTH)


def _init_db(app: Flask, database_url: str | None = None) -> None:
    """Bind Taskpulse's Flask-SQLAlchemy instance to the app's database, or to
    ``database_url`` when given.

    Flask-SQLAlchemy allows one registered instance per app; a host that has its own
    keeps its slot, and Taskpulse's instance (its own models, sessions and pool) is bound
    beside it. Its engines are made here, from the URL in the config at this moment.
    """
    from webapp.core.extensions import db, tune_sqlite

    host_instance = app.extensions.pop("sqlalchemy", None)
    host_url = app.config.get("SQLALCHEMY_DATABASE_URI")
    host_options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS")
    if database_url:
        app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    # PostgreSQL: fail fast while the database is away (connect and pool timeouts).
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        str(database_url or host_url or ""), host_options or {},
        app.config["DB_CONNECT_TIMEOUT"], app.config["DB_POOL_TIMEOUT"])
    try:
        db.init_app(app)
    finally:
        if database_url:
            app.config["SQLALCHEMY_DATABASE_URI"] = host_url
        if host_options is None:
            app.config.pop("SQLALCHEMY_ENGINE_OPTIONS", None)
        else:
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = host_options
        if host_instance is not None and host_instance is not db:
            app.extensions["sqlalchemy"] = host_instance
    with app.app_context():  # builds the engine object only; no connection is opened
        tune_sqlite(db.engine)


def _blueprint(state: Mounted) -> Blueprint:
    """Pages, API, sign-in pages (unless the host signs users in), static files."""
    from webapp.access import headers
    from webapp.access.auth import csrf_token
    from webapp.web import (
        alerts_api,  # noqa: F401  (its import adds the alerts routes to api.bp)
        api,
        ascode_api,  # noqa: F401  (its import adds GET /api/export and POST /api/import to api.bp)
        auth_pages,
        groups_api,  # noqa: F401  (its import adds the concurrency routes to api.bp)
        openapi,  # noqa: F401  (adds GET /api/openapi.json to api.bp)
        openapi_docs,  # noqa: F401  (adds the /docs/api page to pages.bp)
        outage,
        pages,
        probes,
        search_api,  # noqa: F401  (its import adds GET /api/runs/search to api.bp)
        secrets_api,  # noqa: F401  (its import adds the secrets routes to api.bp)
    )

    bp = Blueprint(BLUEPRINT, __name__, static_folder=str(ROOT / "static"),
                   static_url_path="/static", template_folder=str(ROOT / "templates"))
    bp.register_blueprint(pages.bp)
    bp.register_blueprint(api.bp)
    if state.host_login is None:
        bp.register_blueprint(auth_pages.bp)
    bp.add_url_rule("/healthz", "healthz", probes.healthz)
    bp.add_url_rule("/readyz", "readyz", probes.readyz)
    bp.add_url_rule("/metrics", "metrics", probes.metrics)

    @bp.context_processor
    def _template_values() -> dict:
        from flask import request

        return {
            "taskpulse_csrf_token": csrf_token,
            "taskpulse_root": request.script_root + state.url_prefix,
            "taskpulse_socket_path": f"{request.script_root}/{state.socketio_path}",
            "taskpulse_host_login": state.host_login is not None,
            "taskpulse_host_logout_url": state.host_login.logout_url if state.host_login else None,
            "taskpulse_vocabulary": vocabulary.for_pages(),
        }

    bp.before_request(_watch)
    outage.install(bp)
    if not state.standalone:
        # The host's own pages keep their headers and error pages; ours get ours.
        headers.install(bp)
        bp.before_request(_cap_request_body)
    return bp


def _watch() -> None:
    """Start this process's alert watchdog with its first request (an embedding host's
    server has no other start hook; ``wsgi.py`` starts it at once). Not in unit tests:
    they call ``watchdog.tick`` themselves."""
    from webapp.alerts import watchdog

    if not current_app.testing:
        watchdog.ensure_started(current_app._get_current_object())


def _cap_request_body() -> None:
    """Embedded: the host may allow any body size; Taskpulse's API reads at most this."""
    from flask import request

    if current_app.config.get("MAX_CONTENT_LENGTH") is None:
        request.max_content_length = current_app.config["TASKPULSE_MAX_BODY_BYTES"]


def mount(app: Flask, url_prefix: str = "", host_login: HostLogin | None = None,
          standalone: bool = True, database_url: str | None = None) -> Mounted:
    """Wire Taskpulse into ``app`` under ``url_prefix`` ("" or "/something"), on the app's
    database or ``database_url``."""
    from webapp.core.extensions import limiter, socketio
    from webapp.web import sockets

    url_prefix = "/" + url_prefix.strip("/") if url_prefix.strip("/") else ""
    state = Mounted(url_prefix, host_login, standalone)
    app.extensions[EXTENSION_KEY] = state
    config_defaults(app)
    app.url_map.converters.setdefault("id", IdConverter)
    _init_db(app, database_url)
    limiter.init_app(app)
    socketio.init_app(
        app,
        message_queue=app.config["REDIS_URL"],
        # Explicit, so redis+sentinel:// URLs work too (Flask-SocketIO would pick Kombu);
        # a RedisManager that also sends task_updates batches (webapp.live.fanout).
        client_manager=sockets.client_manager(app.config["REDIS_URL"], app.config["BATCH_ADAPTIVE"]),
        async_mode=app.config["ASYNC_MODE"],
        cors_allowed_origins=app.config["CORS_ALLOWED_ORIGINS"],
        path=state.socketio_path,
        # Dead clients are found by one sweep every few seconds (webapp.live.client_monitor),
        # not by Engine.IO's monitor, which wakes N / 20 times a second at N connections.
        monitor_clients=False,
    )
    sockets.register(socketio)
    app.register_blueprint(_blueprint(state), url_prefix=url_prefix or None)
    return state
