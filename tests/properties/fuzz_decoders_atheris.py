"""Coverage-guided fuzzing of the response decoders with atheris (libFuzzer), run by hand.

CI runs the hypothesis version (``test_fuzz_decoders.py``); this harness is for longer hunts::

    pip install atheris            # not a project dependency
    python tests/properties/fuzz_decoders_atheris.py -max_total_time=300 -timeout=2

The first byte picks the decoder and the format; the rest is the body. A finding is any exception
other than ``ResponseError``, or a call slower than a second (libFuzzer's ``-timeout`` catches a
real hang).
"""

from __future__ import annotations

import contextlib
import sys
import time

import atheris

with atheris.instrument_imports():
    from mysms_async import ResponseError
    from mysms_async._decoders import decode_balance, decode_batch

DECODERS = [
    (decode_batch, "json"),
    (decode_batch, "xml"),
    (decode_balance, "json"),
    (decode_balance, "xml"),
]


def test_one_input(data: bytes) -> None:
    if not data:
        return
    decode, wire_format = DECODERS[data[0] % len(DECODERS)]
    body = data[1:]
    started = time.perf_counter()
    with contextlib.suppress(ResponseError):
        decode(body, wire_format)  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    if elapsed > 1.0:
        raise AssertionError(f"{decode.__name__}({wire_format}) took {elapsed:.2f}s: {body[:80]!r}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
