"""segments(): encoding, length and parts, counted as the network counts them."""

from __future__ import annotations

import bisect

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mysms_async._segments import GSM7_BASIC, GSM7_EXTENSION, Segments, segments

EXTENSION = "^{}[~]|€\\\f"


def test_segments_is_a_frozen_struct() -> None:
    result = segments("Hi")
    assert isinstance(result, msgspec.Struct)
    with pytest.raises(AttributeError):
        result.parts = 2  # type: ignore[misc]
    assert msgspec.json.encode(result) == (
        b'{"encoding":"GSM-7","length":2,"parts":1,"per_part":160}'
    )


def test_empty_text_has_no_parts() -> None:
    assert segments("") == Segments("GSM-7", 0, 0, 160)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, Segments("GSM-7", 160, 1, 160)),
        ("a" * 161, Segments("GSM-7", 161, 2, 153)),
        ("a" * 153 * 2, Segments("GSM-7", 306, 2, 153)),
        ("a" * (153 * 2 + 1), Segments("GSM-7", 307, 3, 153)),
        ("a" * 153 * 3, Segments("GSM-7", 459, 3, 153)),
    ],
)
def test_gsm7_boundaries(text: str, expected: Segments) -> None:
    assert segments(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ж" * 70, Segments("UCS-2", 70, 1, 70)),
        ("ж" * 71, Segments("UCS-2", 71, 2, 67)),
        ("ж" * 67 * 2, Segments("UCS-2", 134, 2, 67)),
        ("ж" * (67 * 2 + 1), Segments("UCS-2", 135, 3, 67)),
    ],
)
def test_ucs2_boundaries(text: str, expected: Segments) -> None:
    assert segments(text) == expected


@pytest.mark.parametrize("char", list(EXTENSION))
def test_each_extension_character_counts_two_septets(char: str) -> None:
    assert segments(char) == Segments("GSM-7", 2, 1, 160)
    assert segments("a" + char + "b") == Segments("GSM-7", 4, 1, 160)


def test_extension_table_is_exactly_the_standard_set() -> None:
    assert frozenset(EXTENSION) == GSM7_EXTENSION
    assert not GSM7_EXTENSION & GSM7_BASIC
    assert len(GSM7_BASIC) == 127  # 128 code points less the escape


def test_extension_characters_fill_a_single_part_at_two_each() -> None:
    assert segments("€" * 80) == Segments("GSM-7", 160, 1, 160)
    assert segments("€" * 80 + "a") == Segments("GSM-7", 161, 2, 153)
    assert segments("a" * 159 + "^") == Segments("GSM-7", 161, 2, 153)


def test_extension_character_is_not_split_across_parts() -> None:
    # 152 septets, then a 2-septet character that would straddle the 153 boundary: it moves to
    # part 2, leaving 1 septet of part 1 unused. 152 + 2 + 152 = 306 = 2 * 153 septets, yet 3 parts.
    text = "a" * 152 + "€" + "a" * 152
    assert segments(text) == Segments("GSM-7", 306, 3, 153)
    # The same septets without a straddling character fit in two parts.
    assert segments("a" * 151 + "€" + "a" * 153) == Segments("GSM-7", 306, 2, 153)


def test_emoji_counts_two_code_units() -> None:
    assert segments("😀") == Segments("UCS-2", 2, 1, 70)
    assert segments("😀" * 35) == Segments("UCS-2", 70, 1, 70)
    assert segments("😀" * 36) == Segments("UCS-2", 72, 2, 67)


def test_surrogate_pair_is_not_split_across_parts() -> None:
    # 66 units, then a pair that would straddle the 67 boundary.
    text = "ж" * 66 + "😀" + "ж" * 66
    assert segments(text) == Segments("UCS-2", 134, 3, 67)
    assert segments("ж" * 65 + "😀" + "ж" * 67) == Segments("UCS-2", 134, 2, 67)


def test_cyrillic_is_ucs2() -> None:
    assert segments("Привет, мир") == Segments("UCS-2", 11, 1, 70)


def test_one_foreign_character_makes_the_whole_text_ucs2() -> None:
    assert segments("a" * 100 + "ж") == Segments("UCS-2", 101, 2, 67)
    # A GSM-7 extension character costs one code unit in UCS-2, not two.
    assert segments("€ж") == Segments("UCS-2", 2, 1, 70)


@pytest.mark.parametrize(
    "text",
    ["Ünïcödé is not all GSM: ï", "tab\there", "back`tick", "bell\x07", "del\x7f", "ç"],
)
def test_characters_outside_gsm7_force_ucs2(text: str) -> None:
    assert segments(text).encoding == "UCS-2"


@pytest.mark.parametrize(
    "text", ["@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./", "¡ÄÖÑÜ§¿äöñüà", "line\nbreak\r"]
)
def test_gsm7_basic_non_ascii_characters_stay_gsm7(text: str) -> None:
    assert segments(text) == Segments("GSM-7", len(text), 1, 160)


def test_lone_surrogate_counts_one_unit() -> None:
    assert segments("\ud83d") == Segments("UCS-2", 1, 1, 70)


def _units(char: str, encoding: str) -> int:
    if encoding == "GSM-7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def _fewest_parts(text: str, encoding: str, capacity: int) -> int:
    """The fewest parts ``text`` can be cut into, no character split, by dynamic programming over
    cut positions (independent of the greedy packing under test)."""
    prefix = [0]
    for char in text:
        prefix.append(prefix[-1] + _units(char, encoding))
    best = [0] + [len(text) + 1] * len(text)
    for end in range(1, len(text) + 1):
        # A part may end here if it starts at a cut ``start`` holding at most ``capacity`` units.
        start = bisect.bisect_left(prefix, prefix[end] - capacity, 0, end)
        best[end] = min(best[cut] for cut in range(start, end)) + 1
    return best[-1]


_alphabet = st.sampled_from([*sorted(GSM7_BASIC | GSM7_EXTENSION), "ж", "😀", "\t"])


@given(
    st.one_of(
        st.text(alphabet=_alphabet, max_size=200),
        st.text(alphabet=_alphabet, min_size=140, max_size=700),
    )
)
def test_parts_cover_the_length_and_are_minimal(text: str) -> None:
    result = segments(text)
    assert result.length == sum(_units(char, result.encoding) for char in text)
    if not text:
        assert result.parts == 0
        return
    assert result.parts * result.per_part >= result.length
    assert result.parts == _fewest_parts(text, result.encoding, result.per_part)
    single = 160 if result.encoding == "GSM-7" else 70
    if result.parts > 1:
        assert result.per_part == (153 if result.encoding == "GSM-7" else 67)
        assert result.length > single
    else:
        assert result.per_part == single
        assert result.length <= single


@given(st.text(max_size=300))
def test_encoding_follows_the_alphabet(text: str) -> None:
    gsm7 = all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)
    assert segments(text).encoding == ("GSM-7" if gsm7 else "UCS-2")
