"""A scriptable gateway for engine tests: each batch's fate is decided by the texts inside it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from mysms_async import MySMSClient

#: A message whose text holds one of these words makes its whole batch meet that fault.
DROP = "DROP"  # the request is read, then the connection dies: delivery unknown
HTTP500 = "HTTP500"  # the gateway answers 500: delivery unknown for a send
AUTH = "AUTH"  # request state -1
SLOW = "SLOW"  # the answer takes long (for cancellation tests)
#: A message whose text holds one of these is accepted (state 2) with no usable id.
NO_ID = {"NOID_EMPTY": "", "NOID_NULL": None}
NOID_MISSING = "NOID_MISSING"
#: A destination the gateway refuses per message (state -12).
REFUSED_DESTINATION = "79990000000"


@dataclass
class ScriptedGateway:
    """Answers send/status POSTs (JSON) and GETs, recording every batch it received."""

    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    status_requests: list[list[str]] = field(default_factory=list)
    states: dict[str, list[int]] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    slow_seconds: float = 10.0
    status_garbage: bool = False  # status answers are an HTML page
    delay: float = 0.0  # every send answer waits this long, so that requests overlap
    on_send: Callable[[list[dict[str, Any]]], None] | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET":
            params = request.url.params
            if path.endswith("send/json"):
                data = [{"destination": params["d"], "text": params["t"]}]
            else:
                data = [{"id": params["id"]}]
        else:
            data = json.loads(request.content)["data"]
        if path.endswith("status/json"):
            return self._status([entry["id"] for entry in data])
        self.batches.append(data)
        if self.on_send is not None:
            self.on_send(data)
        texts = " ".join(entry["text"] for entry in data)
        if self.delay:
            await anyio.sleep(self.delay)
        if SLOW in texts:
            await anyio.sleep(self.slow_seconds)
        if DROP in texts:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        if HTTP500 in texts:
            return httpx.Response(500, text="<html>oops</html>")
        if AUTH in texts:
            return httpx.Response(200, json={"state": "-1"})
        answers = [self._entry(entry) for entry in data]
        return httpx.Response(200, json={"state": "0", "data": answers})

    @staticmethod
    def _entry(entry: dict[str, Any]) -> dict[str, Any]:
        text = entry["text"]
        if entry["destination"] == REFUSED_DESTINATION:
            return {"id": "", "state": "-12"}
        for marker, value in NO_ID.items():
            if marker in text:
                return {"id": value, "state": "2"}
        if NOID_MISSING in text:
            return {"state": "2"}
        return {"id": f"id-{text}", "state": "2"}

    def _status(self, ids: list[str]) -> httpx.Response:
        self.status_requests.append(ids)
        if self.status_garbage:
            return httpx.Response(200, text="<html>maintenance</html>")
        data = []
        for message_id in ids:
            script = self.states.get(message_id)
            if script is None:
                data.append({"id": "", "state": "-10"})
                continue
            state = script.pop(0) if len(script) > 1 else script[0]
            data.append({"id": message_id, "state": str(state)})
        return httpx.Response(200, json={"state": "0", "data": data})

    def client(self, **kwargs: Any) -> MySMSClient:
        options: dict[str, Any] = {"sender": "MySMS", "retry_backoff": 0, "batch_size": 3}
        options.update(kwargs)
        return MySMSClient("alice", "pw", transport=httpx.MockTransport(self), **options)
