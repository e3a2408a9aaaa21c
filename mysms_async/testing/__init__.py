"""Testing tools: :class:`FakeGateway`, an emulator of the SMS gateway, and its faults.

In-process, through a transport that fails like a network::

    gateway = FakeGateway()                        # one demo account: demo / demo-password
    async with gateway.client() as sms:            # a MySMSClient wired to the gateway
        ...
    gateway.inject(DropAfterRead(), endpoint="send")   # the next send is lost after processing
    gateway.advance()                              # every message moves one state on
    gateway.advance(by=timedelta(days=1))          # the clock: scheduled messages come due
    FakeGateway(strict=False, max_records=0)       # lenient, and keeps nothing (load tests)

Over a real loopback socket (needs the ``[emulator]`` extra, for uvicorn)::

    with gateway.serve() as base_url:              # http://127.0.0.1:<port>/rest/sms/
        ...
"""

from .._constants import DEMO_BALANCE, DEMO_PASSWORD, DEMO_SENDER, DEMO_USERNAME
from ._faults import (
    ConnectRefused,
    DataLength,
    DropAfterRead,
    EmptyBody,
    Endpoint,
    ErrorState,
    Fault,
    GatewayDisconnect,
    HTMLPage,
    HTTPErrorStatus,
    Latency,
    RawBody,
    TruncatedBody,
    WrongShape,
)
from ._gateway import DEFAULT_RANDOM_FAULTS, FakeGateway
from ._records import (
    Account,
    MessageFields,
    RecordedRequest,
    SentMessage,
    WireFormat,
)
from ._transport import FakeGatewayTransport

__all__ = [
    "DEFAULT_RANDOM_FAULTS",
    "DEMO_BALANCE",
    "DEMO_PASSWORD",
    "DEMO_SENDER",
    "DEMO_USERNAME",
    "Account",
    "ConnectRefused",
    "DataLength",
    "DropAfterRead",
    "EmptyBody",
    "Endpoint",
    "ErrorState",
    "FakeGateway",
    "FakeGatewayTransport",
    "Fault",
    "GatewayDisconnect",
    "HTMLPage",
    "HTTPErrorStatus",
    "Latency",
    "MessageFields",
    "RawBody",
    "RecordedRequest",
    "SentMessage",
    "TruncatedBody",
    "WireFormat",
    "WrongShape",
]
