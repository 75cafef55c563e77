"""Masking: a run's secret values (its env's secrets, its secret parameters) printed by
the job show as ``***`` in everything that leaves the work horse: live lines, progress
messages, the stored output, the error (and so the toast).

It matches text, line by line, so it cannot catch a value the job transforms (encoded,
reversed, split across lines or writes, one character at a time) nor values shorter
than ``MIN_CHARS``, which would blank out ordinary output.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

E = TypeVar("E", bound=Exception)

MASK = "***"
MIN_CHARS = 4


class Masker:
    """Replaces every occurrence of the given values in a text by ``***``."""

    def __init__(self, values: Iterable[str]) -> None:
        needles: set[str] = set()
        for value in values:
            # A multi-line value is printed over several lines, each seen on its own.
            for piece in (value, *value.splitlines()):
                piece = piece.strip("\r")
                if len(piece) >= MIN_CHARS:
                    needles.add(piece)
        # Longest first: a value containing another is masked whole.
        ordered = sorted(needles, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str | None) -> str | None:
        """``text`` with every value masked (None stays None)."""
        if text is None or self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)


NO_MASK = Masker(())


def masked_failure(exc: E, mask: Masker) -> E:
    """``exc`` (a job's failure) with the values masked in its message and ``output``."""
    if mask:
        exc.args = (mask(str(exc)),)
        if isinstance(getattr(exc, "output", None), str):
            exc.output = mask(exc.output)
    return exc
