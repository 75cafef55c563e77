"""Metrics and health: what Prometheus and probes read.

Owns the figures behind ``GET /metrics``, read at scrape time from the run rollup that
``webapp.runs.rollup`` keeps and from other small tables (``queries``), their Prometheus
families and the per-process cache (``exposition``, with ``text`` writing the per-task
families), and the readiness checks of ``GET /readyz`` (``health``). The routes
themselves live in ``webapp.web``.

May import: ``webapp.core``, ``webapp.live``, ``webapp.access``, ``webapp.runs``,
``webapp.scheduling``, ``webapp.tasks``, ``webapp.cli``.
"""
