"""The Alembic migrations build exactly the schema the models describe, and run both
ways: up from an empty database, down to base and up again, and from each revision's
predecessor — on SQLite, and on PostgreSQL when `IVR_TEST_DATABASE_URL` is set."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from models import Base
from models.db import alembic_config, downgrade, make_engine, upgrade
from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database


def revision_pairs() -> list[tuple[str, str]]:
    """(previous, revision) for every revision, oldest first; "base" before the first."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revisions = list(reversed(list(script.walk_revisions("base", "heads"))))
    return [(rev.down_revision or "base", rev.revision) for rev in revisions]


async def model_differences(url: str) -> list:
    engine = make_engine(url)

    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return compare_metadata(context, Base.metadata)

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(diff)
    finally:
        await engine.dispose()


async def schema(url: str) -> dict:
    """Tables with their columns, indexes, unique constraints and foreign keys."""
    engine = make_engine(url)

    def read(connection):
        db = inspect(connection)
        return {
            table: {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"])
                                  for c in db.get_columns(table)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in db.get_indexes(table)),
                "unique": sorted(tuple(u["column_names"]) for u in db.get_unique_constraints(table)),
                "foreign_keys": sorted((tuple(f["constrained_columns"]), f["referred_table"])
                                       for f in db.get_foreign_keys(table)),
            }
            for table in db.get_table_names() if table != "alembic_version"
        }

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(read)
    finally:
        await engine.dispose()


@pytest.fixture
async def empty_database_url(tmp_path):
    if PG_URL:
        url = await _fresh_pg_database()
        yield url
        await _drop_pg_database(url)
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


async def test_migrated_schema_matches_the_models(database_url):
    assert await model_differences(database_url) == []


async def test_empty_to_head_down_to_base_and_up_again(empty_database_url):
    url = empty_database_url
    await upgrade(url, "head")
    assert await model_differences(url) == []
    tables = set(await schema(url))
    assert tables == set(Base.metadata.tables)
    await downgrade(url, "base")
    assert await schema(url) == {}
    await upgrade(url, "head")
    assert await model_differences(url) == []
    assert set(await schema(url)) == tables


@pytest.mark.parametrize("previous,revision", revision_pairs(),
                         ids=[f"{p}->{r}" for p, r in revision_pairs()])
async def test_each_revision_upgrades_from_its_predecessor_and_back(empty_database_url,
                                                                    previous, revision):
    url = empty_database_url
    if previous != "base":
        await upgrade(url, previous)
    before = await schema(url)
    await upgrade(url, revision)
    after = await schema(url)
    assert after != before, f"revision {revision} changed nothing"
    await downgrade(url, previous)
    assert await schema(url) == before
    await upgrade(url, revision)
    assert await schema(url) == after
    if revision == revision_pairs()[-1][1]:
        assert await model_differences(url) == []


async def test_a_database_holding_calls_and_legs_upgrades_to_head(empty_database_url):
    """A centre's database is never empty: every revision must apply with rows in place
    (on SQLite a table rebuilt under a foreign key from `legs` would fail here)."""
    url = empty_database_url
    await upgrade(url, "0001")
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO staff (id, name, phone, department, shifts, position, active, "
                "escalation_level) VALUES (1, '王小明', '+8613800010001', '客服', '', 0, true, 1)"))
            await conn.execute(text(
                "INSERT INTO calls (id, sid, direction, from_number, to_number, language, status, "
                "started_at, invalid_inputs, empty_inputs) VALUES (1, 'CA1', 'inbound', "
                "'+8613900000001', '+862161234567', 'zh', 'completed', :now, 0, 0)"), {"now": now})
            await conn.execute(text(
                "INSERT INTO legs (id, call_id, staff_id, staff_name, phone, attempt, created_at, "
                "accepted, bridged) VALUES (1, 1, 1, '王小明', '+8613800010001', 1, :now, true, true)"),
                {"now": now})
    finally:
        await engine.dispose()
    await upgrade(url, "head")
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT sid FROM calls"))).scalars().all() == ["CA1"]
            assert (await conn.execute(text("SELECT call_id FROM legs"))).scalars().all() == [1]
    finally:
        await engine.dispose()


async def test_0005_gives_callback_tickets_what_their_caller_wanted(empty_database_url):
    """Tickets left as messages before 0005 were all `callback`: a complaint becomes a
    complaint again (still needing its callback while open); no choice stays `callback`."""
    import sqlalchemy as sa

    from models.base import UTCDateTime
    from tests.conftest import local

    url = empty_database_url
    await upgrade(url, "0002")
    at = local(2026, 11, 23, 10, 0)
    calls = sa.table("calls", *(sa.column(c) for c in (
        "id", "sid", "direction", "from_number", "to_number", "language", "status",
        "invalid_inputs", "empty_inputs", "menu_choice")), sa.column("started_at", UTCDateTime()))
    tickets = sa.table("tickets", *(sa.column(c) for c in (
        "id", "number", "category", "status", "call_id", "description", "escalation_level")),
        sa.column("created_at", UTCDateTime()), sa.column("due_at", UTCDateTime()))
    choices = {1: "complaint", 2: "fees", 3: None, 4: "emergency", 5: "repair"}
    rows = [(1, "callback", "open"), (2, "callback", "open"), (3, "callback", "open"),
            (4, "callback", "resolved"), (5, "repair", "open")]
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(calls.insert(), [
                {"id": i, "sid": f"CA{i:032d}", "direction": "inbound", "from_number": "+8613900000001",
                 "to_number": "+862161234567", "language": "zh", "status": "completed",
                 "invalid_inputs": 0, "empty_inputs": 0, "menu_choice": choice, "started_at": at}
                for i, choice in choices.items()])
            await conn.execute(tickets.insert(), [
                {"id": i, "number": f"20261123-000{i}", "category": category, "status": status,
                 "call_id": i, "description": "", "escalation_level": 1, "created_at": at,
                 "due_at": at} for i, category, status in rows])
        await upgrade(url, "head")
        async with engine.connect() as conn:
            migrated = (await conn.execute(sa.text(
                "SELECT id, category, needs_callback FROM tickets ORDER BY id"))).all()
    finally:
        await engine.dispose()
    assert [(i, c, bool(n)) for i, c, n in migrated] == [
        (1, "complaint", True), (2, "inquiry", True), (3, "callback", True),
        (4, "emergency", False), (5, "repair", False)]
