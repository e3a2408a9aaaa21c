"""Status in bulk and the polling loop: ``status_many`` and ``wait_for_delivery``.

``status_many`` asks each distinct id once, in chunks of the client's ``chunk_size`` sent by up
to ``max_concurrency`` workers; an error after which no request can succeed stops the run and
is raised with ``.results`` (one result per id). ``wait_for_delivery`` polls ``status_many``
with growing pauses until every id is final or the budget is spent.
"""

from __future__ import annotations

import anyio

from ._config import Seconds, to_seconds
from ._exceptions import MySMSError, ValidationError
from ._models import StatusResult
from ._operations import Operations
from ._request import validate_message_id

#: wait_for_delivery: each pause is this much longer than the last, up to the cap.
POLL_GROWTH = 1.5
MAX_POLL_INTERVAL = 60.0


async def status_many(ops: Operations, ids: list[str]) -> list[StatusResult]:
    """Each distinct id is asked once: an answer with the same id twice is one the decoder
    must refuse for a send, so a status request never invites one."""
    try:
        unique = list(dict.fromkeys(ids))
    except TypeError:  # an unhashable id: it fails validation on its own
        unique = ids
    if len(unique) == len(ids):
        return await _status_many(ops, ids)
    try:
        answered = await _status_many(ops, unique)
    except MySMSError as error:
        by_id = dict(zip(unique, error.results, strict=False))
        error.results = [by_id[i] for i in ids if i in by_id]
        raise
    by_id = dict(zip(unique, answered, strict=True))
    return [by_id[i] for i in ids]


async def _status_many(ops: Operations, ids: list[str]) -> list[StatusResult]:
    size = ops.chunk_size
    chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
    outcomes: list[list[StatusResult]] = [[] for _ in chunks]
    order = iter(range(len(chunks)))
    stops: list[MySMSError] = []

    async def work() -> None:
        for index in order:
            if stops:
                error = stops[0]
                outcomes[index] = [
                    StatusResult(None, None, requested_id=i, error=error) for i in chunks[index]
                ]
                continue
            outcomes[index], stop = await ops.status_chunk(chunks[index])
            if stop is not None:
                stops.append(stop)

    async with anyio.create_task_group() as group:
        for _ in range(min(ops.settings.max_concurrency, len(chunks))):
            group.start_soon(work)
    results = [result for chunk in outcomes for result in chunk]
    if stops:
        stops[0].results = results
        raise stops[0]
    return results


async def wait_for_delivery(
    ops: Operations,
    ids: list[str],
    *,
    timeout: Seconds,  # noqa: ASYNC109 - a polling budget, not a cancel scope: it returns
    poll_interval: Seconds,
) -> list[StatusResult]:
    budget = to_seconds("timeout", timeout)
    interval = to_seconds("poll_interval", poll_interval, positive=True)
    deadline = anyio.current_time() + budget
    latest: dict[str, StatusResult] = {}
    invalid: dict[int, StatusResult] = {}
    for position, message_id in enumerate(ids):
        try:
            validate_message_id(message_id)
        except ValidationError as error:  # e.g. None: a refused message has no id
            invalid[position] = StatusResult(None, None, requested_id=None, error=error)
    pending = list(dict.fromkeys(i for p, i in enumerate(ids) if p not in invalid))
    while pending:
        for requested, result in zip(pending, await status_many(ops, pending), strict=True):
            latest[requested] = result
        pending = [i for i in pending if _still_pending(latest[i])]
        remaining = deadline - anyio.current_time()
        if not pending or remaining <= 0:
            break
        await anyio.sleep(min(interval, remaining))
        interval = min(interval * POLL_GROWTH, MAX_POLL_INTERVAL)
    return [invalid[p] if p in invalid else latest[i] for p, i in enumerate(ids)]


def _still_pending(result: StatusResult) -> bool:
    if isinstance(result.error, ValidationError):
        return False  # asking again will not make a malformed id valid
    return not result.is_final
