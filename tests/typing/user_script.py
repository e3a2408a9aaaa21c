# pyright: strict
"""A user's script that calls every public entry point of mysms-async, with its types inferred.

Never run (it would talk to a gateway): it is type-checked, against the installed package, by
``mypy --strict`` and pyright in strict mode (``.ci/types``), and by ``mypy --strict`` in the suite
(``tests/typing/test_user_script.py``). A signature change that breaks ordinary user code (the
README's bulk snippet passes ``r.id``, a ``str | None``, to ``status_many``) fails both. No
``Any`` and no annotations beyond what a user would write: the types come from the library.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from decimal import Decimal

from mysms_async import (
    Balance,
    DeliveryUnknownError,
    Message,
    MessageState,
    MySMSClient,
    MySMSError,
    Segments,
    SendResult,
    StatusResult,
    segments,
)
from mysms_async.campaigns import Campaign, Journal, Report, RunSummary, TrackSummary


async def single(sms: MySMSClient) -> None:
    result = await sms.send(
        "+7 911 222-33-33", "Hello", sender="Shop", date=dt.datetime.now(dt.timezone.utc), ttl=60
    )
    sent: SendResult = result.raise_for_state()
    message_id: str | None = sent.id
    state: MessageState | int | None = sent.state
    if sent.ok and message_id is not None:
        status: StatusResult = await sms.status(message_id, timeout=dt.timedelta(seconds=2))
        final: bool = status.is_final
        print(state, final)
    balance: Balance = await sms.balance(timeout=5)
    amount: Decimal = balance.amount
    parts: Segments = segments("Привет")
    print(amount, parts.parts, parts.encoding, sms.is_closed)


async def bulk(sms: MySMSClient) -> None:
    rows = [("+7 911 222-33-33", "Hello, Anna"), ("+7 911 222-33-34", "Hello, Boris")]
    messages = [Message(phone, text) for phone, text in rows]

    results = await sms.send_many(messages)
    ids = [r.id for r in results if r.ok]  # list[str | None]: the README's bulk snippet

    async with sms.stream_send(messages) as stream:
        async for result in stream:
            print(result.message.destination, result.ok, result.id)
    leftover: list[SendResult] = stream.leftover

    async for result in sms.iter_send(messages):
        print(result.id)
        break

    statuses: list[StatusResult] = await sms.status_many(ids)
    final = await sms.wait_for_delivery(ids, timeout=5, poll_interval=0.5)
    only_str: list[str] = [r.id for r in results if r.id is not None]
    more = await sms.wait_for_delivery(only_str, timeout=dt.timedelta(seconds=5))
    print(leftover, statuses, [s.requested_id for s in final], more)


async def options(sms: MySMSClient) -> None:
    urgent: MySMSClient = sms.with_options(timeout=2, max_retries=0)
    try:
        await urgent.send("+7 911 222-33-33", "Now")
    except DeliveryUnknownError as error:
        print("may have been sent:", error)
    except MySMSError as error:
        print(error)


async def campaigns(sms: MySMSClient) -> None:
    with Journal("sqlite:///campaigns.db") as journal:
        made: Campaign = await journal.create(
            "spring", [Message("+7 911 222-33-33", "Spring sale")]
        )
        loaded: dict[str, int] = made.loaded
        campaign = journal.campaign("spring")
        summary: RunSummary = await campaign.run(sms, batch_size=100, lanes=2, rate_limit=5.0)
        tracked: TrackSummary = await campaign.track(sms, until_final=True, timeout=60)
        report: Report = campaign.report(price_per_part=Decimal("2.50"))
        done: bool = report.done
        out = io.StringIO()
        exported: int = campaign.export(out, fmt="jsonl")
        resolved: int = campaign.resolve(resend_unknown=False, keys=["1"])
        names: list[str] = journal.names()
        print(loaded, summary.outcomes, tracked.left, done, report.as_dict(), exported, resolved)
        print(names, journal.kind, campaign.name, campaign.rate_limit)


async def main() -> None:
    password = os.environ["MYSMS_PASSWORD"]
    async with MySMSClient("demo", password, sender="Shop", batch_size=100) as sms:
        await single(sms)
        await bulk(sms)
        await options(sms)
        await campaigns(sms)
    async with MySMSClient.from_env() as from_env:
        await bulk(from_env)
