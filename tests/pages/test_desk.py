"""The staff desk in Chromium: the caller ringing their phone shows by itself, with the
caller's address and open tickets, pushed by the server (no reload); only their own calls;
back by itself after a restart."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ivr.people.users import add_user
from models import Call, Leg, Staff
from tests.pages.test_pages import logged_in, site, url  # noqa: F401  (fixtures)
from tests.pages_support import page_across_a_restart
from tests.twilio_client import Caller, StaffPhone

CHEN = "+8613933334444"  # 陈静, 5栋1单元302, two complaints still open (seed_month)


async def test_the_desk_shows_the_caller_ringing_their_phone_without_a_reload(
        browser, site, twilio, clock):
    server, seeded = site
    context, page = await logged_in(browser, server, "wangfang", "staff-pass-1")
    await page.goto(url(server, "/desk"))
    assert await page.is_visible("#desk-no-call")  # 王芳 has no call yet
    assert await page.locator("#desk-calls section").count() == 0
    await page.wait_for_selector("#desk-link.ok")  # the stream is open
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    caller = Caller(twilio, from_number=CHEN)
    await caller.dial_in()
    answer = await caller.press("0")  # a person: 李强 is talking, so 王芳's phone rings
    dial, number = caller.dial()
    assert number.text == seeded.staff["王芳"].phone, answer.text
    card = page.locator(f'#desk-calls section[data-sid="{caller.sid}"]')
    await card.wait_for(timeout=1000)  # within a second of the webhook that rings her
    assert await card.get_attribute("data-state") == "ringing"
    assert await page.inner_text("#caller-address") == "5栋1单元302"
    tickets = await card.locator("table.tickets").inner_text()
    assert "楼道灯不亮，多次反映" in tickets and "噪音投诉" in tickets
    assert await page.is_hidden("#desk-no-call")
    assert await page.is_hidden("#desk-ticket")  # nothing to write down before she answers

    phone = StaffPhone(twilio, caller, dial, number)
    await phone.event("ringing", clock())
    clock.advance(6)
    await phone.event("answered", clock())
    await phone.pick_up_and_screen("1")  # she takes the call
    await page.locator(f'#desk-calls section[data-sid="{caller.sid}"][data-state="talking"]') \
        .wait_for(timeout=1000)
    assert await page.is_visible("#desk-ticket-form")
    assert await page.input_value("#desk-ticket-form input[name=call]") == caller.sid
    assert navigations == []  # pushed, not reloaded
    await context.close()


async def test_a_desk_shows_only_its_own_callers(browser, site, twilio):
    server, seeded = site
    # 李强 is talking on the seeded live call (张伟); 王芳 sees none of it.
    context, page = await logged_in(browser, server, "wangfang", "staff-pass-1")
    await page.goto(url(server, "/desk"))
    assert await page.locator("#desk-calls section").count() == 0
    other, his = await logged_in(browser, server, "liqiang", "staff-pass-2")
    await his.goto(url(server, "/desk"))
    assert await his.get_attribute("#desk-calls section", "data-sid") == seeded.calls["live"]
    assert await his.get_attribute("#desk-calls section", "data-state") == "talking"
    await other.close()
    await context.close()


async def test_the_desk_comes_back_by_itself_after_a_restart(browser, tmp_path, settings, sessions,
                                                             clock):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("one server on a file database is enough to show the reconnection")
    async with sessions() as session, session.begin():
        wang = Staff(name="王芳", phone="+8613800000001", department="客服部", shifts="00:00-24:00")
        session.add(wang)
        await session.flush()
        user = await add_user(session, name="wangfang", role="staff", password="staff-pass-1",
                              now=clock())
        user.staff_id = wang.id
    async with page_across_a_restart(browser, settings, tmp_path, name="wangfang",
                                     password="staff-pass-1", path="/desk", link="#desk-link") as page:
        now = datetime.now(timezone.utc)
        async with sessions() as session, session.begin():
            call = Call(sid="CAafter", from_number="+8613900000009", started_at=now)
            session.add(call)
            await session.flush()
            session.add(Leg(call_id=call.id, sid="CAafterL1", staff_id=wang.id, staff_name="王芳",
                            phone=wang.phone, attempt=1, created_at=now, initiated_at=now))
        await page.locator('#desk-calls section[data-sid="CAafter"]').wait_for(timeout=15000)
        assert await page.get_attribute("#desk-link", "class") == "ok"
