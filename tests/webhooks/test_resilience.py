"""Recovering without a restart: an unwritable SQLite file, and a journal left behind.

SQLite opens a file it may not write read-only without a word. The server must say so
(`/healthz` 503), keep answering callers (journaled), refuse logins politely, and once
the file is writable again reopen its connections and drain the journal by itself.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ivr.app import create_app
from ivr.people.users import add_user
from ivr.platform.journal import Entry, Journal
from ivr.platform.resources import JOURNAL, REPLAY_PASSES
from models import Call, CallEvent
from models.db import sqlite_path
from tests.twilio_client import Caller, Twilio

STAFF = [("王小姐", "13800000001", "客服部", "00:00-24:00")]


class FileLock:
    """Makes the SQLite file unwritable the way an operator's mistake would: its mode for
    an ordinary user, the immutable flag for root (who ignores the mode)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.root = os.geteuid() == 0

    def lock(self) -> None:
        if self.root:
            if shutil.which("chattr") is None:
                pytest.skip("root ignores file modes and chattr is missing")
            if subprocess.run(["chattr", "+i", str(self.path)], capture_output=True).returncode:
                pytest.skip("the file system has no immutable flag")
        else:
            self.path.chmod(0o444)

    def unlock(self) -> None:
        if self.root:
            subprocess.run(["chattr", "-i", str(self.path)], capture_output=True)
        else:
            self.path.chmod(0o644)


@pytest.fixture
def database_file(settings):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's file permissions")
    lock = FileLock(sqlite_path(settings.database_url))
    yield lock
    lock.unlock()


def same_site(client) -> dict:
    """A login form posted from this site, as the browser sends it (`Origin`)."""
    return {"Origin": str(client.make_url("/")).rstrip("/")}


@contextmanager
def quick_replay(settings):
    yield settings.model_copy(update={"journal_replay_seconds": 0.05})


async def test_a_server_started_on_an_unwritable_file_recovers_when_it_is_writable_again(
        aiohttp_client, settings, clock, sessions, seed, database_file):
    await seed.staff(STAFF)
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
    database_file.lock()
    app = create_app(settings.model_copy(update={"journal_replay_seconds": 0.05}), clock=clock)
    client = await aiohttp_client(app)

    health = await client.get("/healthz")
    assert health.status == 503
    assert "cannot be written" in (await health.json())["detail"]
    caller = Caller(Twilio(client))
    twiml = await caller.dial_in()
    assert twiml.status == 200  # the caller is still put through, from the cached roster
    assert twiml.find("Dial").find("Number").text == "+8613800000001"
    assert app[JOURNAL].pending() == 1
    login = await client.post("/login", data={"username": "主管", "password": "pw-123456"},
                              allow_redirects=False, headers=same_site(client))
    assert login.status == 503
    assert "稍后" in await login.text()

    passes = app[REPLAY_PASSES].count
    database_file.unlock()
    # by itself, nobody restarting anything: the first replay pass begun after the unlock
    await asyncio.wait_for(app[REPLAY_PASSES].wait_for(passes + 2), 30)
    assert app[JOURNAL].pending() == 0
    assert (await client.get("/healthz")).status == 200
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Call)
                                    .where(Call.sid == caller.sid)) == 1
    login = await client.post("/login", data={"username": "主管", "password": "pw-123456"},
                              allow_redirects=False, headers=same_site(client))
    assert login.status == 302


async def test_healthz_follows_the_file_becoming_unwritable_while_running(
        client, caller, database_file):
    assert (await client.get("/healthz")).status == 200
    database_file.lock()
    health = await client.get("/healthz")
    assert health.status == 503
    assert "not writable" in (await health.json())["detail"]
    database_file.unlock()
    assert (await client.get("/healthz")).status == 200
    assert (await caller.dial_in()).says()[0].startswith("上午好")


