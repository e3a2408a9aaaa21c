"""The journal URL -> a :class:`._store.Store` over the backend's connector, apart from the store
so that no backend module imports a module that imports it."""

from __future__ import annotations

from ._rules import JournalError
from ._store import Store


def open_store(url: str, password: str | None = None, *, create: bool = True) -> Store:
    """``sqlite:///relative.db``, ``sqlite:////absolute.db``, a plain path, or
    ``postgresql://user@host:port/db`` (needs the ``[postgres]`` extra; ``password``, else the
    URL's, else libpq's ``PGPASSWORD`` or ``~/.pgpass``). ``create=False``: a SQLite file that
    does not exist is an error, not a new journal."""
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from ._postgres import PostgresConnector
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise JournalError(
                "a PostgreSQL journal needs psycopg: pip install 'mysms-async[postgres]'"
            ) from error
        return Store(PostgresConnector(url, password))
    if "://" in url and not url.startswith("sqlite://"):
        raise JournalError(
            f"journal URL {url.split('://')[0]}://... is not supported: use sqlite:///FILE or"
            " postgresql://user@host:port/db"
        )
    if password is not None:
        raise JournalError("a journal password is for a postgresql:// journal, not SQLite")
    from ._sqlite import SQLiteConnector

    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url
    if not path:
        raise JournalError("journal URL sqlite:/// names no file")
    return Store(SQLiteConnector(path, create=create))
