"""``mysms emulator``: the gateway emulator served on a local port, for apps in any language.

Needs uvicorn (the ``[emulator]`` extra), imported only here. It prints the demo account and a
command to try on stdout (or one JSON document), and keeps uvicorn's access log on stderr with
the password scrubbed from every logged query string.
"""

from __future__ import annotations

import copy
import logging
import socket
import sys
from typing import Any

from .._config import ENV_PASSWORD, ENV_SENDER, ENV_USERNAME
from .._redact import redact_text
from ._constants import EMULATOR_EXTRA, EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS
from ._output import UsageError
from ._session import Session
from ._signals import exit_status


class _RedactAccessLog(logging.Filter):
    """uvicorn's access log prints each request's path, query string (``p=``) included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in record.args)
        return True


def cmd_emulator(session: Session) -> int:
    args, out = session.args, session.out
    try:
        import uvicorn
        from uvicorn.config import LOGGING_CONFIG
    except ImportError:
        raise UsageError(f"mysms emulator needs uvicorn: {EMULATOR_EXTRA}") from None
    from ..testing import FakeGateway
    from ..testing._server import listening_socket

    gateway = FakeGateway(
        delivery_delay=args.delivery_delay,
        fail_share=args.fail_share,
        price_per_part=args.price_per_part,
        strict=not args.lenient,
        max_records=args.max_records,
    )
    account = gateway.accounts[0]
    gateway.set_balance(account.username, args.balance)

    try:
        sock = listening_socket(args.host, args.port)
    except OSError as error:
        out.error(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}", "OSError")
        return EXIT_PROBLEMS
    family = sock.family
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    base_url = f"http://{host}:{port}{gateway.base_path}"
    info = {
        "base_url": base_url,
        "username": account.username,
        "password": account.password,
        "sender": account.senders[0] if account.senders else None,
        "balance": str(gateway.balance_of(account.username)),
        "price_per_part": str(gateway.price_per_part),
    }
    if out.json:
        out.emit(info, redact=False)  # the demo password is what this document is for
    else:
        print(
            f"mysms emulator: an emulated gateway on {base_url} (Ctrl-C stops it)\n"
            f"  username  {info['username']}\n"
            f"  password  {info['password']}\n"
            f"  sender    {info['sender']}\n"
            f"  balance   {info['balance']} ({info['price_per_part']} per SMS part)\n"
            f"  try:      {ENV_USERNAME}={info['username']} {ENV_PASSWORD}={info['password']}"
            f" {ENV_SENDER}={info['sender']} mysms --base-url {base_url} send 79112223333 Hi"
        )
    sys.stdout.flush()

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # stdout is for the above
    config = uvicorn.Config(
        gateway,
        http="h11",
        lifespan="off",
        log_config=log_config,
        log_level="warning" if args.quiet else "info",
        access_log=not args.quiet,
        timeout_graceful_shutdown=1,
    )
    logging.getLogger("uvicorn.access").addFilter(_RedactAccessLog())
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn has shut down cleanly and re-raised the signal: stopped by the user, like
        # any other interrupted command.
        out.note("emulator stopped")
        return EXIT_INTERRUPTED
    finally:
        sock.close()
    out.note("emulator stopped")
    return _exit_after_serving(server)


def _exit_after_serving(server: Any) -> int:
    """The exit status of a server that returned: 128 plus the signal that stopped it.

    uvicorn re-raises the signal it caught once it has shut down, but on Python 3.11+ that
    reaches ``asyncio.run``'s own SIGINT handler, which only cancels a main task that may have
    finished already: the ``KeyboardInterrupt`` is then never raised (a race, seen in CI). So
    the signals it caught are read back (``_captured_signals``, uvicorn >= 0.29), else a server
    told to exit is taken as interrupted.
    """
    captured = getattr(server, "_captured_signals", None)
    if isinstance(captured, list) and captured:
        return exit_status(int(captured[0]))
    return EXIT_INTERRUPTED if getattr(server, "should_exit", False) else EXIT_OK
