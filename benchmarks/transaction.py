"""What one webhook-sized transaction costs through each layer, in process, no HTTP.

The transaction is the shape of a menu key or a status callback: find the call by its
CallSid, change one of its columns, store the event row. Each layer runs it on its own
SQLite file set up as `models/db.py` sets up the application's (WAL,
synchronous=NORMAL, BEGIN IMMEDIATE):

- `async ORM, in place`: the application's own path, an `AsyncSession` over
  `models/writer.py`'s in-place connection (what every webhook does on SQLite).
- `sync ORM`: the same ORM code on a sync `Session` over pysqlite.
- `async Core, in place` and `sync Core`: the same three statements as SQLAlchemy Core.
- `sqlite3`: the standard library alone.

It prints microseconds of one core per transaction. Set them against the budget of a
whole webhook: at half the bare-aiohttp limit of `benchmarks/webhooks.py` (5,000-5,800
webhooks/s on a quiet machine), a webhook may use about 350 us of the server's one core
for everything, the HTTP included. Figures only; not a test.

    .venv/bin/python benchmarks/transaction.py [--transactions 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, event, select, update
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.calls.records import _insert_event  # noqa: E402  (the application's prebuilt event insert)
from models import Call  # noqa: E402
from models.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from models.writer import InPlaceConnection  # noqa: E402

SID = "CA" + "0" * 32
FORM = {"CallSid": SID, "From": "+8613900000001", "To": "+862161234567",
        "CallStatus": "in-progress", "Digits": "7", "AccountSid": "AC" + "0" * 32}
CALLS = Call.__table__
BY_SID = select(Call).where(Call.sid == SID)
ROW_BY_SID = select(CALLS).where(CALLS.c.sid == SID)
BUMP = update(CALLS).where(CALLS.c.sid == SID).values(invalid_inputs=CALLS.c.invalid_inputs + 1)
INSERT_EVENT = _insert_event("sqlite")


def event_values() -> dict:
    return dict(call_sid=SID, kind="menu", dedupe_key=None, twilio_timestamp=None,
                sequence_number=None, received_at=datetime.now(timezone.utc), params=FORM,
                response="<Response/>")


async def prepared(path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add(Call(sid=SID, from_number=FORM["From"], to_number=FORM["To"],
                         started_at=datetime.now(timezone.utc)))
    await engine.dispose()
    return url


def sync_engine(path: Path):
    """pysqlite, with the application's connection settings (models/db.py)."""
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def timed(run, n: int) -> float:
    for _ in range(n // 10):
        run()
    started = time.process_time()
    for _ in range(n):
        run()
    return (time.process_time() - started) / n * 1e6


async def atimed(run, n: int) -> float:
    for _ in range(n // 10):
        await run()
    started = time.process_time()
    for _ in range(n):
        await run()
    return (time.process_time() - started) / n * 1e6


async def async_layers(path: Path, n: int) -> dict[str, float]:
    url = await prepared(path)

    async def connect() -> InPlaceConnection:
        return await InPlaceConnection(lambda: sqlite3.connect(path, check_same_thread=False))

    engine = make_engine(url, async_creator=connect)
    sessions = make_sessionmaker(engine)

    async def orm() -> None:
        async with sessions() as session, session.begin():
            call = await session.scalar(BY_SID)
            call.invalid_inputs += 1
            await session.execute(INSERT_EVENT, event_values())

    async def core() -> None:
        async with engine.begin() as conn:
            (await conn.execute(ROW_BY_SID)).first()
            await conn.execute(BUMP)
            await conn.execute(INSERT_EVENT, event_values())

    try:
        return {"async ORM, in place": await atimed(orm, n),
                "async Core, in place": await atimed(core, n)}
    finally:
        await engine.dispose()


def sync_layers(path: Path, n: int) -> dict[str, float]:
    asyncio.run(prepared(path))
    engine = sync_engine(path)

    def orm() -> None:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            call = session.scalar(BY_SID)
            call.invalid_inputs += 1
            session.execute(INSERT_EVENT, event_values())

    def core() -> None:
        with engine.begin() as conn:
            conn.execute(ROW_BY_SID).first()
            conn.execute(BUMP)
            conn.execute(INSERT_EVENT, event_values())

    try:
        return {"sync ORM": timed(orm, n), "sync Core": timed(core, n)}
    finally:
        engine.dispose()


def sqlite3_layer(path: Path, n: int) -> dict[str, float]:
    import json

    asyncio.run(prepared(path))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=NORMAL")

    def raw() -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("SELECT * FROM calls WHERE sid = ?", (SID,)).fetchone()
        db.execute("UPDATE calls SET invalid_inputs = invalid_inputs + 1 WHERE sid = ?", (SID,))
        db.execute("INSERT INTO call_events (call_sid, kind, received_at, params, response) "
                   "VALUES (?, ?, ?, ?, ?)", (SID, "menu", datetime.now(timezone.utc).isoformat(),
                                             json.dumps(FORM), "<Response/>"))
        db.execute("COMMIT")

    try:
        return {"sqlite3": timed(raw, n)}
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--transactions", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ivr-transaction-") as work:
        best: dict[str, float] = {}
        for round_ in range(args.rounds):
            figures = {}
            figures.update(asyncio.run(async_layers(Path(work) / f"a{round_}.db", args.transactions)))
            figures.update(sync_layers(Path(work) / f"s{round_}.db", args.transactions))
            figures.update(sqlite3_layer(Path(work) / f"r{round_}.db", args.transactions))
            for layer, us in figures.items():
                best[layer] = min(us, best.get(layer, us))
    print(f"# one transaction: find the call, change a column, store the event; "
          f"best of {args.rounds} x {args.transactions}, CPU time of one core")
    print(f"{'layer':<22} {'us/transaction':>15} {'per second':>11} {'x sqlite3':>10}")
    for layer, us in best.items():
        print(f"{layer:<22} {us:>15.0f} {1e6 / us:>11.0f} {us / best['sqlite3']:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
