"""Alerts: telling the people who are not watching (design.md, "Alerts (second release)").

Owns the channels (Apprise URLs, secrets masked everywhere), the rules that turn a run's
end into an alert (``incidents``), and the outbox of notifications with its live room
(``outbox``). Deliveries run in ``worker.delivery`` on the ``taskpulse-alerts`` queue,
never inside a run's state change.

May import: ``core``, ``live``, ``access``, ``runs``, ``scheduling``, ``tasks``.
"""
from __future__ import annotations


def install() -> None:
    """Listen for runs' ends (``runs.state`` calls back after each committed end)."""
    from webapp.alerts import incidents
    from webapp.runs import state

    state.on_run_end(incidents.run_ended)
