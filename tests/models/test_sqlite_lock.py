"""SQLite's one write lock: webhooks wait for it off the event loop; readers never wait.

Another program holding the lock stands for `ivr import` in the middle of a long file,
or a second server process in the middle of a write.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from ivr.app import create_app
from ivr.people.users import add_user, create_token
from ivr.platform.resources import WRITER
from ivr.tools.simulator import call_params
from models import CallEvent
from tests.twilio_client import HOTLINE, Twilio, new_sid
from webhooks.resilience import catch_up


class OtherProgram:
    """Another connection to the same SQLite file, to take and release its write lock."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)

    def hold(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")


@pytest.fixture
def other_program(settings):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's single write lock")
    other = OtherProgram(make_url(settings.database_url).database)
    yield other
    other.release()
    other.db.close()


async def test_a_webhook_waiting_for_the_lock_does_not_hold_up_the_server(
        client, caller, other_program, monkeypatch):
    writer, loop = client.server.app[WRITER], asyncio.get_running_loop()
    began = asyncio.Event()
    run = writer.run

    async def noted_run(work, **options):
        async def noted(sessions):  # on the writer's thread: tell the test's loop
            loop.call_soon_threadsafe(began.set)
            return await work(sessions)
        return await run(noted, **options)

    monkeypatch.setattr(writer, "run", noted_run)
    other_program.hold()
    webhook = asyncio.create_task(caller.dial_in())
    await asyncio.wait_for(began.wait(), 10)  # its transaction is under way: the lock is held
    page = await client.get("/login")
    assert page.status == 200  # the server goes on answering...
    assert "登录" in await page.text()
    assert not webhook.done()  # ...while the greeting still waits for the lock
    other_program.release()
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



async def test_a_webhook_that_waits_too_long_answers_without_the_database_and_is_kept(
        aiohttp_client, settings, clock, sessions, other_program):
    """Past IVR_WEBHOOK_DATABASE_SECONDS the caller gets the journaled answer, not the dead
    air and error Twilio gives after 15 s; the webhook reaches the database once."""
    app = create_app(settings.model_copy(update={"webhook_database_seconds": 1}), clock=clock)
    twilio = Twilio(await aiohttp_client(app))
    other_program.hold()
    sid = new_sid()
    params = call_params(sid=sid, from_number="+8613900000001", to_number=HOTLINE,
                         CallStatus="ringing")
    # Twilio gives up after 15 s; the lock is held throughout, so an answer at all is one
    # given without the database.
    twiml = await asyncio.wait_for(twilio.post(
        "/twilio/voice", params, headers={"I-Twilio-Idempotency-Token": f"{sid}-voice"}), 15)
    assert twiml.status == 200
    assert twiml.find("Record") is not None  # nobody on the cached roster: a message
    other_program.release()  # the waiting transaction goes through
    await catch_up(app)
    async with sessions() as session:
        events = (await session.scalars(select(CallEvent).where(CallEvent.call_sid == sid))).all()
    assert [e.dedupe_key for e in events] == [f"idem:{sid}-voice"]
