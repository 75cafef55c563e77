"""The ``flask --app wsgi ...`` commands: one module per command group, registered by
:func:`register`, each a thin face over the rooms below.

May import: every room but ``webapp.web``.
"""
