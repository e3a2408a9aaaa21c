"""The per-message rules of a send, balances charged per part, and accounts."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from emulator_wire import COMBOS, DEST, Format, Method, message, send, send_one, status

from mysms_async.testing import (
    DEMO_BALANCE,
    DEMO_PASSWORD,
    DEMO_SENDER,
    DEMO_USERNAME,
    Account,
    FakeGateway,
    HTTPErrorStatus,
)


async def _state_of(
    http: httpx.AsyncClient, method: Method, fmt: Format, msg: dict[str, str]
) -> str:
    answer = await send(http, method, fmt, msg)
    assert answer.state == "0"
    assert answer.data is not None
    ((message_id, state),) = answer.data
    assert (message_id == "") == (state != "2")
    return state


def _without(msg: dict[str, str], field: str) -> dict[str, str]:
    return {k: v for k, v in msg.items() if k != field}


CASES: list[tuple[str, dict[str, str], str]] = [
    ("unregistered sender", message(source="Other"), "-11"),
    ("sender of 12 letters", message(source="A" * 12), "-11"),
    ("sender with a space", message(source="My SMS"), "-11"),
    ("sender in Cyrillic", message(source="МойСМС"), "-11"),
    ("missing sender", _without(message(), "source"), "-11"),
    ("empty sender", message(source=""), "-11"),
    ("destination too short", message(destination="791122233"), "-12"),
    ("destination too long", message(destination="7" * 16), "-12"),
    ("destination with a plus", message(destination="+79112223333"), "-12"),
    ("destination with a dash", message(destination="7911-222-3333"), "-12"),
    ("destination in other digits", message(destination="٧٩١١٢٢٢٣٣٣٣"), "-12"),
    ("missing destination", _without(message(), "destination"), "-12"),
    ("empty text", message(""), "-14"),
    ("missing text", _without(message(), "text"), "-14"),
    ("ISO date", message(date="2026-11-24 18:30:00"), "-15"),
    ("date without seconds", message(date="24.11.2026 18:30"), "-15"),
    ("impossible date", message(date="31.02.2026 18:30:00"), "-15"),
    ("12-hour date", message(date="24.11.2026 6:30:00 PM"), "-15"),
    ("empty date", message(date=""), "-15"),
    ("zero ttl", message(ttl="0"), "-16"),
    ("negative ttl", message(ttl="-5"), "-16"),
    ("fractional ttl", message(ttl="1.5"), "-16"),
    ("ttl with a unit", message(ttl="10m"), "-16"),
    ("ttl with a leading zero", message(ttl="010"), "-16"),
    ("empty ttl", message(ttl=""), "-16"),
    ("everything fine", message(date="24.11.2026 18:30:00", ttl="10"), "2"),
    ("10-digit destination", message(destination="9112223333"), "2"),
    ("15-digit destination", message(destination="1" * 15), "2"),
    ("whitespace-only text", message(" "), "2"),
]


@pytest.mark.parametrize(("method", "fmt"), COMBOS)
@pytest.mark.parametrize(("case", "msg", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_message_rules(
    http: httpx.AsyncClient,
    gateway: FakeGateway,
    method: Method,
    fmt: Format,
    case: str,
    msg: dict[str, str],
    expected: str,
) -> None:
    assert await _state_of(http, method, fmt, msg) == expected, case
    accepted = expected == "2"
    assert len(gateway.messages) == int(accepted)
    assert gateway.balance_of(DEMO_USERNAME) == (
        DEMO_BALANCE - Decimal("1.50") if accepted else DEMO_BALANCE
    )


async def test_first_failing_rule_decides(http: httpx.AsyncClient) -> None:
    everything_wrong = message("", source="x" * 20, destination="1", date="x", ttl="x")
    assert await _state_of(http, "POST", "json", everything_wrong) == "-11"
    assert (
        await _state_of(http, "POST", "json", {**everything_wrong, "source": DEMO_SENDER}) == "-12"
    )


async def test_numeric_and_alphanumeric_senders() -> None:
    gateway = FakeGateway([Account("acme", "pw", Decimal(10), ("123456789012345", "Acme2026"))])
    async with httpx.AsyncClient(
        transport=gateway.transport(), base_url="http://mysms.test/rest/sms/"
    ) as http:
        for sender in ("123456789012345", "Acme2026"):
            msg = message(source=sender)
            answer = await send(http, "POST", "json", msg, username="acme", password="pw")
            assert answer.data is not None
            assert answer.data[0][1] == "2"
        demo_sender = message(source=DEMO_SENDER)
        answer = await send(http, "POST", "json", demo_sender, username="acme", password="pw")
        assert answer.data == [("", "-11")]


def test_malformed_registered_senders_are_refused() -> None:
    gateway = FakeGateway(accounts=())
    for sender in ("A" * 12, "1" * 16, " MySMS", "Щит", "12-34", ""):
        with pytest.raises(ValueError, match="malformed"):
            gateway.add_account("x", "y", senders=(sender,))
    with pytest.raises(ValueError, match="negative"):
        gateway.add_account("x", "y", balance=-1)
    gateway.add_account("x", "y")
    with pytest.raises(ValueError, match="already exists"):
        gateway.add_account("x", "z")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("ж" * 134, 2),
        ("😀" * 35, 1),
        ("😀" * 36, 2),
    ],
)
async def test_charged_per_part(
    http: httpx.AsyncClient, gateway: FakeGateway, text: str, parts: int
) -> None:
    message_id = await send_one(http, text)
    sent = gateway.message(message_id)
    assert sent.parts == parts
    assert sent.price == Decimal("1.50") * parts
    assert gateway.balance_of(DEMO_USERNAME) == DEMO_BALANCE - Decimal("1.50") * parts


async def test_price_per_part_is_configurable() -> None:
    gateway = FakeGateway(price_per_part="0.35")
    async with httpx.AsyncClient(
        transport=gateway.transport(), base_url="http://mysms.test/rest/sms/"
    ) as http:
        await send_one(http, "ж" * 71)
        answer = await send(http, "GET", "json", message())
        assert answer.data is not None
        balance = await http.get("credit/json", params={"u": DEMO_USERNAME, "p": DEMO_PASSWORD})
    assert gateway.balance_of(DEMO_USERNAME) == Decimal("998.95")
    assert balance.json() == {"state": "0", "balance": "998,9500"}


async def test_not_enough_money_rejects_without_going_negative(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.set_balance(DEMO_USERNAME, "4.00")
    answer = await send(
        http,
        "POST",
        "json",
        message("a" * 161),  # 2 parts: 3.00, leaves 1.00
        message("a" * 161),  # 2 parts: 3.00 > 1.00: -13
        message("short"),  # 1 part: 1.50 > 1.00: -13
    )
    assert answer.data is not None
    assert [state for _, state in answer.data] == ["2", "-13", "-13"]
    assert gateway.balance_of(DEMO_USERNAME) == Decimal("1.00")
    gateway.set_balance(DEMO_USERNAME, "1.50")
    assert await _state_of(http, "POST", "xml", message("exact")) == "2"
    assert gateway.balance_of(DEMO_USERNAME) == 0
    assert await _state_of(http, "POST", "xml", message("more")) == "-13"
    assert gateway.balance_of(DEMO_USERNAME) == 0


async def test_rejected_messages_are_not_charged(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    await send(http, "POST", "json", message(destination="1"), message(ttl="0"), message(""))
    assert gateway.balance_of(DEMO_USERNAME) == DEMO_BALANCE
    assert gateway.messages == {}


async def test_status_of_another_accounts_message_is_minus_10(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.add_account("bob", "bob-pw")
    message_id = await send_one(http)
    answer = await status(http, "POST", "json", message_id, username="bob", password="bob-pw")
    assert answer.data == [("", "-10")]
    answer = await status(http, "GET", "xml", message_id)
    assert answer.data == [(message_id, "2")]
    answer = await status(http, "GET", "json", "")
    assert answer.data == [("", "-10")]
    answer = await status(http, "POST", "xml", message_id.upper())
    assert answer.data == [("", "-10")]


def test_accounts_and_balances() -> None:
    gateway = FakeGateway()
    (demo,) = gateway.accounts
    assert demo == Account(DEMO_USERNAME, DEMO_PASSWORD, DEMO_BALANCE, (DEMO_SENDER,))
    assert DEMO_PASSWORD not in repr(demo)
    assert gateway.balance_of("demo") == Decimal(1000)
    with pytest.raises(KeyError, match="nobody"):
        gateway.balance_of("nobody")
    with pytest.raises(ValueError, match="negative"):
        gateway.set_balance("demo", "-0.01")
    assert FakeGateway(accounts=()).accounts == ()


async def test_reset_forgets_everything_but_accounts(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    await send_one(http)
    gateway.set_balance(DEMO_USERNAME, 5)
    gateway.inject(HTTPErrorStatus(503))
    gateway.random_faults(1.0, [HTTPErrorStatus(500)])
    gateway.reset()
    assert gateway.requests == []
    assert gateway.messages == {}
    assert gateway.pending_faults == ()
    assert gateway.balance_of(DEMO_USERNAME) == DEMO_BALANCE
    assert await _state_of(http, "POST", "json", message()) == "2"
    assert DEST in {m.destination for m in gateway.messages.values()}
