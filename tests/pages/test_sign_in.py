"""签入/签出 on the pages, in a real headless Chromium: a staff member signs out on their
page and is no longer free; the supervisor sees them on shift but signed out, and signs
them back in."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from ivr.app import create_app
from ivr.calls import presence
from tests.pages_support import CHROMIUM_ARGS, chromium_or_skip, seed_month


@pytest.fixture
async def site(aiohttp_server, settings, clock, sessions):
    await seed_month(sessions, settings)
    return await aiohttp_server(create_app(settings, clock=clock))



async def logged_in(browser, server, name: str, password: str):
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(str(server.make_url("/login")))
    await page.fill("input[name=username]", name)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return context, page


async def free_names(sessions, settings, clock) -> list[str]:
    async with sessions() as session:
        return [s.name for s in await presence.free_staff(session, settings=settings,
                                                          now=clock(), choice="person")]


async def test_sign_out_on_the_staff_page_and_the_supervisor_sees_it(browser, site, sessions,
                                                                      settings, clock):
    # 10:00: 李强 is still on the 09:58 call; 王芳 is free.
    assert await free_names(sessions, settings, clock) == ["王芳"]
    context, page = await logged_in(browser, site, "wangfang", "staff-pass-1")
    assert await page.get_attribute("#my-sign-in [data-state]", "data-state") == "available"
    await page.click("#my-sign-in button:has-text('签出')")
    await page.wait_for_load_state()
    assert await page.get_attribute("#my-sign-in [data-state]", "data-state") == "away"
    assert "已签出" in await page.inner_text("#my-sign-in")
    assert await free_names(sessions, settings, clock) == []
    await context.close()

    context, page = await logged_in(browser, site, "主管", "supervisor-pass")
    banner = await page.inner_text("#signed-out-on-shift")
    assert "在班但已签出" in banner and "王芳" in banner
    states = {await row.get_attribute("data-staff"): await row.get_attribute("data-state")
              for row in await page.locator("#staff-states tbody tr").all()}
    assert states == {"王芳": "away", "李强": "talking"}
    row = page.locator("#staff-states tr[data-staff='王芳']")
    assert "miss" in await row.get_attribute("class")
    await row.locator("button:has-text('签入')").click()
    await page.wait_for_load_state()
    assert await page.locator("#signed-out-on-shift").count() == 0
    assert await page.get_attribute("#staff-states tr[data-staff='王芳']", "data-state") == "available"
    assert await free_names(sessions, settings, clock) == ["王芳"]
    # The per-staff table has the switchboard's figures: 李强 has handled 3 calls this month.
    cells = await page.locator("#per-staff tr", has_text="李强").locator("td").all_inner_texts()
    assert cells[10] == "3"
    await context.close()


async def test_a_staff_member_cannot_sign_in_someone_else(aiohttp_client, site, sessions, settings,
                                                          clock):
    client = await aiohttp_client(create_app(
        settings.model_copy(update={"public_base_url": "http://hotline.example.com"}), clock=clock))
    resp = await client.post("/login", data={"username": "wangfang", "password": "staff-pass-1"},
                             headers={"Origin": str(client.make_url("/")).rstrip("/")},
                             allow_redirects=False)
    assert resp.status in (302, 303)
    page = await (await client.get("/")).text()
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    async with sessions() as session:
        li = [s for s, _ in await presence.roll_call(session, settings=settings, now=clock())
              if s.name == "李强"][0]
    resp = await client.post(f"/staff/{li.id}/sign-in", data={"csrf": csrf, "signed_in": "0"},
                             allow_redirects=False)
    assert resp.status == 403
    async with sessions() as session:
        states = await presence.presences(session, settings=settings, now=clock())
    assert states[li.id].signed_in
