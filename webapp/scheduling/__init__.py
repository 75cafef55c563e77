"""When tasks fire: fire times and the DST rule (``cron``), the misfire rule
(``misfire``), firing due tasks through the same dispatch as Run Now (``fire``), and the
global pause and the leader's state (``pause``), and chains (``chains``: a run's end
starts the tasks its task names in ``then``). The scheduler process that runs the loop
is ``worker.scheduler``.

May import: ``webapp.core``, ``webapp.live``, ``webapp.access``, ``webapp.runs``.
"""
from __future__ import annotations


def install() -> None:
    """Listen for runs' ends: first release held runs (a slot came free: they waited
    longest), then start the ended run's chain."""
    from webapp.runs import release, state
    from webapp.scheduling import chains

    state.on_run_end(release.run_ended)
    state.on_run_end(chains.run_ended)
