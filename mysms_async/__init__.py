"""mysms-async: an asyncio-native client for the my-sms.ru REST SMS gateway.

Send one message or a campaign of hundreds of thousands, check delivery, read the balance; never
send an SMS twice by accident. ``mysms_async.testing`` holds a local gateway for tests and trials.
"""

from ._client import MySMSClient
from ._codes import MessageState, RequestState
from ._exceptions import (
    AuthError,
    BaseURLError,
    ClientClosedError,
    ConfigurationError,
    CredentialsInURLWarning,
    DeliveryUnknownError,
    GatewayError,
    InputError,
    InsecureURLWarning,
    MessageRejectedError,
    MySMSError,
    MySMSWarning,
    ResponseError,
    TransportError,
    ValidationError,
    WrongEventLoopError,
)
from ._models import Balance, Message, SendResult, StatusResult
from ._segments import Segments, segments
from ._streams import ResultIterator, SendStream

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "Balance",
    "BaseURLError",
    "ClientClosedError",
    "ConfigurationError",
    "CredentialsInURLWarning",
    "DeliveryUnknownError",
    "GatewayError",
    "InputError",
    "InsecureURLWarning",
    "Message",
    "MessageRejectedError",
    "MessageState",
    "MySMSClient",
    "MySMSError",
    "MySMSWarning",
    "RequestState",
    "ResponseError",
    "ResultIterator",
    "Segments",
    "SendResult",
    "SendStream",
    "StatusResult",
    "TransportError",
    "ValidationError",
    "WrongEventLoopError",
    "__version__",
    "segments",
]
