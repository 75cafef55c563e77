"""Who is asking, and may they: users, sign-in, tokens, CSRF and roles (``auth``,
``users``), the host app's login hook and where Taskpulse is mounted (``host_login``),
the security headers and trusted proxies (``headers``), the audit log (``audit``), and
the credential sweep that closes sockets whose credentials no longer hold
(``socket_sessions``).

May import: ``webapp.core``, ``webapp.live`` (the audit log grows live).
"""
