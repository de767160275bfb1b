"""SQLite's writer thread serves a waiting caller's webhook before waiting page writes."""

from __future__ import annotations

import asyncio
import threading

import pytest

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
