"""What a string must be to travel: the character rules shared by configuration and validation.

A low module: it imports only the exception tree, so ``_config`` (credentials) and ``_request``
(messages) apply one rule without importing each other. Two rules live here:

* every value leaves as a plain ``str``: msgspec refuses to encode a ``str`` subclass, and a
  subclass may override ``__str__``, ``__eq__`` or ``__hash__`` (which would poison a cache of
  checked values); ``plain_str`` copies the characters out without calling any of them;
* XML 1.0 and UTF-8 cannot carry C0/C1 control characters (tab, newline and carriage return
  aside), lone surrogates or U+FFFE/U+FFFF, so ``check_xml_safe`` refuses them. A printable
  string holds none of them, and ``str.isprintable`` is a C loop that answers for most texts
  at half the cost of the regex search, which only runs for the rest (newlines, emoji joiners).
"""

from __future__ import annotations

import re
from typing import Final

from ._exceptions import ValidationError

__all__ = ["FORBIDDEN_TEXT", "check_xml_safe", "is_xml_safe", "plain_str"]

#: C0 and C1 controls other than tab, newline and carriage return; lone surrogates (not UTF-8);
#: U+FFFE/U+FFFF (not XML characters). XML 1.0 cannot carry any of them.
FORBIDDEN_TEXT: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


#: The same rule for ASCII bytes: ``bytes.translate`` deleting these and keeping the length
#: checks an ASCII text three times faster than ``str.isprintable`` (which also refuses tab,
#: newline and carriage return, so it only ever answers "yes").
ASCII_FORBIDDEN: Final = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def is_xml_safe(value: str) -> bool:
    """``check_xml_safe`` as a yes/no for a long text (a chunk's texts joined), fast paths first."""
    if value.isascii():
        data = value.encode("ascii")
        return len(data.translate(None, ASCII_FORBIDDEN)) == len(data)
    return value.isprintable() or FORBIDDEN_TEXT.search(value) is None


def plain_str(value: str) -> str:
    """``value`` as an exact ``str``, its characters copied without calling any override."""
    return value if type(value) is str else str.__str__(value)


def check_xml_safe(field: str, value: str) -> None:
    """Refuse what XML 1.0 or UTF-8 cannot carry; the value itself is not echoed (secrets)."""
    if value.isprintable():
        return
    bad = FORBIDDEN_TEXT.search(value)
    if bad is not None:
        raise ValidationError(
            field,
            f"must not contain character U+{ord(bad.group()):04X} (position {bad.start()}):"
            " control characters other than tab, newline and carriage return, lone"
            " surrogates and U+FFFE/U+FFFF cannot be sent",
        )
