"""A small module of python jobs for the callable rules (allowed only in those tests)."""
from __future__ import annotations

from subprocess import run  # noqa: F401  (imported, not defined here: must be refused)

from worker.examples import count_primes  # noqa: F401  (another module's function)


def greet(name: str = "world") -> str:
    """A public function defined here: the one kind of callable that may run."""
    return f"hello {name}"


def _private() -> str:
    """Defined here, but not public."""
    return "private"


class Job:
    """A class is callable, but not a function."""


async def later() -> str:
    """A coroutine function: calling it runs nothing."""
    return "later"


shout = str.upper  # a builtin bound to a name here