async def test_the_server_listens_before_it_replays_a_dead_process_journal(
        aiohttp_client, settings, clock, sessions):
    """A journal of thousands of entries kept the port closed while it was replayed; now
    the server answers at once and the journal drains behind it."""
    directory = Path(settings.journal_dir)
    left_behind = Journal(directory)
    sids = [f"CA{n:032d}" for n in range(300)]
    for n, sid in enumerate(sids):
        await left_behind.append(Entry(
            path="/twilio/voice", query={}, token=f"idem:dead-{n}",
            form={"CallSid": sid, "From": "+8613900000001", "To": "+862161234567",
                  "CallStatus": "ringing", "Direction": "inbound"},
            received_at=clock().isoformat()))
    left_behind._segments[-1].handle.close()  # the process died: its lock is gone

    app = create_app(settings.model_copy(update={"journal_replay_seconds": 0.05}), clock=clock)
    client = await aiohttp_client(app)
    health = await client.get("/healthz")  # answering while most of the journal waits
    assert health.status == 200
    assert (await health.json())["journal_pending"] > 0
    await asyncio.wait_for(app[REPLAY_PASSES].wait_for(1), 60)  # the pass begun at start
    assert app[JOURNAL].pending() == 0
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CallEvent)) == len(sids)


async def test_a_webhook_answers_in_time_while_a_replay_waits_for_the_database(
        aiohttp_client, settings, clock, database_file):
    """The replay waited for the database while holding the journal's lock, and the
    webhook that gave up on the database waited for that lock: past Twilio's 15 s."""
    import sqlite3

    app = create_app(settings.model_copy(update={"webhook_database_seconds": 1}), clock=clock)
    client = await aiohttp_client(app)
    await app[JOURNAL].append(Entry(path="/twilio/voice", query={}, token="idem:earlier",
                                    form={"CallSid": "CA" + "2" * 32, "From": "+8613900000002",
                                          "To": "+862161234567", "CallStatus": "ringing"},
                                    received_at=clock().isoformat()))
    started, database_answers = asyncio.Event(), asyncio.Event()

    async def database_not_answering(entry: Entry) -> None:
        started.set()
        await database_answers.wait()

    replay = asyncio.create_task(app[JOURNAL].replay(database_not_answering))
    await started.wait()
    other = sqlite3.connect(str(database_file.path), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the webhook's own transaction cannot go through
    try:
        twiml = await asyncio.wait_for(Caller(Twilio(client)).dial_in(), 5)
        assert twiml.status == 200
        assert twiml.find("Record") is not None  # answered without the database
    finally:
        other.execute("ROLLBACK")
        other.close()
        database_answers.set()
        await replay


async def test_an_entry_the_database_refuses_is_set_aside_and_shown_to_supervisors(
        client, sessions, clock, monkeypatch):
    """A failure that looks like an outage while the database answers (PostgreSQL refusing
    a value) was kept and retried for ever; now it goes to the dead letters after a few
    tries, and supervisors are told where."""
    from sqlalchemy.exc import OperationalError

    import webhooks.twiml
    from ivr.platform.journal import MAX_TRIES
    from webhooks.resilience import catch_up

    app = client.server.app
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())

    async def refused(*args, **kwargs):
        raise OperationalError("INSERT INTO calls", {}, Exception("value out of range"))

    await app[JOURNAL].append(Entry(path="/twilio/voice", query={}, token="idem:refused",
                                    form={"CallSid": "CA" + "3" * 32, "CallStatus": "ringing"},
                                    received_at=clock().isoformat()))
    monkeypatch.setattr(webhooks.twiml, "run_step", refused)
    for _ in range(MAX_TRIES):
        await catch_up(app)
    monkeypatch.undo()
    assert app[JOURNAL].pending() == 0

    health = await client.get("/healthz")
    assert health.status == 200  # the database is fine; the detail says what waits
    detail = await health.json()
    assert detail["dead_letters"] == 1 and detail["dead_letter_file"].endswith("failed.jsonl")
    assert "idem:refused" in Path(detail["dead_letter_file"]).read_text(encoding="utf-8")
    signed = await client.post("/login", data={"username": "主管", "password": "pw-123456"},
                               allow_redirects=False, headers=same_site(client))
    assert signed.status == 302
    cookie = signed.cookies["ivr_session"].value  # Secure: sent by hand over plain http
    banner = await client.get("/", headers={"Cookie": f"ivr_session={cookie}"})
    assert "1 条来电记录未能写入数据库" in await banner.text()
