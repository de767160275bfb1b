"""On SQLite, webhook transactions run on the writer's own thread (models/writer.py)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy.engine import make_url


async def test_a_webhook_waiting_for_the_database_lock_does_not_hold_up_the_server(
        client, settings, caller):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's single write lock")
    # Another program holds the write lock, as `ivr import` does in the middle of a file.
    other = sqlite3.connect(make_url(settings.database_url).database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        webhook = asyncio.create_task(caller.dial_in())
        await asyncio.sleep(0.5)
        assert not webhook.done()  # the greeting waits for the lock...
        page = await client.get("/login")
        assert page.status == 200  # ...while the server goes on answering
        assert "登录" in await page.text()
    finally:
        other.execute("ROLLBACK")
        other.close()
    twiml = await asyncio.wait_for(webhook, 10)
    assert twiml.status == 200
    assert twiml.says()[0].startswith("上午好")
