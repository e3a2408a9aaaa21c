"""Every ```python block of README.md runs as printed, against the emulator.

``doc_blocks`` runs the blocks (shared with ``tests/test_docs.py``): each in a fresh namespace,
with the ``MYSMS_*`` variables pointing at a ``FakeGateway`` served on a loopback port, as a
reader who ran ``mysms emulator`` would have them. Running a block proves it is self-contained
and free of errors; the blocks that only define things are then used as a reader would:

* the FastAPI app is driven through its lifespan and ``httpx.ASGITransport``: a good number, a
  bad one (422), and a start without credentials (``ConfigurationError``);
* the aiogram dispatcher is fed ``/sms`` updates with a bot whose session records what it would
  have sent to Telegram instead of sending it; ``main()`` itself (polling Telegram) is not run;
* the pytest plugin example is written into a fresh project (pytester) and run there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest
from doc_blocks import (  # noqa: F401 - fixtures used below
    ROOT,
    Block,
    gateway_fixture,
    only_block,
    python_blocks,
    run_block,
)

from mysms_async import ConfigurationError
from mysms_async.testing import (
    DEMO_PASSWORD,
    DropAfterRead,
    ErrorState,
    FakeGateway,
    Fault,
)

pytest_plugins = ["pytester"]

README = ROOT / "README.md"
BLOCKS = python_blocks(README)
QUICK_START = 'sms.send("+7 (911) 222-33-33", "Your code is 1234")'


def _block(marker: str) -> Block:
    return only_block(BLOCKS, marker)


def test_the_readme_has_the_blocks_this_file_exercises() -> None:
    assert len(BLOCKS) >= 5
    markers = ("FastAPI(", "Dispatcher(", "def test_", "FakeGateway()", QUICK_START)
    for marker in markers:
        _block(marker)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line {b.line}" for b in BLOCKS])
async def test_every_python_block_runs_as_printed(gateway: FakeGateway, block: Block) -> None:
    await run_block(block)


async def test_quick_start_sends_through_the_gateway(
    gateway: FakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_block(_block(QUICK_START))
    (sent,) = gateway.messages.values()
    assert sent.destination == "79112223333"
    first, second, third = capsys.readouterr().out.splitlines()
    assert first == f"{sent.id} <MessageState.QUEUED: 2>"  # what its comment says
    assert second == "<MessageState.QUEUED: 2>"
    assert third == "998.5000"


# --- FastAPI ---------------------------------------------------------------------------------


@pytest.fixture
async def fastapi_app(gateway: FakeGateway) -> AsyncGenerator[httpx.AsyncClient, None]:
    namespace = await run_block(_block("FastAPI("))
    app = namespace["app"]
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http,
    ):
        yield http


async def test_fastapi_sends_a_code(fastapi_app: httpx.AsyncClient, gateway: FakeGateway) -> None:
    response = await fastapi_app.post("/login-code", params={"phone": "+7 911 222-33-33"})
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] is True and body["id"] in gateway.messages
    assert gateway.messages[body["id"]].text == "Your code: 1234"


async def test_fastapi_bad_number_is_a_422_not_a_500(
    fastapi_app: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    response = await fastapi_app.post("/login-code", params={"phone": "12"})
    assert response.status_code == 422
    assert "destination" in response.json()["detail"]
    assert gateway.requests == []  # refused before any I/O


@pytest.mark.parametrize(
    ("fault", "detail"),
    [
        (DropAfterRead(), "the code may have been sent"),  # accepted, answer lost
        (ErrorState(-51), "not sent: "),  # the gateway says it did not execute it
    ],
)
async def test_fastapi_gateway_failures_are_a_502(
    fastapi_app: httpx.AsyncClient, gateway: FakeGateway, fault: Fault, detail: str
) -> None:
    gateway.inject(fault, endpoint="send")
    response = await fastapi_app.post("/login-code", params={"phone": "79112223333"})
    assert response.status_code == 502
    assert response.json()["detail"].startswith(detail)
    assert DEMO_PASSWORD not in response.text


async def test_fastapi_without_credentials_stops_with_a_configuration_error(
    gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MYSMS_PASSWORD")
    namespace = await run_block(_block("FastAPI("))
    app = namespace["app"]
    with pytest.raises(ConfigurationError, match="MYSMS_PASSWORD"):
        async with app.router.lifespan_context(app):
            pass


# --- aiogram ---------------------------------------------------------------------------------


def _recording_bot() -> tuple[Any, list[str]]:
    """A bot whose session keeps the texts it would send to Telegram, and sends nothing."""
    from aiogram import Bot
    from aiogram.client.session.base import BaseSession
    from aiogram.methods import SendMessage
    from aiogram.types import Chat
    from aiogram.types import Message as TelegramMessage

    answers: list[str] = []

    class RecordingSession(BaseSession):
        async def make_request(self, bot: Any, method: Any, timeout: int | None = None) -> Any:
            assert isinstance(method, SendMessage), method
            answers.append(method.text)
            return TelegramMessage(
                message_id=len(answers) + 100,
                date=dt.datetime.now(dt.timezone.utc),
                chat=Chat(id=method.chat_id, type="private"),
                text=method.text,
            )

        async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
            raise AssertionError("no downloads here")
            yield b""  # pragma: no cover

        async def close(self) -> None:
            return None

    bot = Bot(token="42:TEST", session=RecordingSession())
    return bot, answers


def _update(text: str) -> Any:
    from aiogram.types import Update

    return Update.model_validate(
        {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "chat": {"id": 7, "type": "private"},
                "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
                "text": text,
            },
        }
    )


@pytest.mark.parametrize(
    ("text", "answer", "sent"),
    [
        ("/sms 79112223333 Hello there", "Queued as ", "Hello there"),
        ("/sms", "Usage: /sms PHONE TEXT", None),
        ("/sms 79112223333", "Usage: /sms PHONE TEXT", None),
        ("/sms 12 hi", "Not sent: ", None),
    ],
)
async def test_aiogram_handler(
    gateway: FakeGateway, text: str, answer: str, sent: str | None
) -> None:
    from mysms_async import MySMSClient

    namespace = await run_block(_block("Dispatcher("))
    bot, answers = _recording_bot()
    async with MySMSClient.from_env() as sms:  # as main() makes it
        await namespace["dp"].feed_update(bot, _update(text), sms=sms)
    (said,) = answers
    assert said.startswith(answer)
    texts = [m.text for m in gateway.messages.values()]
    assert texts == ([] if sent is None else [sent])
    if sent is not None:
        assert said == f"Queued as {next(iter(gateway.messages))}"


# --- the pytest plugin -----------------------------------------------------------------------


def test_the_plugin_example_passes_in_a_fresh_project(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")  # a project with no configuration of its own
    pytester.makepyfile(test_example=_block("def test_").source)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    assert result.ret == 0, result.stdout.str()
    # anyio runs it on each backend it finds installed (asyncio, and trio where present).
    result.stdout.fnmatch_lines(["*test_signup_sends_a_code?asyncio? PASSED*"])
