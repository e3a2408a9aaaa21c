"""Shared fixtures: a password that tests can search for, and clients on a respx-mocked gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mysms_async import MySMSClient

BASE_URL = "https://my-sms.ru/rest/sms/"
USERNAME = "alice"
PASSWORD = "S3cr3t-p@ss word&more"


@pytest.fixture
async def client() -> AsyncIterator[MySMSClient]:
    async with MySMSClient(USERNAME, PASSWORD, sender="MySMS", retry_backoff=0) as c:
        yield c
