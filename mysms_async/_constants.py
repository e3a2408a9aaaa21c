"""Every tunable default in one place, so a reader can see the client's limits at a glance."""

from __future__ import annotations

from decimal import Decimal

DEFAULT_BASE_URL = "https://my-sms.ru/rest/sms/"
DEFAULT_WIRE_FORMAT = "json"
DEFAULT_HTTP_METHOD = "POST"
DEFAULT_TIMEZONE = "Europe/Moscow"

#: Seconds one attempt may take, end to end (connect, write, wait, read).
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2
#: First retry delay in seconds; each later retry doubles it, with jitter.
DEFAULT_RETRY_BACKOFF = 0.5
#: No single backoff sleep is longer than this.
MAX_RETRY_DELAY = 30.0
#: A ``Retry-After`` longer than this is not waited for: the error is raised instead.
MAX_RETRY_AFTER = 60.0
#: Share of the delay that is random (full jitter would make the first retry nearly immediate).
RETRY_JITTER = 0.25

#: Messages per POST body and requests in flight for the bulk engine.
DEFAULT_BATCH_SIZE = 100
DEFAULT_MAX_CONCURRENCY = 4
MAX_BATCH_SIZE = 10_000

#: A text needing more SMS parts than this is refused before any I/O (``max_parts=None``: no
#: limit). The network splits a long text and the gateway charges every part: 10 parts is
#: about 1,500 Latin or 670 Cyrillic characters; a text ten times that is a mistake, not an SMS.
DEFAULT_MAX_PARTS = 10

#: A response body larger than this, after decompression, is refused.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024

#: Field rules from the gateway's document.
SENDER_MAX_LATIN = 11
SENDER_MAX_DIGITS = 15
DESTINATION_MIN_DIGITS = 10
DESTINATION_MAX_DIGITS = 15
DATE_FORMAT = "dd.MM.yyyy HH:mm:ss"
#: The document gives ttl no unit or bound; a 32-bit signed integer is what a gateway can store.
MAX_TTL = 2**31 - 1

LOGGER_NAME = "mysms_async"
USER_AGENT = "mysms-async"

#: A GET's query string (``u=..&p=..&s=..&d=..&t=..``, percent-encoded) may be at most this many
#: bytes; a longer one is a ValidationError before any I/O. Common servers and proxies refuse
#: a request line much past 8 KiB (nginx's default header buffer is 8k, Apache's
#: LimitRequestLine 8190), and httpx refuses URLs past 64 KiB only once the request is made.
#: About 1,300 Cyrillic or 7,900 plain Latin characters of text fit; POST has no such limit.
MAX_GET_QUERY_BYTES = 8000

#: A WARNING about outcomes a bulk run could not hand over (cancelled, left early, interrupted)
#: names at most this many accepted ids and this many destinations of unknown delivery; it
#: always gives the full counts and where the full outcomes are kept.
MAX_LOGGED_OUTCOMES = 20

# The emulator's demo account and price (mysms_async.testing, and the defaults `mysms emulator`
# shows in its help, without importing the emulator).
#: Username of the account a ``FakeGateway`` has when none are given.
DEMO_USERNAME = "demo"
#: Password of the demo account.
DEMO_PASSWORD = "demo-password"
#: Starting balance of the demo account.
DEMO_BALANCE = Decimal("1000")
#: The one sender name registered for the demo account.
DEMO_SENDER = "MySMS"
#: What a ``FakeGateway`` charges per SMS part unless told otherwise.
DEFAULT_PRICE_PER_PART = Decimal("1.50")
