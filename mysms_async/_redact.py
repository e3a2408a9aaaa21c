"""Keeping the password out of every message, log record and traceback: redaction by context.

The places a credential can show up in text are known, and each is redacted by its structure:

* a query or form parameter ``p=`` (httpx and aiohttp log each request's URL and put it into
  error messages; on GET the URL carries the password), also percent-encoded inside another
  URL (``%26p%3D``);
* a ``password`` (or ``p``) member of a JSON document or a Python ``dict``/``tuple`` repr, in
  plain, JSON-in-a-string (``\\"password\\"``) or HTML-escaped (``&quot;password&quot;``) form;
* a ``<password>`` element of an XML body, plain or HTML-escaped (``&lt;password&gt;``).

What follows the marker is replaced by ``***`` up to where the value ends, whatever it holds.
When the secret is known it only helps find that end: a raw value may contain the very
characters (``&``, a space, a quote) that would otherwise end it, so each spelling of the
secret (percent-encoded, JSON, XML or HTML escaped, a Python repr, UTF-8 bytes) is tried there.

Never by substring: replacing the password wherever it occurs garbles ordinary text and gives
the password away by where ``***`` lands (password ``1``: ``must have ***0 to ***5 digits``).

The body of an answer is the one text that is all context: ``describe_body`` quotes the start
of an answer we could not read (a proxy, WAF or debug page may echo the request) after
redacting it by structure, and, for a secret long enough not to occur by chance, every
spelling of it too; only then is it cut to length, so no part of a value survives the cut.
A body that begins with the end of a ``<password>`` value (its start went into the headers of
a peer that echoed the request there) has that end redacted as well.

Redaction by context cannot be certain of a text another library wrote: a peer that echoes the
request into a status line or a header makes aiohttp quote it escaped twice
(``"password":"***"EfGh"`` for ``AbCd"EfGh``), or h11 quote the line after a newline of the
password (``bytearray(b'EfGh</password>...')``), or httpcore log the echoed line at DEBUG. So a
foreign text is checked after redaction (``leaks_secret``): if any window of four characters of
any spelling of the secret (raw, JSON, XML/HTML, URL, ``repr``, bytes ``repr``, and those escaped
once more; and, backslashes ignored, escaped any number of times more), or any four letters and
digits of the secret in a row once punctuation is ignored, is still in it, the text is not
quoted at all: ``describe_exception`` keeps only the exception's type and a fixed description,
and the log filter withholds the record the same way. The filter knows the secrets of the
credentials alive in the process (``remember_secret``, called when credentials are made;
forgotten when they are collected).
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import logging
import re
import threading
import traceback
import weakref
from urllib.parse import quote, quote_plus

REDACTED = "***"
#: ``describe_body`` also removes the secret wherever it occurs in a body, when it has at least
#: this many characters (a shorter one occurs by chance, and ``***`` would point at it).
_BODY_SUBSTRING_MIN = 8
#: Bytes read past the cut by ``describe_body`` (an answer may be megabytes long).
_BODY_WINDOW = 64 * 1024

# Each alternative: a marker, then a named group ``vN`` holding the value in that context.
_CONTEXTS = re.compile(
    "|".join(
        [
            # p= in a query or form (not the end of a longer name: "group=", "http_method=")
            r"(?<![\w%])p=(?P<v1>[^&#\s'\"<>\\]*)",
            # p= percent-encoded inside another URL's parameter: ...%3Fu%3Dx%26p%3D...
            r"(?:%26|%3[Ff])p%3[Dd](?P<v2>(?:[^&#\s'\"<>\\%]|%(?!26)[0-9A-Fa-f]{2})*)",
            # "password": "..." / 'p': '...' / ('p', '...')
            r"(?P<q3>[\"'])(?:(?i:password)|p)(?P=q3)\s*[:=,]\s*\"(?P<v3>(?:[^\"\\]|\\.)*)",
            r"(?P<q4>[\"'])(?:(?i:password)|p)(?P=q4)\s*[:=,]\s*'(?P<v4>(?:[^'\\]|\\.)*)",
            # \"password\":\"...\" (a JSON document inside a JSON string)
            r"\\\"(?i:password)\\\"\s*:\s*\\\"(?P<v5>(?:[^\\]|\\\\\\.|\\[^\"])*)",
            # &quot;password&quot;:&quot;...&quot; (JSON in an HTML page)
            r"&quot;(?i:password)&quot;\s*:\s*&quot;(?P<v6>(?:\\.|(?!&quot;)[^\\<])*)",
            # <password>...</password>, plain or escaped into an HTML page
            r"<(?i:password)(?:\s[^>]*)?>(?P<v7>[^<]*)",
            r"&lt;(?i:password)(?:\s(?:(?!&gt;)[^<])*)?&gt;(?P<v8>(?:(?!&lt;)[^<])*)",
        ]
    )
)
_VALUE_GROUPS = tuple(f"v{n}" for n in range(1, 9))


def _json_inner(text: str, *, ascii_only: bool) -> str:
    return json.dumps(text, ensure_ascii=ascii_only)[1:-1]


@functools.lru_cache(maxsize=16)
def _spellings(secret: str) -> tuple[str, ...]:
    """Every way the secret can be written in a text, longest first."""
    base = {
        secret,
        _json_inner(secret, ascii_only=False),
        _json_inner(secret, ascii_only=True),
        html.escape(secret, quote=False),
        html.escape(secret, quote=True),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret, safe=""),
        quote_plus(secret),
        secret.replace("\r", "&#13;"),
    }
    forms = set(base)
    for form in base:
        forms.add(repr(form)[1:-1])
        forms.add(repr(form.encode("utf-8", "surrogatepass"))[2:-1])
        forms.add(_json_inner(form, ascii_only=False))
        forms.add(_json_inner(form, ascii_only=True))
        forms.add(html.escape(form, quote=True))
        forms.add(quote(form, safe="").lower())
    forms.discard("")
    return tuple(sorted(forms, key=len, reverse=True))


def _value_end(text: str, start: int, end: int, forms: tuple[str, ...]) -> int:
    """Where the value starting at ``start`` ends: the context's own end, or further if one
    spelling of the secret starts there (or the text stops partway through one)."""
    rest = len(text) - start
    for form in forms:
        if len(form) <= rest:
            if text.startswith(form, start):
                return max(end, start + len(form))
        elif form.startswith(text[start:]):
            return len(text)  # the text was cut inside the secret
    return end


def redact_text(text: str, secret: str | None = None) -> str:
    """Replace every credential value found in its context (see the module docstring).

    ``secret``, when known, only helps find where a value ends; text outside a credentials
    context is returned unchanged, even where it happens to contain the secret.
    """
    match = _CONTEXTS.search(text)
    if match is None:
        return text
    forms = _spellings(secret) if secret else ()
    parts: list[str] = []
    done = 0
    while match is not None:
        group = next(name for name in _VALUE_GROUPS if match.start(name) >= 0)
        start, end = match.span(group)
        end = _value_end(text, start, end, forms)
        parts.append(text[done:start])
        parts.append(REDACTED)
        done = end
        match = _CONTEXTS.search(text, max(end, match.end()))
    parts.append(text[done:])
    return "".join(parts)


def _decode_body(body: bytes) -> str:
    """Text to redact; UTF-8 bytes that are not text survive as themselves (surrogateescape)."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or body[:2] in (b"<\x00", b"\x00<"):
        encoding = (
            "utf-16"
            if body[:2] in (b"\xff\xfe", b"\xfe\xff")
            else ("utf-16-le" if body[:1] == b"<" else "utf-16-be")
        )
        return body.decode(encoding, "replace")
    return body.decode("utf-8", "surrogateescape")


