"""What the client under test can do, so that the benchmarks run at every commit.

A row whose feature is missing reads "n/a (feature not present: ...)" instead of crashing. The
aiohttp backend is checked by what the client *uses*, not by what it accepts: a ``backend=``
keyword may exist (in the settings) before the exchange behind it does, and a row that silently
measured httpx under the name "aiohttp" would be worse than no row.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import types
from typing import Any

from mysms_async import MySMSClient


class FeatureMissing(Exception):
    """The client under test does not have what a case needs (yet)."""


def backend_options(backend: str) -> dict[str, Any]:
    """The keyword arguments that select ``backend``; ``FeatureMissing`` if there is none."""
    if "backend" in inspect.signature(MySMSClient).parameters:
        return {"backend": backend}
    if backend != "httpx":
        raise FeatureMissing(f"MySMSClient(backend={backend!r})")
    return {}


#: Where a walk from the client must not go: into code, modules and the event loop, which
#: would lead to objects (other clients, the harness's own aiohttp session) it does not own.
_DO_NOT_FOLLOW = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.CodeType,
    types.FrameType,
    types.BuiltinFunctionType,
    asyncio.AbstractEventLoop,
)


def holds_instance_of(root: object, kinds: tuple[type, ...], depth: int = 8) -> bool:
    """Whether an instance of ``kinds`` is reachable from ``root`` through its own data."""
    seen = {id(root)}
    frontier = [root]
    for _ in range(depth):
        following = []
        for obj in frontier:
            for ref in gc.get_referents(obj):
                if id(ref) in seen:
                    continue
                seen.add(id(ref))
                if isinstance(ref, kinds):
                    return True
                if not isinstance(ref, _DO_NOT_FOLLOW):
                    following.append(ref)
        frontier = following
    return False


def check_backend(client: MySMSClient, backend: str) -> None:
    """After a send: raise ``FeatureMissing`` if an "aiohttp" client holds no aiohttp session."""
    if backend != "aiohttp":
        return
    import aiohttp

    if not holds_instance_of(client, (aiohttp.ClientSession, aiohttp.BaseConnector)):
        raise FeatureMissing("backend='aiohttp' is accepted but no aiohttp session is in use")
