"""Metrics and health: what Prometheus and probes read.

Owns the figures behind ``GET /metrics``, derived from the database at scrape time with
aggregate queries (``queries``), their Prometheus families and the per-process cache
(``exposition``), and the readiness checks of ``GET /readyz`` (``health``). The routes
themselves live in ``webapp.web``.

May import: ``webapp.core``, ``webapp.live``, ``webapp.access``, ``webapp.runs``,
``webapp.scheduling``, ``webapp.tasks``, ``webapp.cli``.
"""
