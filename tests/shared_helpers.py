"""Plain helpers every test folder shares (fixtures are in ``tests/conftest.py``).

A module of its own, with a name no other test module has: ``from conftest import ...`` would
take whichever folder's conftest was imported first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

import anyio
import httpx
import pytest

from mysms_async import MySMSClient
from mysms_async.testing import FakeGateway


async def wait_until(condition: Callable[[], bool], *, timeout: float = 10) -> None:  # noqa: ASYNC109
    """Wait for state that another thread keeps (a served emulator records each request in
    uvicorn's thread): it has no event to await, so it is checked every millisecond; a
    deadline turns a condition that never comes true into a failure, never a hang."""
    with anyio.fail_after(timeout):
        while not condition():  # noqa: ASYNC110
            await anyio.sleep(0.001)


# --- clients ------------------------------------------------------------------------------------


def emulator_client(gateway: FakeGateway, base_url: str | None, **kwargs: Any) -> MySMSClient:
    """A client of ``gateway`` that never sleeps between retries: in-process (``base_url`` None)
    or over the loopback port ``base_url`` on the client's own engine. ``gateway.client`` picks
    the first account and sender unless ``username``, ``password`` or ``sender`` are given."""
    kwargs.setdefault("retry_backoff", 0)
    if base_url is not None:
        kwargs["base_url"] = base_url
        kwargs.setdefault("http_client", None)  # the client's own engine, unless one is given
    return gateway.client(**kwargs)


# --- secrets ------------------------------------------------------------------------------------


def spellings(secret: str, *cores: str) -> frozenset[str]:
    """Every spelling ``secret`` could take on its way out (raw, percent- and form-encoded, in a
    query string, XML-escaped, in JSON, as bytes), and ``cores``: distinctive parts of it that
    catch a partial or re-encoded form. Lower-cased: ``leaks`` compares without case."""
    forms = (
        secret,
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        str(httpx.QueryParams({"p": secret}))[2:],
        escape(secret),
        json.dumps(secret)[1:-1],
        repr(secret.encode())[2:-1],
        *cores,
    )
    return frozenset(form.lower() for form in forms)


def leaks(text: str, forms: Iterable[str]) -> list[str]:
    """The lines of ``text`` that hold any of ``forms`` (from ``spellings``), whatever the case."""
    forms = tuple(forms)
    return [line for line in text.splitlines() if any(form in line.lower() for form in forms)]


def assert_no_secret(*texts: str, forms: Iterable[str], where: str = "the output") -> None:
    """Fail, naming ``where`` and the lines, if any of ``texts`` holds the secret."""
    found = [line for text in texts for line in leaks(text, forms)]
    if found:
        pytest.fail(f"the password leaked in {where}:\n" + "\n".join(found[:20]))


# --- campaigns ----------------------------------------------------------------------------------

#: The keys of a campaign report's ``counts``, pinned for scripts (spelled out, not derived from
#: the library, so a renamed or dropped outcome fails the tests).
CAMPAIGN_COUNT_KEYS = frozenset(
    {
        "pending",
        "sending",
        "accepted",
        "delivered",
        "undelivered",
        "refused",
        "failed",
        "invalid",
        "unknown",
        "skipped",
    }
)
