"""Seeding the benchmarks' databases through SQLAlchemy Core, the one way for all of them.

A benchmark describes its rows as a stream of `(table, row)` pairs, a parent before its
children (a call before its legs); `write` inserts them with `insert(table)` and a list of
parameter dicts (the driver's executemany), in batches, in one transaction, into a
database the benchmark has migrated first (`models.db.upgrade`, the project's own
migrations), so the schema is the one the server runs on. Batches keep a million legs from
being held in memory at once; the tables are flushed in the metadata's dependency order,
so the foreign keys hold at every batch. Rows of one table must all have the same keys.
Nothing in it is SQLite's but a bigger page cache: it writes to PostgreSQL too (the
benchmarks that use it take no database URL today).
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from models import ApiToken, Base, Call, Leg, LoginSession, Resident, Staff, Ticket, User
from models.db import is_sqlite, make_engine

BATCH = 10_000
CALL_STAFF = [("王芳", "+8613800000001"), ("李强", "+8613800000002"), ("张敏", "+8613800000003"),
              ("刘洋", "+8613800000004"), ("陈静", "+8613800000005"), ("赵磊", "+8613800000006")]
MENU = ["person", "repair", "repair", "complaint", "fees", "inquiry", "emergency"]
RESIDENTS = 5000
TICKET_CATEGORIES = ["repair", "repair", "complaint", "inquiry", "callback", "emergency"]

Rows = Iterable[tuple[Table, dict]]


async def _flush(conn: AsyncConnection, pending: dict[Table, list[dict]]) -> None:
    for table in Base.metadata.sorted_tables:  # parents first
        if pending.get(table):
            await conn.execute(insert(table), pending.pop(table))


async def _after_given_ids(conn: AsyncConnection, tables: set[Table]) -> None:
    """PostgreSQL: the rows came with their ids, so move each id sequence past them, or
    the server's own next insert would take an id already used."""
    for table in tables:
        await conn.execute(select(func.setval(
            func.pg_get_serial_sequence(table.name, "id"),
            select(func.coalesce(func.max(table.c.id), 0) + 1).scalar_subquery(), False)))


async def write(url: str, rows: Rows, *, batch: int = BATCH) -> float:
    """Insert `rows` in batches of `batch` per table, in one transaction, then ANALYZE;
    the seconds it took (making the rows included)."""
    started = time.perf_counter()
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            if is_sqlite(url):
                # A bigger page cache keeps the covering indexes in memory while they grow.
                await conn.execute(text("PRAGMA cache_size=-262144"))
            pending: dict[Table, list[dict]] = defaultdict(list)
            written: set[Table] = set()
            for table, row in rows:
                pending[table].append(row)
                written.add(table)
                if len(pending[table]) >= batch:
                    await _flush(conn, pending)
            await _flush(conn, pending)
            if not is_sqlite(url):
                await _after_given_ids(conn, written)
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def count(url: str, table: Table) -> int:
    engine = make_engine(url, read_only=True)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(table))).scalar_one()
    finally:
        await engine.dispose()


def staff(people: list[tuple[str, str, int]]) -> Iterator[tuple[Table, dict]]:
    """Staff on shift all day, in this hunt order: (name, phone, escalation level)."""
    for i, (name, phone, level) in enumerate(people):
        yield Staff.__table__, {"id": i + 1, "name": name, "phone": phone, "department": "客服部",
                                "shifts": "00:00-24:00", "position": i, "active": True,
                                "escalation_level": level}


async def year_of_calls(url: str, *, legs_wanted: int, now: datetime, seed: int = 7) -> dict:
    """A year of inbound calls ending `now`, in time order as a live system writes them
    (ids rise with time): about 1.1 legs a call (a tenth hunt to a second phone), 93 % of
    last legs answered after a realistic ring, the others abandoned or a message; a ticket
    for one call in ten, the last fortnight's partly open. The counts and the seconds."""
    totals: dict = {}
    seconds = await write(url, _year_of_calls(legs_wanted=legs_wanted, now=now, totals=totals,
                                              seed=seed))
    return {**totals, "seconds": seconds}


