"""Signing in without holding up the hotline, and without letting a stranger lock anyone out.

Each login held SQLite's write lock through its Argon2 check, so a flood of bogus logins
pushed `/twilio/voice` past Twilio's 15 s; and 5 wrong passwords locked the admin out for
a quarter of an hour, whoever typed them.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

import ivr.people.sessions
from ivr.people.users import add_user
from models import AuditEntry


@pytest.fixture
async def supervisor(sessions, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())


async def sign_in(client, name: str, password: str):
    return await client.post("/login", data={"username": name, "password": password},
                             allow_redirects=False,  # from the site's own form, as a browser posts it
                             headers={"Origin": str(client.make_url("/")).rstrip("/")})


async def test_the_password_is_checked_with_no_transaction_open(
        client, supervisor, settings, monkeypatch):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's one write lock")
    path = make_url(settings.database_url).database
    seen: dict[str, bool] = {}
    real_verify = ivr.people.sessions.verify_password

    def verify_and_look_around(password_hash, password):
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # what a caller's webhook does first
            other.execute("ROLLBACK")
            seen["webhooks_could_write"] = True
        except sqlite3.OperationalError:
            seen["webhooks_could_write"] = False
        finally:
            other.close()
        try:
            asyncio.get_running_loop()
            seen["on_the_event_loop"] = True
        except RuntimeError:
            seen["on_the_event_loop"] = False
        return real_verify(password_hash, password)

    monkeypatch.setattr(ivr.people.sessions, "verify_password", verify_and_look_around)
    response = await sign_in(client, "主管", "pw-123456")
    assert response.status == 302
    assert seen == {"webhooks_could_write": True, "on_the_event_loop": False}


async def test_wrong_passwords_bring_growing_delays_not_a_lock(client, supervisor, clock, settings):
    for _ in range(settings.login_max_failures):
        assert (await sign_in(client, "主管", "guess")).status == 401
    waiting = await sign_in(client, "主管", "pw-123456")
    assert waiting.status == 429
    assert "请您 1 秒后再试" in await waiting.text()
    clock.advance(1)
    assert (await sign_in(client, "主管", "guess-again")).status == 401
    waiting = await sign_in(client, "主管", "pw-123456")
    assert "请您 2 秒后再试" in await waiting.text()  # each failure doubles the wait
    clock.advance(2)
    assert (await sign_in(client, "主管", "pw-123456")).status == 302


async def test_the_delay_is_capped_and_tries_refused_during_it_do_not_stretch_it(
        client, supervisor, clock, settings, sessions):
    for n in range(settings.login_max_failures + 10):  # 1, 2, 4 ... 512 s, were it not capped
        clock.advance(settings.login_max_delay_seconds)
        assert (await sign_in(client, "主管", f"guess-{n}")).status == 401
    for _ in range(20):  # a stranger keeps trying during the delay: refused, not counted
        assert (await sign_in(client, "主管", "guess")).status == 429
    clock.advance(settings.login_max_delay_seconds)  # at most this long for the real owner
    assert (await sign_in(client, "主管", "pw-123456")).status == 302


async def test_a_flood_from_one_address_is_refused_before_any_hash_or_write(
        client, supervisor, clock, settings, sessions):
    names = [f"bot-{n}" for n in range(settings.login_failures_per_address)]
    for name in names:  # different names: no name reaches its own limit
        assert (await sign_in(client, name, "guess")).status == 401
    refused = await sign_in(client, "主管", "pw-123456")
    assert refused.status == 429
    assert "秒后再试" in await refused.text()
    async with sessions() as session:
        written = await session.scalar(select(func.count()).select_from(AuditEntry))
    assert written == len(names)  # the refused try cost no database write
    clock.advance(61)  # a minute later the address may try again
    assert (await sign_in(client, "主管", "pw-123456")).status == 302


async def test_a_signed_in_page_never_waits_for_the_write_lock(client, supervisor, settings, clock):
    """Checking the session took SQLite's write lock on every page: a page waited behind
    a webhook (and held the next one up) just to read who was asking."""
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's one write lock")
    signed = await sign_in(client, "主管", "pw-123456")
    cookie = {"Cookie": f"ivr_session={signed.cookies['ivr_session'].value}"}
    other = sqlite3.connect(make_url(settings.database_url).database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer, e.g. `ivr import` in a long file
    try:
        page = await asyncio.wait_for(client.get("/calls", headers=cookie), 5)
        assert page.status == 200
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_a_burst_sent_at_once_cannot_slip_past_the_address_limit(client, supervisor, settings):
    limit = settings.login_failures_per_address
    burst = await asyncio.gather(*(sign_in(client, f"bot-{n}", "guess") for n in range(3 * limit)))
    statuses = sorted(r.status for r in burst)
    assert statuses.count(401) == limit  # checked; the rest refused before any hash
    assert statuses.count(429) == 2 * limit
