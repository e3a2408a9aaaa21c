"""What the real gateway forgives: missing credentials are -1, and ``strict=False`` lets through
what only a strict test double refuses."""

from __future__ import annotations

import httpx
import pytest
from emulator_wire import BASE, DEST, credit_json, read

from mysms_async.testing import DEMO_PASSWORD, DEMO_SENDER, DEMO_USERNAME, FakeGateway


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("send/json", {"p": DEMO_PASSWORD, "s": DEMO_SENDER, "d": DEST, "t": "x"}),
        ("send/xml", {"u": DEMO_USERNAME, "s": DEMO_SENDER, "d": DEST, "t": "x"}),
        ("status/json", {"id": "x"}),
        ("credit/json", {}),
        ("credit/xml", {"u": DEMO_USERNAME}),
    ],
)
async def test_a_get_without_credentials_answers_state_minus_1(
    strict: bool, path: str, params: dict[str, str]
) -> None:
    gateway = FakeGateway(strict=strict)
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        response = await http.get(path, params=params)
    assert response.status_code == 200
    answer = read(response)
    assert answer.state == "-1" and not answer.data
    assert gateway.messages == {}


async def test_strict_refuses_unknown_parameters_and_wrong_content_types() -> None:
    gateway = FakeGateway()
    assert gateway.strict
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        unknown = await http.get(
            "credit/json", params={"u": DEMO_USERNAME, "p": DEMO_PASSWORD, "lang": "ru"}
        )
        wrong_type = await http.post(
            "credit/json", content=credit_json(), headers={"content-type": "text/plain"}
        )
    assert unknown.status_code == 400 and "'lang'" in unknown.text
    assert wrong_type.status_code == 400 and "content-type" in wrong_type.text


async def test_lenient_lets_them_through() -> None:
    gateway = FakeGateway(strict=False)
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        unknown = await http.get(
            "send/json",
            params={
                "u": DEMO_USERNAME,
                "p": DEMO_PASSWORD,
                "s": DEMO_SENDER,
                "d": DEST,
                "t": "hi",
                "lang": "ru",
            },
        )
        wrong_type = await http.post(
            "credit/json", content=credit_json(), headers={"content-type": "text/plain"}
        )
        no_type = await http.post("credit/json", content=credit_json())
    sent = read(unknown)
    assert sent.state == "0" and sent.data is not None and sent.data[0][1] == "2"
    assert read(wrong_type).state == "0" and read(no_type).state == "0"
    assert len(gateway.messages) == 1
