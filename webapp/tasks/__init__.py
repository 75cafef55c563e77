"""Defining tasks: what a task may be (``validation``: every field of the API and the
dialog, with the defaults) and creating, changing and deleting tasks (``store``), with
their next fire time and an audit entry.

May import: ``webapp.core``, ``webapp.live``, ``webapp.access``, ``webapp.secrets``,
``webapp.runs``, ``webapp.scheduling``.
"""
