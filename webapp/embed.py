"""Taskpulse as a Flask extension, for apps that already exist::

    from webapp.embed import Taskpulse

    taskpulse = Taskpulse()
    taskpulse.init_app(app, url_prefix="/ops/scheduler",
                       current_user=lambda: (g.user.name, "admin") if g.get("user") else None,
                       login_url="/login", logout_url="/logout")

The scheduler page, its API, its static files and its Socket.IO endpoint then live
under the prefix; Taskpulse's tables (``taskpulse_*``) live in the app's database
(``SQLALCHEMY_DATABASE_URI``) beside the host's own, or in ``database_url``; its commands are under
``flask taskpulse ...`` (``flask taskpulse db upgrade`` makes the tables).
"""
from __future__ import annotations

from flask import Flask

from webapp.access.host_login import HostLogin, HostUser, Mounted
from webapp.web.mount import mount

__all__ = ["Taskpulse", "HostUser"]


class Taskpulse:
    """The embedding extension. ``Taskpulse(app, ...)`` or ``Taskpulse().init_app(app, ...)``."""

    def __init__(self, app: Flask | None = None, **options) -> None:
        self.state: Mounted | None = None
        if app is not None:
            self.init_app(app, **options)

    def init_app(self, app: Flask, url_prefix: str = "/taskpulse", *,
                 current_user=None, login_url: str | None = None,
                 logout_url: str | None = None, database_url: str | None = None,
                 cli_group: str = "taskpulse") -> Mounted:
        """Mount Taskpulse into ``app`` under ``url_prefix``.

        Args:
            current_user: the host's login hook, called in the host's requests: returns
                ``(username, role)`` for the signed-in user (role: viewer, operator or
                admin) or None. Without it Taskpulse signs users in itself (its own
                sign-in page and users under the prefix).
            login_url, logout_url: the host's sign-in page (strangers are sent there
                with ``?next=``) and sign-out link, when ``current_user`` is given.
            database_url: a database of Taskpulse's own; by default Taskpulse's tables
                go in the app's database (``SQLALCHEMY_DATABASE_URI``). The worker and
                scheduler processes need the same URL in ``DATABASE_URL``.
            cli_group: the name of the command group for Taskpulse's CLI.

        Settings come from ``app.config`` first, then Taskpulse's environment variables
        (``REDIS_URL``, ``ASYNC_MODE``, ...; see the README). The app's own database,
        secret key and cookie settings are used as they are.
        """
        from webapp import cli

        if url_prefix.strip("/") == "":
            raise ValueError("an embedded Taskpulse needs a URL prefix such as '/taskpulse'")
        host_login = HostLogin(current_user, login_url, logout_url) if current_user else None
        self.state = mount(app, url_prefix, host_login=host_login, standalone=False,
                           database_url=database_url)
        cli.register(app, under=cli_group)
        return self.state
