"""The wallboard in Chromium: pushed by the server, no reload, and back after a restart."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import select

from models import Call
from tests.pages.test_pages import logged_in, site, url  # noqa: F401  (fixtures)
from tests.pages_support import page_across_a_restart, signed_in_client
from tests.twilio_client import Caller


async def test_a_call_shows_on_the_wall_without_a_reload(browser, site, twilio, sessions):
    server, seeded = site
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    await page.goto(url(server, "/wall"))
    assert "实时大屏" in await page.inner_text("h1")
    # the seeded call still in progress: 李强 talking
    talking = page.locator(f'#wall-calls tr[data-sid="{seeded.calls["live"]}"]')
    assert await talking.get_attribute("data-state") == "talking"
    assert "李强" in await talking.inner_text()
    assert await page.locator('#wall-staff li[data-staff="李强"]').get_attribute("data-state") == "talking"
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    caller = Caller(twilio, from_number="+8613911112222")
    await caller.dial_in()  # a webhook handled by another app on the same database
    row = page.locator(f'#wall-calls tr[data-sid="{caller.sid}"]')
    await row.wait_for(timeout=3000)  # the board polls every 0.5 s: well within a second or two
    assert await row.get_attribute("data-state") == "menu"
    assert "+8613911112222" in await row.inner_text()
    assert navigations == []  # pushed, not reloaded
    await context.close()


async def test_the_wall_comes_back_by_itself_after_a_restart(browser, tmp_path, settings, sessions,
                                                             clock):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("one server on a file database is enough to show the reconnection")
    from ivr.people.users import add_user

    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="supervisor-pass", now=clock())
    async with page_across_a_restart(browser, settings, tmp_path, name="主管",
                                     password="supervisor-pass", path="/wall", link="#wall-link") as page:
        async with sessions() as session, session.begin():
            session.add(Call(sid="CAafter", from_number="+8613900000009",
                             started_at=__import__("datetime").datetime.now().astimezone()))
        await page.locator('#wall-calls tr[data-sid="CAafter"]').wait_for(timeout=15000)
        assert await page.get_attribute("#wall-link", "class") == "ok"


async def test_a_server_shutting_down_ends_the_open_wallboard_streams(aiohttp_client, settings,
                                                                      sessions, clock):
    """aiohttp waits up to a minute for open handlers to finish: a restart must not wait that
    long on a wallboard left open. The stream ends, and the browser reconnects to the next."""
    from ivr.people.users import add_user

    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="supervisor-pass", now=clock())
    client = await signed_in_client(aiohttp_client, settings, clock, name="主管",
                                    password="supervisor-pass")
    stream = await client.get("/wall/events")
    assert stream.status == 200
    first = await asyncio.wait_for(stream.content.readany(), 10)
    assert b"event: board" in first
    closing = asyncio.create_task(client.server.close())
    await asyncio.wait_for(stream.content.read(), 10)  # the end of the stream, not a minute on
    await asyncio.wait_for(closing, 10)
