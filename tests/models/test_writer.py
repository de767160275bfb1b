"""SQLite's writer thread: a waiting caller's webhook before waiting page writes, and
webhooks that queue meanwhile committed together (group commit)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, select

from models import Call
from models.db import make_engine
from models.writer import PAGE, WEBHOOK, ThreadWriter


@pytest.fixture
async def writer(settings):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the writer thread is SQLite's")
    writer = await ThreadWriter(settings.database_url).start()
    yield writer
    await writer.close()


async def test_webhooks_waiting_go_before_page_writes_waiting(writer):
    busy, release = threading.Event(), threading.Event()
    served: list[str] = []

    async def long_page_write(_sessions) -> None:
        busy.set()
        release.wait(5)  # a transaction in progress: the others queue behind it
        served.append("first")

    def work(name: str):
        async def transaction(_sessions) -> str:
            served.append(name)
            return name
        return transaction

    first = asyncio.create_task(writer.run(long_page_write, priority=PAGE))
    await asyncio.to_thread(busy.wait, 5)
    pages = [asyncio.create_task(writer.run(work(f"page-{n}"), priority=PAGE)) for n in range(3)]
    await asyncio.sleep(0)  # the pages are queued first...
    webhook = asyncio.create_task(writer.run(work("webhook"), priority=WEBHOOK))
    await asyncio.sleep(0)
    release.set()
    assert await webhook == "webhook"
    await asyncio.gather(first, *pages)
    assert served == ["first", "webhook", "page-0", "page-1", "page-2"]  # ...the caller first


async def test_a_webhook_that_gave_up_before_its_turn_never_runs(writer):
    busy, release = threading.Event(), threading.Event()
    served: list[str] = []

    async def long_transaction(_sessions) -> None:
        busy.set()
        release.wait(5)

    async def late(_sessions) -> None:
        served.append("late")

    first = asyncio.create_task(writer.run(long_transaction))
    await asyncio.to_thread(busy.wait, 5)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(writer.run(late), 0.2)  # answered from the journal instead
    release.set()
    await first
    assert await writer.run(lambda _s: asyncio.sleep(0, "after")) == "after"
    assert served == []


# Group commit: webhooks that queue while one transaction runs share the next one.


def _webhook(sid: str, *, fail: bool = False, lose_transaction: bool = False):
    """A webhook's work as `webhooks/twiml.py` shapes it: a session, its step, commit."""

    async def transaction(sessions) -> str:
        async with sessions() as session, session.begin():
            session.add(Call(sid=sid, direction="inbound", from_number="+8613900000001",
                             to_number="+862161234567", started_at=datetime.now(timezone.utc)))
            await session.flush()
            if lose_transaction:  # what SQLite does on a full disk: the whole transaction goes
                raw = await (await session.connection()).get_raw_connection()
                raw.driver_connection._connection.rollback()
            if fail or lose_transaction:
                raise RuntimeError(f"the step of {sid} failed")
        return sid

    return transaction


async def _stored_sids(database_url: str) -> set[str]:
    engine = make_engine(database_url, read_only=True)
    try:
        async with engine.connect() as connection:
            return set((await connection.scalars(select(Call.sid))).all())
    finally:
        await engine.dispose()


def _count_begins(writer) -> list[str]:
    begins: list[str] = []

    @event.listens_for(writer.engine.sync_engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement, *_args):
        if statement.startswith("BEGIN"):
            begins.append(statement)

    return begins


async def _queue_behind_a_busy_writer(writer, works) -> list[asyncio.Task]:
    """`works` all queued while another webhook's transaction is running."""
    busy, release = threading.Event(), threading.Event()

    async def in_progress(_sessions) -> None:
        busy.set()
        release.wait(5)

    first = asyncio.create_task(writer.run(in_progress, together=True))
    await asyncio.to_thread(busy.wait, 5)
    tasks = [asyncio.create_task(writer.run(work, together=True)) for work in works]
    await asyncio.sleep(0)
    release.set()
    await first
    return tasks


async def test_webhooks_queued_meanwhile_commit_in_one_transaction_and_answer_after_it(
        writer, settings):
    begins = _count_begins(writer)
    sids = [f"CA{n:032d}" for n in range(6)]
    tasks = await _queue_behind_a_busy_writer(writer, [_webhook(sid) for sid in sids])
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    # The first answer comes after the group's one COMMIT: every call of it is stored.
    assert await _stored_sids(settings.database_url) == set(sids)
    assert [await task for task in tasks] == sids
    assert begins == ["BEGIN IMMEDIATE"]  # one transaction for all six (the first had none)


async def test_a_failing_webhook_in_a_group_loses_nothing_of_the_others(writer, settings):
    sids = [f"CA{n:032d}" for n in range(5)]
    works = [_webhook(sid, fail=(n == 2)) for n, sid in enumerate(sids)]
    tasks = await _queue_behind_a_busy_writer(writer, works)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert [r for n, r in enumerate(results) if n != 2] == sids[:2] + sids[3:]
    assert isinstance(results[2], RuntimeError)
    assert await _stored_sids(settings.database_url) == set(sids) - {sids[2]}


async def test_a_webhook_that_loses_the_shared_transaction_has_the_others_run_again_alone(
        writer, settings):
    begins = _count_begins(writer)
    sids = [f"CA{n:032d}" for n in range(5)]
    works = [_webhook(sid, lose_transaction=(n == 2)) for n, sid in enumerate(sids)]
    tasks = await _queue_behind_a_busy_writer(writer, works)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert [r for n, r in enumerate(results) if n != 2] == sids[:2] + sids[3:]
    assert isinstance(results[2], Exception)  # its own failure (or its savepoint's, now gone)
    assert await _stored_sids(settings.database_url) == set(sids) - {sids[2]}
    assert len(begins) == 1 + 4  # the lost group, then each of the four alone
