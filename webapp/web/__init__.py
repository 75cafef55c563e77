"""The faces: the JSON API (``api``), the pages (``pages``), sign-in (``auth_pages``),
the Socket.IO handlers (``sockets``) and the wiring of all of them into an app under a
URL prefix (``mount``), used by ``create_app`` and :class:`webapp.embed.Taskpulse`.

May import: every room but ``webapp.cli``.
"""
