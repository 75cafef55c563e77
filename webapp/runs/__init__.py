"""A run's life: dispatch (``dispatch``: the only web code that touches RQ), state
(``state.update_task_status``: the one way a run changes state), what may run under this
process's settings (``switches``), the live log (``output``), worker liveness and lost
runs (``liveness``, ``lost_runs``), retention and the periodic housekeeping, and the run
rollup ``/metrics`` reads (``rollup``: counts and histogram buckets per task, added to in
the transaction that ends or starts a run), and the search through stored output and
errors (``search``).

May import: ``webapp.core``, ``webapp.live``, ``webapp.access``.
"""
