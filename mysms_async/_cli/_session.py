"""One run of the command: its options, its output, and the client it talks through.

The client is real (credentials from :mod:`._credentials`) or, with ``--sandbox``, served by an
in-process gateway with a demo account. Either way the library's errors are turned into exit
statuses here, by :func:`exit_for_error`, for every command (``bulk`` first accounts for each row).
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._client import InsecureURLWarning, MySMSClient
from .._config import (
    ENV_BASE_URL,
    ENV_FORMAT,
    ENV_METHOD,
    ENV_PASSWORD,
    ENV_SENDER,
    ENV_USERNAME,
    read_env,
)
from .._exceptions import AuthError, ConfigurationError, MySMSError, ValidationError
from ._constants import (
    AUTH_FAILED,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    SANDBOX_DELIVERY_DELAY,
    SANDBOX_LATENCY,
)
from ._credentials import credentials
from ._describe import describe_error, describe_validation
from ._output import Output, UsageError
from ._signals import Stop, exit_status, run_interruptible, stopping_note

if TYPE_CHECKING:
    from ..testing import FakeGateway


#: The client argument each variable sets (the library's own ``from_env`` reads the same).
_ENV_OPTIONS = (
    (ENV_USERNAME, "username"),
    (ENV_SENDER, "sender"),
    (ENV_BASE_URL, "base_url"),
    (ENV_FORMAT, "wire_format"),
    (ENV_METHOD, "http_method"),
)


@dataclass
class Session:
    """One run of the command: its options, its output, and the sandbox gateway if any."""

    args: argparse.Namespace
    out: Output
    gateway: FakeGateway | None = None
    #: What SIGINT / SIGTERM asked of the run, once its event loop runs.
    stop: Stop | None = None


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.format is not None:
        options["wire_format"] = args.format
    if args.method is not None:
        options["http_method"] = args.method.upper()
    if args.sender is not None:
        options["sender"] = args.sender
    if args.batch_size is not None:
        options["batch_size"] = args.batch_size
    if args.concurrency is not None:
        options["max_concurrency"] = args.concurrency
    if args.retries is not None:
        options["max_retries"] = args.retries
    if args.request_timeout is not None:
        options["timeout"] = args.request_timeout
    if getattr(args, "command", None) == "campaign":
        # a campaign's texts were held to its own --max-parts when it was created: sending them
        # later under another limit would turn rows the journal accepted into "invalid"
        options["max_parts"] = None
    elif getattr(args, "max_parts", None) is not None:  # send, bulk: 0 is no limit
        options["max_parts"] = args.max_parts or None
    return options


def sandbox(session: Session) -> FakeGateway:
    """The in-process gateway of ``--sandbox``, made once, announced on stderr.

    It remembers between runs (messages, balance) in a file under the user's cache directory
    (:mod:`mysms_async.testing._sandbox`); its clock is the wall clock, so that a message sent in
    one run has moved on when the next run asks.
    """
    if session.gateway is None:
        args = session.args
        if args.base_url is not None:
            raise UsageError("--sandbox runs against an emulated gateway: leave out --base-url")
        import time

        from ..testing import FakeGateway, Latency
        from ..testing._sandbox import SandboxFile

        gateway = FakeGateway(delivery_delay=SANDBOX_DELIVERY_DELAY, clock=time.time)
        gateway.inject(Latency(SANDBOX_LATENCY), times=None)
        account = gateway.accounts[0]
        session.out.secret = account.password
        saved = SandboxFile()
        try:
            if args.sandbox_reset:
                saved.reset()
            if args.sandbox_balance is not None:
                saved.set_balance(account.username, args.sandbox_balance)
            saved.load(gateway)
            saved.attach(gateway)
            kept = f"kept in {saved.path}; --sandbox-reset forgets it"
        except OSError as error:
            kept = f"not kept: {saved.path}: {error.strerror or error}"
        session.gateway = gateway
        senders = ", ".join(account.senders) or "none"
        session.out.note(  # -q silences it: a script knows it asked for the sandbox
            f"sandbox: an emulated gateway in this process (account {account.username},"
            f" balance {gateway.balance_of(account.username)}, sender {senders}; {kept}):"
            " nothing leaves this machine, no SMS is sent"
        )
    return session.gateway


def _from_environment(
    error: ValidationError,
    found: dict[str, Any],
    settings: dict[str, Any],
    env: dict[str, str],
) -> str:
    """A bad value is named by where the user wrote it: an option, or a ``MYSMS_*`` variable."""
    for variable, argument in _ENV_OPTIONS:
        if argument == error.field and argument in found and settings[argument] is found[argument]:
            shown = f"={env[variable]!r}" if variable in (ENV_FORMAT, ENV_METHOD) else ""
            return f"environment variable {variable}{shown}: {error.rule}"
    return describe_validation(error)


def open_client(session: Session) -> MySMSClient:
    args, out = session.args, session.out
    options = _client_options(args)
    try:
        if args.sandbox:
            return sandbox(session).client(**options)
        env = credentials()
        out.secret = env[ENV_PASSWORD]
        try:
            found: dict[str, Any] = read_env(env)
        except MySMSError as error:  # ConfigurationError: a variable missing or unusable
            raise UsageError(str(error)) from None
        settings = {**found, **options}
        if args.base_url is not None:
            settings["base_url"] = args.base_url
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InsecureURLWarning)
            try:
                client = MySMSClient(**settings)
            except ValidationError as error:
                raise UsageError(_from_environment(error, found, settings, env)) from None
    except ValidationError as error:
        raise UsageError(describe_validation(error)) from None
    for warning in caught:
        out.warn(str(warning.message))
    return client


def exit_for_error(out: Output, error: MySMSError) -> int:
    """The one mapping from the library's errors to an exit status, with the error shown once.

    A refused password, a bad value and a wrong base URL are the user's to fix (2); anything
    else the gateway or the network did is a problem of this run (1).
    """
    if isinstance(error, AuthError):
        out.error(AUTH_FAILED, "AuthError")
        return EXIT_USAGE
    if isinstance(error, ValidationError):
        out.error(describe_validation(error), "ValidationError")
        return EXIT_USAGE
    if isinstance(error, ConfigurationError):  # BaseURLError: HTTP 404/405, a wrong --base-url
        out.error(describe_error(error), type(error).__name__)
        return EXIT_USAGE
    out.error(describe_error(error), type(error).__name__)
    return EXIT_PROBLEMS


def run_client(
    session: Session,
    command: Callable[[MySMSClient], Awaitable[int]],
    *,
    own_errors: tuple[type[MySMSError], ...] = (),
) -> int:
    """Open a client, run ``command`` with it in an event loop, map the library's errors.

    SIGINT and SIGTERM follow the one policy of :mod:`._signals`: the first sets
    ``session.stop`` (the command stops starting new work and lets its requests in flight
    finish), the grace period's end or a second signal cancels it. A command that must say what
    it had done first catches that cancellation and reads ``session.stop``; one that lets it
    escape ends in :class:`._signals.Interrupted`. A run that a signal stopped exits 130 / 143
    whatever the command returned. ``own_errors`` are raised on for the caller to map (the
    campaign journal's errors are usage errors).
    """
    client = open_client(session)
    out = session.out

    async def run(stop: Stop) -> int:
        session.stop = stop
        stop.on_request(lambda signum: out.say(stopping_note(signum)))
        async with client:
            return await command(client)

    try:
        code = run_interruptible(run)
    except MySMSError as error:
        if isinstance(error, own_errors):
            raise
        return exit_for_error(out, error)
    stop = session.stop
    if stop is not None and stop.signum is not None:
        return exit_status(stop.signum)
    return code