#: The end of a ``<password>`` value at the very start of a text, before any ``<``: the tail of
#: a value whose start is not in the text (plain or HTML-escaped XML).
_LEADING_TAIL = re.compile(
    r"(?P<v>[^<]*)</(?i:password)>|(?P<e>(?:(?!&lt;)[^<])*)&lt;/(?i:password)&gt;"
)


def _redact_leading_tail(text: str) -> str:
    """A body that starts partway through the ``<password>`` value: a peer echoed the request
    into its headers and a newline of the password ended them, so the body begins with the rest
    (``;;;;</password>...`` for the password ``\n\n;;;;``). That rest is a value too."""
    match = _LEADING_TAIL.match(text)
    if match is None:
        return text
    group = "v" if match.start("v") >= 0 else "e"
    return REDACTED + text[match.end(group) :]


def describe_body(body: bytes, secret: str | None, limit: int = 60) -> str:
    """The start of an answer's body, safe to quote in an error message (a bytes literal).

    Interface shared by the transport (which appends it to a ``ResponseError`` about a body it
    could not read) and this module (which owns how the credentials are kept out of it). The
    whole body is redacted first (by structure; by every spelling of a long enough secret), and
    only then cut to ``limit`` bytes.
    """
    # Only the start of the body is read: far enough past the cut that any value beginning
    # before it, and any spelling of the secret (at most 16 characters per character), ends
    # inside the window; a value running past its end is redacted to the end.
    window = limit + _BODY_WINDOW + 16 * len(secret or "")
    text = redact_text(_redact_leading_tail(_decode_body(body[:window])), secret)
    if secret and len(secret) >= _BODY_SUBSTRING_MIN:
        for form in _spellings(secret):
            text = text.replace(form, REDACTED)
    data = text.encode("utf-8", "surrogateescape")
    return repr(data[:limit])


# --- foreign text: quoted only when no piece of the secret is left in it ----------------------

#: The shortest run of the secret's characters that a foreign text may not keep.
LEAK_WINDOW = 4
#: What is left of a foreign message that may quote the secret: its type and this.
WITHHELD = "(message withheld: it may quote the request, password included)"

