"""When tasks fire: fire times and the DST rule (``cron``), the misfire rule
(``misfire``), firing due tasks through the same dispatch as Run Now (``fire``), and the
global pause and the leader's state (``pause``). The scheduler process that runs the loop
is ``worker.scheduler``.

May import: ``webapp.core``, ``webapp.live``, ``webapp.access``, ``webapp.runs``.
"""
