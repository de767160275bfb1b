"""The reports page in Chromium: the daily count and the monthly analysis, as computed."""

from __future__ import annotations

from ivr.tickets import reports
from tests.pages.test_pages import logged_in, site, url  # noqa: F401  (fixtures)


async def test_the_reports_page_shows_the_daily_count_and_the_monthly_analysis(browser, site, sessions, settings, clock):  # noqa: F811
    server, _seeded = site
    async with sessions() as session:
        daily = await reports.daily(session, settings=settings, at=clock())
        monthly = await reports.monthly(session, settings=settings, month="2026-11", now=clock())
    assert daily["open"] > 0 and monthly["complaints"] > 0  # the seeded month has both

    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    await page.click("text=报表")
    await page.wait_for_load_state()
    assert page.url.endswith("/reports")
    assert await page.inner_text("#daily h2") == "日盘点 2026-11-23"
    assert int(await page.inner_text('#daily [data-figure="open"]')) == daily["open"]
    assert int(await page.inner_text('#daily [data-figure="overdue"]')) == daily["overdue"]
    assert int(await page.inner_text('#monthly td[data-label="投诉件数"]')) == monthly["complaints"]
    rows = await page.locator("#daily tbody tr[data-owner]").count()
    assert rows == len(daily["per_owner"])
    async with page.expect_download() as download:
        await page.click("#monthly a:text('XLSX')")
    assert (await (await download.value).path()) is not None
    await context.close()
