"""SQLite's one write lock: webhooks wait for it off the event loop; readers never wait.

Another program holding the lock stands for `ivr import` in the middle of a long file,
or a second server process in the middle of a write.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy.engine import make_url

from ivr.users import add_user, create_token


@pytest.fixture
def write_lock(settings):
    """Hold SQLite's write lock from another connection until the test lets go."""
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's single write lock")
    other = sqlite3.connect(make_url(settings.database_url).database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    def release() -> None:
        if other.in_transaction:
            other.execute("ROLLBACK")

    yield release
    release()
    other.close()


async def test_a_webhook_waiting_for_the_lock_does_not_hold_up_the_server(
        client, caller, write_lock):
    webhook = asyncio.create_task(caller.dial_in())
    await asyncio.sleep(0.5)
    assert not webhook.done()  # the greeting waits for the lock...
    page = await client.get("/login")
    assert page.status == 200  # ...while the server goes on answering
    assert "登录" in await page.text()
    write_lock()
    twiml = await asyncio.wait_for(webhook, 10)
    assert twiml.status == 200
    assert twiml.says()[0].startswith("上午好")


async def test_supervisors_read_the_figures_while_the_lock_is_held(
        client, sessions, clock, settings):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's single write lock")
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
        token = await create_token(session, name="主管", now=clock())
    async with sessions() as session, session.begin():
        await session.connection()  # BEGIN IMMEDIATE: the write lock is held from here on
        stats = await asyncio.wait_for(
            client.get("/api/stats", headers={"Authorization": f"Bearer {token}"}), 5)
        assert stats.status == 200
        assert "three_ring_rate" in await stats.json()
        health = await asyncio.wait_for(client.get("/healthz"), 5)
        assert health.status == 200

