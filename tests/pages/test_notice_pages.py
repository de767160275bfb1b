"""Storm mode on the dashboard (Chromium): post a notice, see who it answered, close it;
the spike alarm from stored calls."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from ivr.calls import notices
from models import Call, SmsMessage
from tests.pages.test_pages import logged_in, site, url  # noqa: F401  (fixtures)


async def test_a_supervisor_posts_a_notice_sees_its_figures_and_closes_it(browser, site, sessions,
                                                                         clock):
    server, _ = site
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    assert await page.locator("#spike-alarm").count() == 0  # an ordinary morning
    await page.fill("#post-notice input[name=where]", "阳光花园3栋")
    await page.fill("#post-notice input[name=text]", "停水检修")
    await page.fill("#post-notice input[name=until]", "18:00")
    await page.click("#post-notice button[type=submit]")
    await page.wait_for_load_state()
    row = page.locator("#notices tr[data-notice]")
    assert await row.count() == 1
    assert "阳光花园3栋" in await row.inner_text() and "11-23 18:00" in await row.inner_text()

    notice_id = int(await row.get_attribute("data-notice"))
    async with sessions() as session, session.begin():
        session.add(Call(sid="CAheard1", from_number="+8613911112222", started_at=clock(),
                         notice_id=notice_id))
        await notices.subscribe(session, notice_id=notice_id, phone="+8613911112222",
                                call_sid="CAheard1", now=clock())
    await page.reload()
    assert await row.locator('td[data-count="heard"]').inner_text() == "1"
    assert await row.locator('td[data-count="subscribed"]').inner_text() == "1"

    await row.locator("button[type=submit]").click()
    await page.wait_for_load_state()
    assert await page.locator("#notices tr[data-notice]").count() == 0
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SmsMessage)
                                    .where(SmsMessage.purpose == "notice_fixed")) == 1

    await page.fill("#post-notice input[name=where]", "阳光花园3栋")
    await page.fill("#post-notice input[name=text]", "停电")
    await page.fill("#post-notice input[name=until]", "明天")
    await page.click("#post-notice button[type=submit]")
    await page.wait_for_load_state()
    # said in Chinese on the Chinese page (the CLI says it in English)
    assert await page.inner_text("#notice-error") == "时间“明天”格式不正确，请写成 2026-11-23 18:00 或 18:00"
    await context.close()


async def test_the_spike_alarm_rises_when_calls_jump_against_the_usual_hour(browser, site,
                                                                           sessions, clock):
    server, _ = site
    async with sessions() as session, session.begin():
        for i in range(12):  # the last ten minutes: a building's water is off
            session.add(Call(sid=f"CAspike{i}", from_number=f"+86139000001{i:02d}",
                             started_at=clock() - timedelta(minutes=9, seconds=-i * 30)))
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    alarm = await page.inner_text("#spike-alarm")
    assert "来电激增" in alarm and "近10分钟来电 13 个" in alarm and "请发布通知" in alarm
    await context.close()
