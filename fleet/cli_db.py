"""Opening the database for `kumpel fleet` commands: refuse one that does not exist, say in one line which
one and why, never a traceback.

A command that reads (token create, devices list, ...) run outside the fleet's folder used to create
`./var/kumpel.db` (any path, its folders too) and succeed against the empty database; an unreachable
PostgreSQL server printed a 489-line traceback. Only `kumpel fleet init`, `migrate` and `serve` create.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from fleet import db

CONNECT_TIMEOUT_S = 10


class DatabaseProblem(Exception):
    """One line for the operator: which database, what is wrong, what to do."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (absolute), None for in-memory SQLite or another database."""
    if not url.startswith("sqlite"):
        return None
    path = make_url(url).database
    return None if not path or path == ":memory:" else Path(path).resolve()


def where(url: str) -> str:
    """The database as an operator recognises it: the file, or host:port/name (never the password)."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    try:
        u = make_url(url)
    except ArgumentError:
        return "(unparseable KUMPEL_DATABASE_URL)"
    return f"{u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"


def describe(url: str, exc: BaseException) -> str:
    """An exception from the database driver as one line naming the server or file."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    if sqlite_path(url) is not None:
        return f"the SQLite database {where(url)} cannot be used: {text}"
    u = make_url(url)
    server = f"{u.host or 'localhost'}:{u.port or 5432}"
    if "does not exist" in text and "database" in text:
        return (
            f"the PostgreSQL server {server} has no database {u.database!r}: create it "
            f"(createdb -h {u.host or 'localhost'} {u.database}), then run `kumpel fleet init`"
        )
    if "password" in text or "authentication" in text:
        return f"the PostgreSQL server {server} refused the login for {u.username!r}: {text.split(': ')[-1]}"
    reason = text.split("failed: ")[-1].split(" Is the server")[0]
    return f"the PostgreSQL server {server} did not answer ({reason}); check KUMPEL_DATABASE_URL"


def open_database(url: str, *, create: bool) -> Engine:
    """An engine on a database that exists (or, with `create`, may be made); DatabaseProblem otherwise."""
    try:
        path = sqlite_path(url)
    except ArgumentError as exc:
        raise DatabaseProblem(f"KUMPEL_DATABASE_URL {url!r} is not a database URL") from exc
    hint = "run `kumpel fleet init` to create it, or set KUMPEL_DATABASE_URL to the fleet's database"
    if path is not None and not create and not path.exists():
        raise DatabaseProblem(f"no fleet database at {path} (KUMPEL_DATABASE_URL={url}): {hint}")
    # A server that drops packets would hold the command for the OS's TCP timeout (minutes): the probe
    # gives up after CONNECT_TIMEOUT_S (libpq's connect_timeout), then the real engine is made.
    probe = (
        db.make_engine(url)
        if path is not None
        else create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    )
    try:
        with probe.connect() as conn:
            has_schema = inspect(conn).has_table("alembic_version")
    except (DBAPIError, SQLAlchemyError) as exc:
        raise DatabaseProblem(describe(url, exc)) from exc
    finally:
        probe.dispose()
    if not has_schema and not create:
        raise DatabaseProblem(f"the database {where(url)} has no fleet tables yet: {hint}")
    return db.make_engine(url)