_PUNCTUATION = re.compile(r"[\W_]+")


@functools.lru_cache(maxsize=32)
def _leak_patterns(secret: str) -> tuple[re.Pattern[str] | None, ...]:
    """Every ``LEAK_WINDOW``-character window of: every spelling; every spelling with its
    backslashes dropped (to meet a text escaped any number of times more, backslashes dropped
    too); the secret's letters and digits alone. None where there is no such window."""
    forms = _spellings(secret)
    windows: set[str] = set()
    unslashed: set[str] = set()
    for form in forms:
        windows.update(_windows(form))
        unslashed.update(_windows(form.replace("\\", "")))
    skeleton = _PUNCTUATION.sub("", secret)
    return _alternation(windows), _alternation(unslashed), _alternation(set(_windows(skeleton)))


def _windows(text: str) -> list[str]:
    return [text[i : i + LEAK_WINDOW] for i in range(len(text) - LEAK_WINDOW + 1)]


def _alternation(pieces: set[str]) -> re.Pattern[str] | None:
    if not pieces:
        return None
    return re.compile("|".join(map(re.escape, sorted(pieces))))


def leaks_secret(text: str, secret: str | None) -> bool:
    """True when ``text`` (already redacted) still holds any piece of ``secret`` that counts.

    Conservative on purpose (see the module docstring): a text that merely shares four letters
    with the secret is withheld too. Only ever applied to text that another library wrote.
    """
    if not secret or not text:
        return False
    spelled, unslashed, skeleton = _leak_patterns(secret)
    if spelled is not None and spelled.search(text):
        return True
    if unslashed is not None and unslashed.search(text.replace("\\", "")):
        return True
    return skeleton is not None and skeleton.search(_PUNCTUATION.sub("", text)) is not None


def redact_foreign(text: str, secret: str | None) -> str | None:
    """``text`` redacted by context, or None when a piece of the secret would survive it."""
    redacted = redact_text(text, secret)
    if leaks_secret(redacted, secret) or any(leaks_secret(redacted, s) for s in live_secrets()):
        return None
    return redacted


def describe_exception(exc: BaseException, secret: str | None) -> str:
    """``TypeName: message`` for another library's exception, safe to keep as a ``detail``.

    The one place an engine's (or any foreign) error text becomes ours: redacted by context,
    and dropped for ``WITHHELD`` when that cannot be made certain.
    """
    text = str(exc) or "no message"
    safe = redact_foreign(text, secret)
    return f"{type(exc).__name__}: {WITHHELD if safe is None else safe}"


# --- the secrets the log filter knows ----------------------------------------------------------

_LIVE: dict[int, str] = {}
_LIVE_LOCK = threading.Lock()
_TOKENS = itertools.count()
#: Tokens of owners that are gone, removed from ``_LIVE`` at the next look-up. A finalizer may
#: run inside any allocation, including one made while ``_LIVE_LOCK`` is held by this very thread
#: (the garbage collector runs there): it must neither take the lock (a deadlock: seen in a test
#: run) nor change ``_LIVE`` (a dict changed during iteration), so it only appends here.
_GONE: list[int] = []


def remember_secret(owner: object, secret: str) -> None:
    """Let the log filter look for ``secret`` in foreign records while ``owner`` is alive."""
    token = next(_TOKENS)
    with _LIVE_LOCK:
        _LIVE[token] = secret
    weakref.finalize(owner, _GONE.append, token)


def live_secrets() -> list[str]:
    with _LIVE_LOCK:
        while _GONE:
            _LIVE.pop(_GONE.pop(), None)
        return list(dict.fromkeys(_LIVE.values()))


class RedactPasswordFilter(logging.Filter):
    """Rewrites a record whose text holds a credential before any handler can see it.

    A record that still holds a piece of a live secret after redaction (an echoed status line
    or header that httpcore logs at DEBUG) keeps only its logger's name and ``WITHHELD``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's to report
            return True
        redacted = redact_text(message)
        secrets = live_secrets()
        if secrets and any(leaks_secret(redacted, secret) for secret in secrets):
            redacted = f"a record of {record.name} {WITHHELD}"
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and secrets:
            rendered = "".join(traceback.format_exception(*record.exc_info))
            if any(leaks_secret(redact_text(rendered), secret) for secret in secrets):
                record.exc_info = None
                record.exc_text = None
                record.msg = f"{record.msg} (its exception {WITHHELD})"
        return True


_FILTER = RedactPasswordFilter()


#: A filter on a parent logger does not run for its children's records, so each logger that
#: httpx, httpcore and aiohttp write to is named here.
_URL_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "aiohttp",
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.server",
    "aiohttp.web",
)


def install_log_redaction() -> None:
    """Idempotent: attach the filter to the loggers that see request URLs."""
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactPasswordFilter) for f in logger.filters):
            logger.addFilter(_FILTER)
