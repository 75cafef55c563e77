"""The ground floor: what every room uses and which imports no other room.

Owns the settings (``config``), the unbound extensions (``extensions``: the database,
Socket.IO, the limiter), the models, the API error types, time helpers, the retry of a
state change while the database is away (``db_retry``), Redis URLs and this app's Redis
connection (``redis_urls``, ``redis``), the schema and its migrations (``schema``), the
instance files and the SECRET_KEY check.

May import: nothing of ``webapp`` outside ``webapp.core``.
"""
