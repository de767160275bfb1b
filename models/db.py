"""The async engine, one session per request or job, and migrations (Alembic)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, func
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for an in-memory database)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def sqlite_write_problem(url: str) -> str | None:
    """Why SQLite could not write its file now (None: it can).

    SQLite opens a file it cannot write read-only without a word, and every write then
    fails as "readonly database": this asks the operating system first (`access(2)`
    honours permissions, read-only mounts and the immutable flag, for root too). WAL
    also needs its `-wal` and `-shm` files, or the directory to create them in."""
    path = sqlite_path(url)
    if path is None:
        return None
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is not writable"
    companions = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    for companion in companions:
        if companion.exists() and not os.access(companion, os.W_OK):
            return f"{companion} is not writable"
    if not all(c.exists() for c in companions) and not os.access(path.parent, os.W_OK | os.X_OK):
        return f"the directory {path.parent} is not writable"
    return None


def is_read_only_error(exc: BaseException | None) -> bool:
    """SQLite's SQLITE_READONLY ("attempt to write a readonly database")."""
    while exc is not None:
        if "readonly database" in str(exc):
            return True
        exc = exc.__cause__
    return False


def insert_for(dialect: str):
    """The INSERT construct of a database (`session.bind.dialect.name`), the one with
    `on_conflict_do_nothing`."""
    return sqlite_insert if dialect == "sqlite" else postgresql_insert


def seconds_between(dialect: str, earlier, later):
    """`later - earlier` in seconds, in SQL: each database has its own date arithmetic."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def make_engine(url: str, *, read_only: bool = False, **kwargs) -> AsyncEngine:
    """Build the engine. On SQLite: WAL, a busy timeout, foreign keys, and write
    transactions that take the lock at BEGIN so two webhooks never interleave.

    `read_only` (SQLite): for the supervisors' figures and pages. Its transactions begin
    deferred and never write, so in WAL mode they neither take nor wait for the write
    lock: a dashboard being read never holds up a caller's webhook."""
    if is_sqlite(url):
        # One writer at a time is all SQLite allows: one writing connection per engine,
        # so its users wait their turn in the pool's queue (first come, first served)
        # instead of sleeping in SQLite's busy handler (1..100 ms naps that made p99
        # latency seconds under load). Readers, in WAL mode, all read at once.
        kwargs.setdefault("pool_size", 2 if read_only else 1)
        kwargs.setdefault("max_overflow", 2 if read_only else 0)
        kwargs.setdefault("pool_timeout", 30)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            if read_only:
                cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "handle_error")
        def _on_error(context):
            # A connection opened while the file was unwritable stays read-only for
            # good: count it as lost, so the pool opens new ones (read-write once the
            # file is writable again) instead of failing until a restart.
            if not read_only and is_read_only_error(context.original_exception):
                context.is_disconnect = True

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    # A webhook must answer within Twilio's 15 s: never wait long for a database.
    kwargs.setdefault("connect_args", {"timeout": 5, "command_timeout": 10})
    kwargs.setdefault("pool_timeout", 5)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine, *, tz=None, clock=None) -> async_sessionmaker[AsyncSession]:
    """`tz` and `clock` (the centre's timezone, the application's clock): a write to
    today's calls then leaves the per-day rollups alone without a statement
    (models/rollup.py)."""
    info = {"ivr_timezone": tz, "ivr_clock": clock} if tz is not None and clock is not None else {}
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


def alembic_config(url: str) -> Config:
    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _upgrade(connection: Connection, url: str, revision: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _downgrade(connection: Connection, url: str, revision: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (creating a SQLite file if there is none)."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, url, revision)
    finally:
        await engine.dispose()


async def downgrade(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade, url, revision)
    finally:
        await engine.dispose()
