"""Entry point: ``python wsgi.py`` serves Taskpulse; ``flask --app wsgi`` runs its CLI.

The async library is patched here, first, and nowhere else (never in the worker).
"""
import os
import sys

ASYNC_MODE = os.environ.get("ASYNC_MODE", "eventlet")
# Imported by `flask --app wsgi ...` (flask is loaded already): a CLI process, not a
# server, so it must not be patched late; it uses plain threads.
UNDER_FLASK_CLI = "flask" in sys.modules

if not UNDER_FLASK_CLI and ASYNC_MODE == "eventlet":
    import warnings

    with warnings.catch_warnings():
        # eventlet warns that it is in bug-fix mode on import; the README says so.
        warnings.simplefilter("ignore")
        import eventlet

    eventlet.monkey_patch()
elif not UNDER_FLASK_CLI and ASYNC_MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

from webapp.core import logs  # noqa: E402

if not UNDER_FLASK_CLI:
    # An unknown TASKPULSE_LOG_FORMAT stops the server here with one sentence; json
    # gives Taskpulse's own lines one JSON object each (plain leaves logging as it was).
    if logs.log_format() == "json":
        logs.configure(("webapp",), "json")

from webapp import create_app  # noqa: E402
from webapp.core.config import drop_setup_secrets  # noqa: E402
from webapp.core.extensions import socketio  # noqa: E402
from webapp.core.secret_key import InsecureSecretKey  # noqa: E402

try:
    app = create_app({"ASYNC_MODE": "threading"} if UNDER_FLASK_CLI else None)
except InsecureSecretKey as exc:
    # A sentence for the operator, not a traceback (web, CLI and gunicorn alike).
    sys.exit(f"Taskpulse will not start: {exc}")

if not UNDER_FLASK_CLI:  # a server (python wsgi.py, gunicorn): it never creates the admin
    drop_setup_secrets(app.config)
    # Late and overrun alerts are noticed here, by the web process, even before anyone
    # opens a page (webapp.alerts.watchdog).
    from webapp.alerts import watchdog  # noqa: E402

    watchdog.ensure_started(app)

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    print(f"Taskpulse serving on http://{host}:{port} ({ASYNC_MODE})", flush=True)
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, log_output=False)
