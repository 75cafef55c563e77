"""What a run is given besides its task's config, some of which no viewer may see:
typed parameters (``params``: definitions, values, the shown form with secret ones
masked), a task's environment (``env``: plain values and secret references) and the
secrets themselves (``vault``: stored as Fernet tokens; ``keys``: the key ring and its
rotation).

May import: ``webapp.core``, ``webapp.live``, ``webapp.access``.
"""
