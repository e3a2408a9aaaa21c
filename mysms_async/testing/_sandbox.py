"""The sandbox's memory: what ``mysms --sandbox`` keeps between runs, in one file.

The file is ``$XDG_CACHE_HOME/mysms-async/sandbox.jsonl`` (``~/.cache/...`` when the variable is
unset). It is a journal, one JSON document a line, replayed in order when a run starts:

* ``{"balance": "1000", "user": "demo"}`` sets an account's balance (``--sandbox-balance``);
* ``{"m": [...]}`` is one accepted message, with its price: the balance is the last one set
  (:data:`SANDBOX_BALANCE` if none), less the price of every message after it.

A journal rather than a snapshot, because runs may overlap (a ``status`` while a ``bulk`` runs, or
two ``bulk`` runs): each run only appends what it accepted, after each send request, so no run's
messages or charges overwrite another's. Appends and replays hold an advisory lock
(``fcntl.flock`` on ``sandbox.lock`` beside the file; none where ``fcntl`` does not exist). A run
killed half-way through a line leaves a torn line: replay skips it, and the next append starts on
a new line. ``--sandbox-reset`` replaces the file with an empty one atomically (a new file renamed
over the old), so a reader sees the old journal or the new one, never half of either.
"""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ._records import SentMessage

if TYPE_CHECKING:
    from ._gateway import FakeGateway
    from ._store import StoredMessage

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["SANDBOX_BALANCE", "SandboxFile", "sandbox_path"]

SANDBOX_BALANCE: Final = Decimal("1000000")
"""What the sandbox's account starts with (and has again after ``--sandbox-reset``): play money
enough for the sample campaign run many times over, or one 100,000-row bulk, since the balance
now carries over from run to run. ``--sandbox-balance`` sets any other."""

_DIRECTORY: Final = "mysms-async"
_FILE: Final = "sandbox.jsonl"
_LOCK: Final = "sandbox.lock"
_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(dict[str, Any])


def sandbox_path() -> Path:
    """Where the sandbox keeps its state: under ``XDG_CACHE_HOME``, else ``~/.cache``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG specification: a relative path is invalid and must be ignored.
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / _DIRECTORY / _FILE


def _message_line(stored: StoredMessage) -> bytes:
    r = stored.record
    fields = [r.id, r.username, r.source, r.destination, r.text, r.date, r.ttl, r.parts,
              r.encoding, str(r.price), r.accepted_at, stored.fails]  # fmt: skip
    return _ENCODER.encode({"m": fields}) + b"\n"


def _message(fields: list[Any]) -> tuple[SentMessage, bool]:
    (message_id, username, source, destination, text, date, ttl, parts, encoding, price,
     accepted_at, fails) = fields  # fmt: skip
    record = SentMessage(
        id=str(message_id),
        username=str(username),
        source=str(source),
        destination=str(destination),
        text=str(text),
        date=None if date is None else str(date),
        ttl=None if ttl is None else str(ttl),
        state=2,
        parts=int(parts),
        encoding=encoding,
        price=Decimal(price),
        accepted_at=float(accepted_at),
    )
    return record, bool(fails)


class SandboxFile:
    """The journal at ``path`` (:func:`sandbox_path` by default)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = sandbox_path() if path is None else path
        self._pending: list[bytes] = []
        self._pending_lock = threading.Lock()
        self._failed = False

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:  # pragma: no cover - Windows
            yield
            return
        with open(self.path.with_name(_LOCK), "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _append(self, lines: list[bytes]) -> None:
        with self._locked(), open(self.path, "a+b") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell():
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    lines = [b"\n", *lines]  # after a torn line: start a new one
            handle.write(b"".join(lines))

    def reset(self) -> None:
        """Forget every message and balance: an empty journal, renamed over the old one."""
        with self._locked():
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".sandbox-")
            os.close(fd)
            os.replace(temporary, self.path)

    def set_balance(self, username: str, amount: Decimal) -> None:
        line = _ENCODER.encode({"balance": str(amount), "user": username}) + b"\n"
        self._append([line])

    def load(self, gateway: FakeGateway) -> None:
        """Bring the journal's messages and balances back into ``gateway``."""
        balances = {account.username: SANDBOX_BALANCE for account in gateway.accounts}
        with self._locked():
            try:
                content = self.path.read_bytes()
            except FileNotFoundError:
                content = b""
        for line in content.splitlines():
            try:
                entry = _DECODER.decode(line)
                if "m" in entry:
                    record, fails = _message(entry["m"])
                    if record.username in balances:
                        balances[record.username] -= record.price
                        gateway._restore(record, fails)
                elif entry.get("user") in balances:
                    balances[entry["user"]] = Decimal(entry["balance"])
            except (msgspec.DecodeError, ValueError, TypeError, ArithmeticError):
                continue  # a torn or foreign line
        for username, balance in balances.items():
            gateway.set_balance(username, max(balance, Decimal(0)))

    def attach(self, gateway: FakeGateway) -> None:
        """Append every message ``gateway`` accepts from now on, after each send request."""
        gateway._watch_sends(self._note, self._flush)

    def _note(self, stored: StoredMessage) -> None:
        line = _message_line(stored)
        with self._pending_lock:
            self._pending.append(line)

    def _flush(self) -> None:
        with self._pending_lock:
            lines, self._pending = self._pending, []
        if not lines or self._failed:
            return
        try:
            self._append(lines)
        except OSError as error:
            # The run goes on (the sandbox still answers); only the memory of it is lost.
            self._failed = True
            warnings.warn(
                f"the sandbox cannot keep its state in {self.path}: {error}",
                RuntimeWarning,
                stacklevel=2,
            )
