"""``mysms emulator``: the socket it listens on, its help, and how it stops.

uvicorn's ``Server.run`` is replaced by a stand-in that serves the socket it is given with plain
asyncio (what uvicorn does underneath) and then stops the way uvicorn does after Ctrl-C: by
re-raising ``KeyboardInterrupt``. That lets the test look at the server's side of an accepted
connection, which no client can see.
"""

from __future__ import annotations

import asyncio
import json
import socket
from decimal import Decimal

import pytest
import uvicorn

from mysms_async._cli import main
from mysms_async.testing import FakeGateway
from mysms_async.testing._server import listening_socket


async def _accepted_nodelay(sock: socket.socket) -> int:
    """Accept one connection on ``sock`` with asyncio; its server side's TCP_NODELAY."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server_side: socket.socket = writer.get_extra_info("socket")
        accepted.set_result(server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=sock)
    host, port = sock.getsockname()[:2]
    _, writer = await asyncio.open_connection(host, port)
    try:
        return await asyncio.wait_for(accepted, 5)
    finally:
        writer.close()
        server.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_the_listening_socket_turns_nagle_off_for_every_connection(host: str) -> None:
    if host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        sock = listening_socket(host, 0)
    except OSError:
        pytest.skip(f"cannot bind {host} here")
    assert asyncio.run(_accepted_nodelay(sock)) == 1


def test_mysms_emulator_turns_nagle_off_and_ctrl_c_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[int] = []

    def run(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        assert sockets is not None
        (sock,) = sockets
        seen.append(asyncio.run(_accepted_nodelay(sock)))
        raise KeyboardInterrupt  # what uvicorn re-raises once it has shut down after Ctrl-C

    monkeypatch.setattr(uvicorn.Server, "run", run)
    code = main(["--json", "emulator", "--port", "0"])
    out, err = capsys.readouterr()
    assert seen == [1]  # 0 would make every answer on a kept-alive connection wait ~40 ms
    assert code == 130
    assert json.loads(out)["base_url"].startswith("http://127.0.0.1:")
    assert "emulator stopped" in err


def test_emulator_help_lists_only_its_own_options_with_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["emulator", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for unused in ("--sandbox", "--format", "--method", "--base-url", "--sender", "--batch-size",
                   "--concurrency", "--retries", "--request-timeout"):  # fmt: skip
        assert unused not in text
    for used in (
        "--host HOST address to listen on (default: 127.0.0.1)",
        "(default: 8080)",
        "--balance AMOUNT the demo account's balance (default: 1000)",
        "(default: 1.50)",
        "--json",
        "--quiet",
    ):
        assert used in text


def test_a_port_in_use_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    taken = listening_socket("127.0.0.1", 0)
    taken.listen()
    try:
        code = main(["emulator", "--port", str(taken.getsockname()[1])])
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot listen on 127.0.0.1:" in err and "Traceback" not in err


def test_emulator_options_reach_the_gateway(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[FakeGateway] = []

    def run(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        seen.append(self.config.app)
        raise KeyboardInterrupt

    monkeypatch.setattr(uvicorn.Server, "run", run)
    argv = ["emulator", "--port", "0", "-q", "--lenient", "--max-records", "2", "--balance", "5"]
    assert main(argv) == 130
    (gateway,) = seen
    assert not gateway.strict and gateway.balance_of("demo") == 5
    assert gateway.price_per_part == Decimal("1.50")
    assert main(["emulator", "--port", "0", "-q"]) == 130
    assert seen[1].strict
