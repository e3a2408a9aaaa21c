"""``send``, ``status``, ``wait`` and ``balance``: one question to the gateway, one answer shown.

Each command is a coroutine run by :func:`._session.run_client`, which owns the client and maps
the library's errors; here is only what to ask and how to show it (a table, or one JSON document
with ``--json``). ``wait`` and ``send --wait`` share :func:`_poll`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from typing import Any

from .._client import MySMSClient
from .._codes import MessageState
from .._exceptions import ValidationError
from .._models import SendResult, StatusResult
from ._constants import EXIT_OK, EXIT_PROBLEMS
from ._describe import (
    count_parts,
    meaning_suffix,
    state_fields,
    state_label,
    state_of,
    status_document,
    status_text,
    style,
)
from ._output import Output, UsageError, new_pairs, new_table
from ._progress import Meter
from ._session import Session, run_client
from ._signals import Stop, exit_status, signal_name, uncancel_current_task
from ._types import parse_iso_datetime


def _read_text(value: str) -> str:
    if value != "-":
        return value
    text = sys.stdin.read()
    return text[:-1] if text.endswith("\n") else text


def _read_ids(values: list[str]) -> list[str]:
    if values != ["-"]:
        return values
    ids = [line.strip() for line in sys.stdin if line.strip()]
    if not ids:
        raise UsageError("no message ids on stdin")
    return ids


def cmd_send(session: Session) -> int:
    args, out = session.args, session.out
    text = _read_text(args.text)
    try:
        date = None if args.date is None else parse_iso_datetime(args.date)
    except ValueError as error:
        raise UsageError(f"--date: {error}") from None
    counted = count_parts(text)
    if args.max_parts and counted[0] > args.max_parts:
        raise UsageError(
            f"the text needs {counted[0]} SMS parts ({counted[1]}), more than --max-parts"
            f" {args.max_parts}: shorten it, or raise --max-parts (0 for no limit)"
        )

    async def send(client: MySMSClient) -> int:
        stop = session.stop
        try:
            result = await client.send(args.destination, text, date=date, ttl=args.ttl)
        except asyncio.CancelledError:
            if stop is None or not stop.cancelled or stop.signum is None:
                raise
            uncancel_current_task()
            return _send_interrupted(session, stop.signum)
        if result.ok and result.id:
            out.record = f"the message was accepted: id {result.id}"
        polled: dict[str, StatusResult] = {}
        timed_out = False
        stopped = stop is not None and stop.requested
        if args.wait and result.ok and result.id and not stopped:
            try:
                _, timed_out = await _poll(
                    client, [result.id], args.timeout, args.interval, out, latest=polled, stop=stop
                )
            except asyncio.CancelledError:
                if stop is None or not stop.cancelled or stop.signum is None:
                    raise
                uncancel_current_task()
        interrupted = None if stop is None else stop.signum
        delivery = polled.get(result.id or "")
        _show_sent(
            session, result, counted, delivery, timed_out, interrupted if args.wait else None
        )
        if interrupted is not None:  # run_client exits 130 / 143
            name = signal_name(interrupted)
            if args.wait:
                out.say(f"error: interrupted ({name}) while waiting for delivery")
            else:
                out.say(f"error: interrupted ({name}); the send in flight was answered first")
            return exit_status(interrupted)
        if not result.ok:
            return EXIT_PROBLEMS
        if args.wait:
            delivered = delivery is not None and delivery.state == MessageState.DELIVERED
            return EXIT_OK if delivered else EXIT_PROBLEMS
        return EXIT_OK

    return run_client(session, send)


def _show_sent(
    session: Session,
    result: SendResult,
    counted: tuple[int, str],
    delivery: StatusResult | None,
    timed_out: bool,
    interrupted: int | None,
) -> None:
    """The sent message: its id first of all, whatever happened while waiting for delivery."""
    args, out = session.args, session.out
    state = state_of(result)
    if out.json:
        document: dict[str, Any] = {
            "destination": args.destination,
            "id": result.id,
            **state_fields(state),
            "accepted": result.ok,
            "parts": counted[0],
            "encoding": counted[1],
        }
        if args.wait:
            document["delivery"] = None if delivery is None else status_document(delivery)
            document["timed_out"] = timed_out
            document["interrupted"] = interrupted is not None
        out.emit(document)
        return
    table = new_pairs(title="sent" if result.ok else "not accepted")
    table.add_row("destination", args.destination)
    table.add_row("id", result.id or "-")
    table.add_row("state", f"[{style(state)}]{state_label(state)}[/]{meaning_suffix(state)}")
    table.add_row("parts", f"{counted[0]} ({counted[1]})")
    if delivery is not None or interrupted is not None:
        shown = "-" if delivery is None else status_text(delivery)
        if timed_out:
            shown += f" (still not final after {args.timeout:g} s)"
        if interrupted is not None:
            shown += f" (interrupted by {signal_name(interrupted)} while waiting)"
        table.add_row("delivery", shown)
    out.print(table)


def _send_interrupted(session: Session, signum: int) -> int:
    """A signal while the send was on its way: the gateway may have it; say so, never "failed"."""
    args, out = session.args, session.out
    text = (
        f"interrupted ({signal_name(signum)}) while the message was being sent: it may have been"
        " sent; check (mysms status, or the account's history) before resending"
    )
    out.say(f"error: {text}")
    if out.json:
        out.emit(
            {
                "destination": args.destination,
                "id": None,
                "accepted": None,
                "interrupted": True,
                "error": {"type": "Interrupted", "message": text},
            }
        )
    return exit_status(signum)


def cmd_status(session: Session) -> int:
    args, out = session.args, session.out
    ids = _read_ids(args.ids)

    async def status(client: MySMSClient) -> int:
        results = await client.status_many(ids)
        _show_statuses(out, results, title="status")
        return EXIT_OK if all(result.ok for result in results) else EXIT_PROBLEMS

    return run_client(session, status)


def _show_statuses(
    out: Output, results: list[StatusResult], *, title: str, extra: dict[str, Any] | None = None
) -> None:
    if out.json:
        out.emit({"results": [status_document(r) for r in results], **(extra or {})})
        return
    table = new_table("id", "state", "final", title=title)
    table.columns[0].no_wrap = True
    for result in results:
        table.add_row(
            result.requested_id or "-",
            f"[{style(state_of(result), result.error)}]{status_text(result)}[/]",
            "yes" if result.is_final else "no",
        )
    out.print(table)


def _still_pending(result: StatusResult) -> bool:
    if isinstance(result.error, ValidationError):
        return False  # asking again will not make a malformed id valid
    return not result.is_final


def _wait_counts(results: Iterable[StatusResult]) -> tuple[int, int, int]:
    delivered = failed = pending = 0
    for result in results:
        if result.state == MessageState.DELIVERED:
            delivered += 1
        elif _still_pending(result):
            pending += 1
        else:
            failed += 1
    return delivered, failed, pending


async def _poll(
    client: MySMSClient,
    ids: list[str],
    timeout: float,
    interval: float,
    out: Output,
    *,
    latest: dict[str, StatusResult] | None = None,
    stop: Stop | None = None,
) -> tuple[list[StatusResult], bool]:
    """Check the ids every ``interval`` seconds until all are final or ``timeout`` is up.

    Returns the latest result per id (in the order given) and whether time ran out first.
    ``latest`` is filled as answers come, so a caller interrupted midway still has them. A
    ``stop`` requested (a signal) ends the polling once the request in flight is answered.
    """
    unique = list(dict.fromkeys(ids))
    if latest is None:
        latest = {}
    pending = unique
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    meter = Meter(out, label="waiting", total=len(unique), unit="ids final", rate=False)

    def stopped() -> bool:
        return stop is not None and stop.requested

    try:
        while True:
            for result in await client.status_many(pending):
                latest[result.requested_id or ""] = result
            pending = [i for i in pending if _still_pending(latest[i])]
            delivered, failed, waiting = _wait_counts(latest.values())
            meter.set(
                len(unique) - waiting,
                f"delivered {delivered}, failed {failed}, pending {waiting}",
            )
            remaining = deadline - loop.time()
            if not pending or remaining <= 0 or stopped():
                break
            if stop is None:
                await asyncio.sleep(min(interval, remaining))
            elif await stop.wait(min(interval, remaining)):
                break
    finally:
        meter.finish(complete=not stopped())
    return [latest[i] for i in ids], bool(pending) and not stopped()


def cmd_wait(session: Session) -> int:
    args, out = session.args, session.out
    ids = _read_ids(args.ids)

    async def wait(client: MySMSClient) -> int:
        stop = session.stop
        results, timed_out = await _poll(client, ids, args.timeout, args.interval, out, stop=stop)
        interrupted = None if stop is None else stop.signum
        delivered, failed, pending = _wait_counts({r.requested_id: r for r in results}.values())
        counts = {"delivered": delivered, "failed": failed, "pending": pending}
        extra = {**counts, "timed_out": timed_out, "interrupted": interrupted is not None}
        _show_statuses(out, results, title="delivery", extra=extra)
        if not out.json:
            line = f"{delivered} delivered, {failed} failed or invalid, {pending} pending"
            if timed_out:
                line += f" (gave up after {args.timeout:g} s)"
            if interrupted is not None:
                line += f" (interrupted by {signal_name(interrupted)})"
            out.print(line)
        return EXIT_OK if failed == 0 and pending == 0 else EXIT_PROBLEMS

    return run_client(session, wait)


def cmd_balance(session: Session) -> int:
    out = session.out

    async def balance(client: MySMSClient) -> int:
        answer = await client.balance()
        if out.json:
            out.emit({"balance": str(answer.amount)})
        else:
            out.print(f"balance: {answer.amount}")
        return EXIT_OK

    return run_client(session, balance)
