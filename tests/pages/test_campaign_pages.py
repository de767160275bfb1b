"""Fee-reminder campaigns on the dashboard (headless Chromium): a confirmation with the
households and the total owed, no empty second campaign, a list in IVR_TIMEZONE, and in
demo mode (no Twilio) a page that says calls cannot be placed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.async_api import async_playwright
from sqlalchemy import select, update

from ivr.app import create_app
from models import Campaign, Resident
from tests.pages.test_pages import logged_in, url
from tests.pages_support import CHROMIUM_ARGS, chromium_or_skip, seed_month


async def serve(aiohttp_server, settings, clock, sessions, **overrides):
    await seed_month(sessions, settings)
    settings = settings.model_copy(update=overrides) if overrides else settings
    return await aiohttp_server(create_app(settings, clock=clock))


async def campaigns_in(sessions) -> list[Campaign]:
    async with sessions() as session:
        return list((await session.scalars(select(Campaign))).all())


async def test_a_campaign_is_confirmed_with_households_and_total_then_listed_in_local_time(
        browser, aiohttp_server, settings, clock, sessions):
    server = await serve(aiohttp_server, settings, clock, sessions)
    async with sessions() as session, session.begin():
        session.add(Resident(name="王磊", phone="+8613955556666", address="7栋1单元101",
                             arrears=Decimal("300.00")))
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    await page.click("#start-fee-campaign")
    assert await page.inner_text("#campaign-summary") == \
        "将为 2 户欠费业主排队外呼，欠费合计 1580.50 元。"
    assert await campaigns_in(sessions) == []          # nothing queued before the confirmation
    await page.click("#confirm-fee-campaign")
    [campaign] = await campaigns_in(sessions)
    assert page.url == url(server, f"/campaigns/{campaign.id}")
    assert (await page.inner_text("#campaign-started")).startswith("2026-11-23 10:00 ")  # not 02:00
    assert await page.locator("#calls-disabled").count() == 0

    await page.goto(url(server, "/campaigns"))
    row = page.locator(f'tr[data-campaign="{campaign.id}"]')
    assert await row.locator("td.started").inner_text() == "2026-11-23 10:00"

    # A second start while it runs: the page says so, and no empty campaign is made.
    await page.click("#start-fee-campaign")
    assert "正在进行，还有 2 户未完成" in await page.inner_text("#campaign-running")
    assert await page.locator("#confirm-fee-campaign").count() == 0
    csrf = await page.eval_on_selector("form[action='/logout'] input[name=csrf]", "el => el.value")
    response = await context.request.post(url(server, "/campaigns/fee-reminder"), form={"csrf": csrf})
    assert response.status == 409 and "正在进行" in await response.text()
    assert len(await campaigns_in(sessions)) == 1
    await context.close()


async def test_with_nobody_in_arrears_the_page_refuses_with_the_reason(
        browser, aiohttp_server, settings, clock, sessions):
    server = await serve(aiohttp_server, settings, clock, sessions)
    async with sessions() as session, session.begin():
        await session.execute(update(Resident).values(arrears=Decimal("0")))
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    await page.click("#start-fee-campaign")
    assert await page.inner_text("#campaign-nobody") == "目前没有需要催缴的欠费业主，无法发起。"
    assert await page.locator("#confirm-fee-campaign").count() == 0
    await context.close()


async def test_in_demo_mode_the_campaign_page_says_calls_cannot_be_placed(
        browser, aiohttp_server, settings, clock, sessions):
    server = await serve(aiohttp_server, settings, clock, sessions, twilio_account_sid=None)
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    await page.click("#start-fee-campaign")
    assert "无法拨出电话" in await page.inner_text("#calls-disabled")
    await page.click("#confirm-fee-campaign")
    assert "TWILIO_ACCOUNT_SID" in await page.inner_text("#calls-disabled")
    report = await page.inner_text("#campaign-report")
    assert "进行中" not in report and "无法拨出" in report
    await context.close()