def _year_of_calls(*, legs_wanted: int, now: datetime, totals: dict, seed: int) -> Rows:
    rng = random.Random(seed)
    yield from staff([(name, phone, 1) for name, phone in CALL_STAFF])
    call_id = leg_id = tickets = 0
    span = 365 * 86400
    mean_gap = span / (legs_wanted / 1.1)
    start = now - timedelta(seconds=span)
    while leg_id < legs_wanted:
        call_id += 1
        start += timedelta(seconds=rng.expovariate(1 / mean_gap))
        choice = rng.choice(MENU)
        hunt = 2 if rng.random() < 0.1 else 1
        answered_by, ring_at = None, start + timedelta(seconds=25)
        legs = []
        for attempt in range(1, hunt + 1):
            leg_id += 1
            person = rng.randrange(len(CALL_STAFF))
            answered = attempt == hunt and rng.random() < 0.93
            ring = min(30, max(1, int(rng.gauss(7, 4)))) if answered else None
            legs.append({
                "id": leg_id, "call_id": call_id, "sid": f"CL{leg_id:032x}", "staff_id": person + 1,
                "staff_name": CALL_STAFF[person][0], "phone": CALL_STAFF[person][1],
                "attempt": attempt, "created_at": ring_at - timedelta(seconds=1),
                "initiated_at": ring_at - timedelta(seconds=1), "ringing_at": ring_at,
                "answered_at": ring_at + timedelta(seconds=ring) if answered else None,
                "accepted": answered, "ring_seconds": ring,
                "status": "completed" if answered else "no-answer", "bridged": answered})
            if answered:
                answered_by = person + 1
            else:
                ring_at += timedelta(seconds=16)
        outcome = "answered" if answered_by else "abandoned" if rng.random() < 0.5 else "message"
        yield Call.__table__, {
            "id": call_id, "sid": f"CA{call_id:032x}", "direction": "inbound",
            "from_number": f"+86139{call_id % 10**8:08d}", "to_number": "+862161234567",
            "language": "zh", "status": "completed", "invalid_inputs": 0, "empty_inputs": 0,
            "started_at": start, "ended_at": start + timedelta(seconds=120), "menu_choice": choice,
            "outcome": outcome, "answered_by_staff_id": answered_by,
            "transfer_requested_at": start + timedelta(seconds=20)}
        for leg in legs:
            yield Leg.__table__, leg
        if call_id % 10 == 0:
            tickets += 1
            yield Ticket.__table__, {
                "id": call_id // 10, "number": f"{start:%Y%m%d}-{call_id:08d}", "category": "repair",
                "call_id": call_id, "created_at": start, "due_at": start + timedelta(days=1),
                # Older tickets are done; the last fortnight's partly open.
                "status": "open" if now - start < timedelta(days=14) and rng.random() < 0.3
                else "closed", "owner_staff_id": answered_by, "description": "",
                "escalation_level": 1}
    totals.update(calls=call_id, legs=leg_id, tickets=tickets)


