"""How many SMS parts a text costs, counted the way the network counts them.

The gateway charges per part, and a long text is split by the network, not by us; so a client that
wants to show a price, or an emulator that wants to charge like the real thing, must count as the
network does (3GPP TS 23.038 and TS 23.040):

* A text whose every character is in the GSM 03.38 default alphabet (its basic table, or its
  extension table reached through an escape) is sent as GSM-7: 160 septets in one part, or 153 per
  part once it needs several, since a 6-octet user-data header takes 7 septets of every part.
  An extension-table character costs two septets (the escape and the character), and the pair is
  never split across two parts, so parts are counted by packing greedily.
* Any other text is sent as UCS-2 (UTF-16 in practice): 70 code units in one part, 67 per part
  otherwise. A character outside the Basic Multilingual Plane (an emoji) is a surrogate pair, two
  code units, and a pair is never split across two parts either.

The common case, a short pure-ASCII text with no extension character, is answered from a few
C-level string operations without a Python-level loop over the characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, Literal

import msgspec

__all__ = ["Segments", "segments"]

GSM7_SINGLE: Final = 160
"""Septets in a single-part GSM-7 message."""
GSM7_MULTI: Final = 153
"""Septets per part of a multipart GSM-7 message (160 less the 7 of the user-data header)."""
UCS2_SINGLE: Final = 70
"""UTF-16 code units in a single-part UCS-2 message."""
UCS2_MULTI: Final = 67
"""UTF-16 code units per part of a multipart UCS-2 message (70 less 3 for the header)."""

# GSM 03.38 basic table, in code-point order of the table (0x00-0x7F). The escape (0x1B) has no
# character of its own and is left out; 0x09 is the capital C-cedilla of the standard.
_GSM7_BASIC_CHARS: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table: each costs the escape septet plus its own.
_GSM7_EXTENSION_CHARS: Final = "\f^{}\\[~]|€"

GSM7_BASIC: Final = frozenset(_GSM7_BASIC_CHARS)
"""Characters of the GSM 03.38 basic table (one septet each)."""
GSM7_EXTENSION: Final = frozenset(_GSM7_EXTENSION_CHARS)
"""Characters of the GSM 03.38 extension table (two septets each)."""
GSM7_ALL: Final = GSM7_BASIC | GSM7_EXTENSION

# The ASCII characters that GSM-7 cannot carry at all: control characters other than LF, CR and
# form feed (an extension character), the backtick, and DEL. One regex search answers "is this
# ASCII text GSM-7?" in C.
_ASCII_NOT_GSM7: Final = re.compile("[\x00-\x09\x0b\x0e-\x1f`\x7f]")

Encoding = Literal["GSM-7", "UCS-2"]


class Segments(msgspec.Struct, frozen=True):
    """The network's view of one text: its encoding, its length, and the parts it takes.

    ``length`` is in the encoding's units: septets for GSM-7 (an extension character counts 2),
    UTF-16 code units for UCS-2 (an emoji counts 2). ``per_part`` is the limit that applied:
    160 or 70 when the text fits one part, else 153 or 67. ``parts`` is 0 for an empty text.
    """

    encoding: Encoding
    length: int
    parts: int
    per_part: int


def _is_extension(char: str) -> bool:
    return char in GSM7_EXTENSION


def _is_astral(char: str) -> bool:
    return char > "\uffff"


def _split(
    encoding: Encoding,
    text: str,
    wide: int,
    single: int,
    multi: int,
    is_wide: Callable[[str], bool],
) -> Segments:
    """Count the parts of a non-empty text holding ``wide`` two-unit characters."""
    length = len(text) + wide
    if length <= single:
        return Segments(encoding, length, 1, single)
    if wide == 0:
        return Segments(encoding, length, -(-length // multi), multi)
    # A two-unit character must not straddle a boundary: pack greedily (greedy is optimal here,
    # as every part is filled as far as it can be before the next one starts).
    parts = 1
    used = 0
    for char in text:
        weight = 2 if is_wide(char) else 1
        if used + weight > multi:
            parts += 1
            used = weight
        else:
            used += weight
    return Segments(encoding, length, parts, multi)


def segments(text: str) -> Segments:
    """Count the SMS parts of ``text`` as the network will (see the module docstring).

    >>> segments("Hello")
    Segments(encoding='GSM-7', length=5, parts=1, per_part=160)
    >>> segments("Привет")
    Segments(encoding='UCS-2', length=6, parts=1, per_part=70)
    """
    if not text:
        return Segments("GSM-7", 0, 0, GSM7_SINGLE)
    if text.isascii():
        # Fast path: one regex search and a set in C decide the encoding for ASCII text.
        gsm7 = _ASCII_NOT_GSM7.search(text) is None
        chars = set(text) if gsm7 else set()
    else:
        chars = set(text)
        gsm7 = chars <= GSM7_ALL
    if gsm7:
        wide = sum(text.count(char) for char in chars & GSM7_EXTENSION)
        return _split("GSM-7", text, wide, GSM7_SINGLE, GSM7_MULTI, _is_extension)
    # UCS-2 counts UTF-16 code units: a character above U+FFFF is a surrogate pair. A lone
    # surrogate (possible in a Python str) is passed through as the one unit it is.
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    return _split("UCS-2", text, units - len(text), UCS2_SINGLE, UCS2_MULTI, _is_astral)
