"""Hypothesis strategies shared by the property tests: message fields as callers write them."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from hypothesis import strategies as st

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
#: The emulator's sender rule, written again here: up to 11 Latin letters, digits, inner spaces
#: and ``.-_`` with at least one letter, or up to 15 digits. The client's rule is the same.
EMULATOR_SENDER = re.compile(
    r"(?! )(?=[0-9 ._\-]*[A-Za-z])[A-Za-z0-9 ._\-]{1,11}(?<! )|[0-9]{1,15}"
)
SPECIAL = "&<>\"' \r\n\t]]>\u00a0\u2028\u200b\ufeffПривет😀\U0001f468\u200d\U0001f469"

#: Any Unicode text, with the characters that break builders drawn often.
texts = st.one_of(
    st.text(),
    st.text(st.sampled_from(SPECIAL), min_size=1),
    st.text(st.one_of(st.sampled_from(SPECIAL), st.characters()), min_size=1),
)

#: Characters XML 1.0 cannot carry (and the client refuses in a text): C0 controls but tab, LF and
#: CR; DEL and the C1 controls; U+FFFE and U+FFFF. Surrogates are left out by ``codec``.
UNSENDABLE = (
    [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + ["\ufffe", "\uffff"]
)
#: Any text the client should accept: all of Unicode but the characters above, never empty
#: nor blank (only whitespace is refused as empty: issue 14 item 8), within max_parts=10.
sendable_texts = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters=UNSENDABLE), min_size=1),
    st.text(st.sampled_from(SPECIAL), min_size=1),
    st.text(
        st.one_of(
            st.sampled_from(SPECIAL),
            st.characters(codec="utf-8", exclude_characters=UNSENDABLE),
        ),
        min_size=1,
    ),
).filter(lambda text: not text.isspace() and len(text) <= 330)

latin_senders = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True)
digit_senders = st.from_regex(r"[0-9]{1,15}", fullmatch=True)
#: Senders the client accepts but the emulator does not (a space, a dot, a dash...).
decorated_senders = st.from_regex(
    r"[A-Za-z0-9]([A-Za-z0-9 ._\-]{0,9}[A-Za-z0-9])?", fullmatch=True
).filter(lambda s: any(c.isalpha() for c in s))
senders = st.one_of(latin_senders, digit_senders, decorated_senders)


@st.composite
def destinations(draw: st.DrawFn) -> tuple[str, str]:
    """(as written, as sent): "+7 (911) 222-33-33" and "79112223333"."""
    digits = draw(st.from_regex(r"[0-9]{10,15}", fullmatch=True))
    decoration = st.sampled_from(["", "", "", " ", "-", ".", "(", ")", " (", ") ", "\t", "\u00a0"])
    written = "".join(draw(decoration) + digit for digit in digits)
    if draw(st.booleans()):
        written = "+" + written
    padding = st.sampled_from(["", " ", "\t", "\n"])
    return draw(padding) + written + draw(padding), digits


def spelled(value: dt.datetime) -> str:
    """``dd.MM.yyyy HH:mm:ss``, spelled field by field (not through ``strftime``)."""
    return (
        f"{value.day:02d}.{value.month:02d}.{value.year:04d}"
        f" {value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )


def expected_date(value: dt.datetime) -> str:
    """What the gateway should receive: aware datetimes in Moscow time, naive ones as written."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        return spelled(value.astimezone(MOSCOW))
    return spelled(value)


#: Plausible send times: the years a scheduled SMS can have. The whole datetime range is the
#: subject of ``test_request_builder.py::test_every_date_is_spelled_dd_mm_yyyy_or_refused``.
naive_dates = st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(9998, 12, 30))
aware_dates = st.datetimes(
    min_value=dt.datetime(1970, 1, 2),
    max_value=dt.datetime(9998, 12, 30),
    timezones=st.one_of(st.timezones(), st.just(dt.timezone.utc), st.just(MOSCOW)),
)
dates = st.one_of(st.none(), naive_dates, aware_dates)
ttls = st.one_of(st.none(), st.integers(min_value=1, max_value=2**31 - 1))