async def calls_in_progress(url: str, *, calls: int, now: datetime, seed: int = 11) -> None:
    """`calls` inbound calls in progress now, after the calls already there: a fifth at
    the menu, a fifth in line, a fifth ringing a staff phone, the rest talking."""
    engine = make_engine(url, read_only=True)
    try:
        async with engine.connect() as conn:
            first_call = (await conn.execute(select(func.coalesce(func.max(Call.id), 0)))).scalar_one() + 1
            first_leg = (await conn.execute(select(func.coalesce(func.max(Leg.id), 0)))).scalar_one() + 1
    finally:
        await engine.dispose()
    rng = random.Random(seed)

    def rows() -> Rows:
        leg_id = first_leg
        for i in range(calls):
            call_id = first_call + i
            start = now - timedelta(seconds=rng.randrange(30, 600))
            kind = ("menu", "queued", "ringing", "talking", "talking")[i % 5]
            queued = start + timedelta(seconds=20) if kind == "queued" else None
            yield Call.__table__, {
                "id": call_id, "sid": f"CAlive{call_id:028x}", "direction": "inbound",
                "from_number": f"+86138{call_id % 10**8:08d}", "to_number": "+862161234567",
                "language": "zh", "status": "in-progress", "invalid_inputs": 0, "empty_inputs": 0,
                "started_at": start, "menu_choice": rng.choice(MENU), "queued_at": queued,
                "queue_since": queued, "queue_priority": 0}
            if kind in ("ringing", "talking"):
                person = rng.randrange(len(CALL_STAFF))
                ring = start + timedelta(seconds=25)
                talking = kind == "talking"
                yield Leg.__table__, {
                    "id": leg_id, "call_id": call_id, "sid": f"CLlive{call_id:028x}",
                    "staff_id": person + 1, "staff_name": CALL_STAFF[person][0],
                    "phone": CALL_STAFF[person][1], "attempt": 1, "created_at": ring,
                    "initiated_at": ring, "ringing_at": ring,
                    "answered_at": ring + timedelta(seconds=6) if talking else None,
                    "accepted": talking, "ring_seconds": 6 if talking else None,
                    "status": "in-progress" if talking else "ringing", "bridged": talking}
                leg_id += 1

    await write(url, rows())


async def reuse_calls(url: str) -> dict:
    """Make a database seeded by an earlier run ready again: its `calls_in_progress`
    and its users gone; the counts of what is left."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            live = select(Call.id).where(Call.ended_at.is_(None))
            await conn.execute(delete(Leg).where(Leg.call_id.in_(live)))
            await conn.execute(delete(Call).where(Call.ended_at.is_(None)))
            for table in (LoginSession, ApiToken, User):
                await conn.execute(delete(table))
    finally:
        await engine.dispose()
    return {"calls": await count(url, Call.__table__), "legs": await count(url, Leg.__table__),
            "seconds": 0.0}


def address(n: int) -> str:
    return f"阳光花园{n % 30 + 1}栋{n % 4 + 1}单元{n % 25 + 1:02d}{n % 3 + 1:02d}"


async def year_of_tickets(url: str, *, tickets_wanted: int, now: datetime, seed: int = 11) -> float:
    """A year of tickets ending `now`, in time order, for 5,000 residents: most closed,
    the last fortnight's partly open (some overdue and then escalated to level 2, where
    the supervisor is staff id 3). The seconds it took."""
    return await write(url, _year_of_tickets(tickets_wanted=tickets_wanted, now=now, seed=seed))


def _year_of_tickets(*, tickets_wanted: int, now: datetime, seed: int) -> Rows:
    rng = random.Random(seed)
    yield from staff([("王芳", "+8613800000001", 1), ("李强", "+8613800000002", 1),
                      ("赵主管", "+8613800000009", 2)])
    for n in range(1, RESIDENTS + 1):
        yield Resident.__table__, {"id": n, "name": f"住户{n}", "phone": f"+86139{n:08d}",
                                   "address": address(n), "arrears": 0}
    span = 365 * 86400
    for n in range(1, tickets_wanted + 1):
        created = now - timedelta(seconds=span * (1 - n / tickets_wanted))
        resident = rng.randrange(1, RESIDENTS + 1)
        recent = now - created < timedelta(days=14)
        status = rng.choice(["open", "assigned", "in_progress"]) if recent and rng.random() < 0.3 \
            else "closed"
        due = created + timedelta(hours=rng.choice([1, 24, 24, 48]))
        level = 2 if status != "closed" and due < now and rng.random() < 0.5 else 1
        yield Ticket.__table__, {
            "id": n, "number": f"{created:%Y%m%d}-{n:06d}", "category": rng.choice(TICKET_CATEGORIES),
            "status": status, "resident_id": resident, "resident_phone": f"+86139{resident:08d}",
            "created_at": created, "due_at": due, "owner_staff_id": rng.choice([1, 2]),
            "escalation_level": level, "description": "报修", "needs_callback": False}
