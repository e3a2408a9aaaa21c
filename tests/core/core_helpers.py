"""What the core tests share: the account, and a client on httpx's real transport for respx."""

from __future__ import annotations

from typing import Any

import httpx

from mysms_async import MySMSClient

BASE = "https://my-sms.ru/rest/sms/"
USERNAME = "alice"
PASSWORD = "S3cr3t-p@ss word&more"

#: Built once and shared: httpx otherwise builds a fresh SSL context (about 70 ms) per client.
SSL_CONTEXT = httpx.create_ssl_context()


def fast_transport() -> httpx.AsyncHTTPTransport:
    """httpx's real transport (respx intercepts its httpcore pool), minus the SSL set-up cost."""
    return httpx.AsyncHTTPTransport(verify=SSL_CONTEXT)


def make_client(*, shared_ssl: bool = True, **kwargs: Any) -> MySMSClient:
    """A client of the test account that never sleeps between retries, on the shared-SSL
    transport (``shared_ssl=False``: the client builds its own, as users' clients do)."""
    kwargs.setdefault("retry_backoff", 0)
    if shared_ssl:
        kwargs.setdefault("transport", fast_transport())
    return MySMSClient(USERNAME, PASSWORD, **kwargs)
