"""Text from runs and users, made safe to print on a terminal: a run's error or a task's
name may hold escape sequences that would recolour, retitle or rewrite the operator's
terminal, so control characters are shown as visible escapes instead."""
from __future__ import annotations

import unicodedata

_KEPT = {"\n": "keep", "\t": "keep"}


def printable(text: object, keep_newlines: bool = True) -> str:
    """``text`` with every control character (C0, DEL, C1, bidi and other format
    characters, line separators) shown as ``\\x1b``, ``\\u202e`` and the like.

    Newlines (and tabs) stay when ``keep_newlines``; otherwise a newline shows as ``\\n``,
    for output that must stay one line per record.
    """
    out: list[str] = []
    for char in str(text):
        if char in _KEPT and keep_newlines:
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)
