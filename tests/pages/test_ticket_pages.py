"""The ticket list's filters and the ticket page, in a real headless Chromium.

The server's clock is frozen at 23 Nov 2026 10:00 (Shanghai); the data is `seed_month`
plus the tickets of `seed_tickets`, whose due times the tests work out by hand.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from ivr.app import create_app
from ivr.people.users import add_user
from ivr.tickets import escalation, lifecycle
from models import Resident, Staff, Ticket
from tests.pages.test_pages import logged_in, url
from tests.pages_support import SHANGHAI, at, seed_month, signed_in_client

OCTOBER_20 = datetime(2026, 10, 20, 9, 0, tzinfo=SHANGHAI)


async def seed_tickets(sessions, settings) -> dict:
    """Besides seed_month's two complaints (`A`: 陈静, 5栋1单元302, created 21 Nov 09:00,
    due 22 Nov 09:00, owner 王芳; `B`: the 08:35 complaint of the `hunt` call, owner 李强):

    | ticket | created | category | resident | due | state |
    |---|---|---|---|---|---|
    | C | 20 Oct 09:00 | repair | 张伟 +8613911112222, 3栋2单元501 | 23 Nov 09:20 (40 min late) | in_progress |
    | D | 23 Nov 09:50 | inquiry | +8613955556666 | 23 Nov 12:15 (2 h 15 min left) | open |
    | E | 23 Nov 07:00 | complaint | +8613977778888 | 24 Nov 09:20 | escalated to level 3 at 09:20 |
    | F | 22 Nov 10:00 | complaint | 陈静 | 23 Nov 11:00 | escalated to level 2, resolved |

    B is escalated to level 2 at 23 Nov 09:10 (due 24 Nov 09:10). 赵主管 stands at level 2
    (user `zhao`), 钱总 at level 3 (user `qian`).
    """
    async with sessions() as session, session.begin():
        tickets = {t.description: t for t in (await session.scalars(select(Ticket))).all()}
        staff = {s.name: s for s in (await session.scalars(select(Staff))).all()}
        zhao = Staff(name="赵主管", phone="+8613800000009", department="客服部", shifts="",
                     position=9, escalation_level=2)
        qian = Staff(name="钱总", phone="+8613800000010", department="管理处", shifts="",
                     position=10, escalation_level=3)
        session.add_all([zhao, qian])
        await session.flush()
        now = datetime.now(timezone.utc)
        for name, staff_member in (("zhao", zhao), ("qian", qian)):
            user = await add_user(session, name=name, role="supervisor",
                                  password=f"{name}-pass-1", now=now)
            user.staff_id = staff_member.id
        a, b = tickets["楼道灯不亮，多次反映"], tickets["噪音投诉"]
        wang, li = staff["王芳"], staff["李强"]

        async def new(when, category, phone, description, owner, resident_id=None):
            return await lifecycle.create_ticket(
                session, settings=settings, now=when, category=category, actor="test",
                resident_phone=phone, resident_id=resident_id, description=description,
                owner_staff_id=owner.id)

        zhang = await session.scalar(select(Resident).where(Resident.name == "张伟"))
        c = await new(OCTOBER_20, "repair", zhang.phone, "水管漏水（上月报修）", wang,
                      resident_id=zhang.id)
        await lifecycle.change_status(session, settings=settings, ticket=c, status="in_progress",
                                      actor="王芳", now=OCTOBER_20)
        c.due_at = at(23, 9, 20)
        d = await new(at(23, 9, 50), "inquiry", "+8613955556666", "咨询装修手续", li)
        d.due_at = at(23, 12, 15)
        e = await new(at(23, 7, 0), "complaint", "+8613977778888", "物业费收费不合理", li)
        await escalation.escalate(session, settings=settings, ticket=e, now=at(23, 9, 20),
                                  level=3, actor="scheduler", reason="超时未处理")
        f = await new(at(22, 10, 0), "complaint", a.resident_phone, "电梯异响",
                      wang, resident_id=a.resident_id)
        await escalation.escalate(session, settings=settings, ticket=f, now=at(22, 11, 0),
                                  level=2, actor="scheduler", reason="超时未处理")
        await lifecycle.resolve(session, settings=settings, ticket=f, actor="王芳",
                                now=at(22, 12, 0), note="已维修")
        await escalation.escalate(session, settings=settings, ticket=b, now=at(23, 9, 10),
                                  level=2, actor="scheduler", reason="超时未处理")
        await session.flush()
        return {"A": a.id, "B": b.id, "C": c.id, "D": d.id, "E": e.id, "F": f.id,
                "letters": {t.number: letter for letter, t in zip("ABCDEF", (a, b, c, d, e, f))},
                "li": li.id}


@pytest.fixture
async def site(aiohttp_server, settings, clock, sessions):
    await seed_month(sessions, settings)
    ids = await seed_tickets(sessions, settings)
    server = await aiohttp_server(create_app(settings, clock=clock))
    return server, ids


PASSWORDS = {"主管": "supervisor-pass", "wangfang": "staff-pass-1", "zhao": "zhao-pass-1",
             "qian": "qian-pass-1"}


@pytest.fixture
async def page_as(browser, site):
    """`await page_as("zhao", "/tickets")`: a page of `site` signed in as that user (of
    `seed_month` or `seed_tickets`), gone to the path if one is given; every one is closed
    after the test."""
    server, _ = site
    contexts = []

    async def open_page(name: str, path: str | None = None):
        context, page = await logged_in(browser, server, name, PASSWORDS[name])
        contexts.append(context)
        if path:
            await page.goto(url(server, path))
        return page

    yield open_page
    for context in contexts:
        await context.close()


async def submit_filters(page) -> None:
    """Press the filter form's button and wait for the list it loads."""
    await page.click("#ticket-filters button[type=submit]")
    await page.wait_for_load_state()


async def shown(page, ids) -> list[str]:
    """The tickets in the list, top to bottom, by their letter in `seed_tickets`."""
    numbers = await page.locator("table.tickets tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.ticket)")
    return [ids["letters"][n] for n in numbers]


async def test_overdue_shows_last_months_late_ticket_and_hides_fresh_ones(page_as, site):
    server, ids = site
    page = await page_as("主管", "/tickets")
    assert await page.inner_text("#ticket-count") == "共 6 张工单"  # no date limit by default
    await page.check("#ticket-filters input[name=overdue]")
    await submit_filters(page)
    assert "overdue=1" in page.url
    # C was created in October and is 40 minutes late; A is a day late. D, B and E are
    # not due yet; F is late but resolved.
    assert await shown(page, ids) == ["A", "C"]
    assert await page.inner_text("#ticket-count") == "共 2 张工单"
    assert await page.is_checked("#ticket-filters input[name=overdue]")  # the form keeps it
    # A creation-date range still narrows the overdue ones when it is given.
    await page.goto(url(server, "/tickets?overdue=1&from=2026-11-01&to=2026-11-30"))
    assert await shown(page, ids) == ["A"]


async def test_search_finds_a_ticket_by_phone_and_by_address(page_as, site):
    server, ids = site
    page = await page_as("主管", "/tickets")
    await page.fill("#ticket-filters input[name=q]", "139 1111 2222")  # as people type it
    await submit_filters(page)
    assert await shown(page, ids) == ["C"]
    assert "3栋2单元501" in await page.inner_text("table.tickets")
    await page.fill("#ticket-filters input[name=q]", "5栋1单元302")
    await submit_filters(page)
    assert await shown(page, ids) == ["B", "F", "A"]  # 陈静's, newest first
    number = next(n for n, letter in ids["letters"].items() if letter == "E")
    await page.goto(url(server, f"/tickets?q={number}"))
    assert await shown(page, ids) == ["E"]
    await page.goto(url(server, "/tickets?q=%25"))  # a LIKE wildcard is just a character
    assert await shown(page, ids) == []


async def test_sort_by_due_puts_the_most_urgent_first(page_as, site):
    _, ids = site
    page = await page_as("主管", "/tickets")
    assert await shown(page, ids) == ["D", "B", "E", "F", "A", "C"]  # newest first
    await page.select_option("#ticket-filters select[name=sort]", "due")
    await submit_filters(page)
    assert await shown(page, ids) == ["A", "C", "F", "D", "B", "E"]
    # Filters combine: complaints by due time.
    await page.select_option("#ticket-filters select[name=category]", "complaint")
    await submit_filters(page)
    assert await shown(page, ids) == ["A", "F", "B", "E"]
    assert "category=complaint" in page.url and "sort=due" in page.url


async def test_the_escalation_queue_shows_only_what_was_escalated_to_that_supervisor(
        page_as, site):
    _, ids = site
    page = await page_as("zhao", "/tickets")
    await page.check("#ticket-filters input[name=queue]")
    await submit_filters(page)
    assert "queue=mine" in page.url
    # B waits at level 2; F was escalated there too but is resolved; E went to level 3.
    assert await shown(page, ids) == ["B"]
    assert await page.inner_text("h1") == "升级给我的工单"

    page = await page_as("qian", "/tickets?queue=mine")
    assert await shown(page, ids) == ["E"]

    # A supervisor at no escalation level has no queue, and is told why.
    page = await page_as("主管", "/tickets?queue=mine")
    assert await shown(page, ids) == []
    assert "升级联系人" in await page.inner_text("#queue-nobody")


async def test_staff_see_only_their_own_tickets_whatever_the_filters(page_as, site):
    server, ids = site
    page = await page_as("wangfang", f"/tickets?owner={ids['li']}")  # 李强's: not hers to see
    assert await shown(page, ids) == ["F", "A", "C"]  # 王芳's own, newest first
    await page.goto(url(server, "/tickets?overdue=1&sort=due"))
    assert await shown(page, ids) == ["A", "C"]
    assert await page.locator("#ticket-filters select[name=owner]").count() == 0


async def test_paging_links_keep_the_filters(page_as, site, sessions, settings):
    _, ids = site
    async with sessions() as session, session.begin():
        for n in range(55):
            await lifecycle.create_ticket(
                session, settings=settings, now=at(20, 8, 0, n), category="repair",
                actor="test", resident_phone="+8613922220000", description=f"批量 {n}",
                owner_staff_id=ids["li"])
    page = await page_as("主管", "/tickets?category=repair&q=13922220000&sort=due")
    assert await page.inner_text("#ticket-count") == "共 55 张工单"
    assert await page.locator("table.tickets tbody tr").count() == 50
    await page.click("#next-page")
    await page.wait_for_load_state()
    assert "category=repair" in page.url and "sort=due" in page.url and "page=2" in page.url
    assert await page.locator("table.tickets tbody tr").count() == 5
    assert await page.input_value("#ticket-filters input[name=q]") == "13922220000"


async def test_saving_a_note_on_a_resolved_ticket_keeps_it_resolved(page_as, site):
    _, ids = site
    page = await page_as("主管", f"/tickets/{ids['F']}")
    assert await page.inner_text("#ticket-status") == "已解决"
    # Writing a note and pressing 保存 leaves the status alone: the select starts at it.
    await page.fill("#status-form input[name=note]", "住户来电询问，已告知处理结果")
    await page.click("#status-form button")
    await page.wait_for_load_state()
    assert await page.inner_text("#ticket-status") == "已解决"
    assert await page.inner_text("#saved-flash") == "已保存"
    assert "住户来电询问，已告知处理结果" in await page.inner_text("#history")
    assert await page.input_value("#status-form select[name=status]") == "resolved"
    # Choosing another status still changes it.
    await page.select_option("#status-form select[name=status]", "closed")
    await page.click("#status-form button")
    await page.wait_for_load_state()
    assert await page.inner_text("#ticket-status") == "已关闭"


async def test_the_owner_select_shows_the_owner(page_as, site):
    _, ids = site
    page = await page_as("主管", f"/tickets/{ids['B']}")
    owner = page.locator("#owner-form select[name=staff_id]")
    assert await owner.input_value() == str(ids["li"])
    assert await owner.locator("option:checked").inner_text() == "李强"


async def test_the_countdown_to_the_due_time_follows_the_servers_clock(page_as, site):
    server, ids = site
    page = await page_as("主管")
    await page.clock.install()  # this browser's clock, not the server's frozen one
    await page.goto(url(server, f"/tickets/{ids['D']}"))
    assert await page.inner_text("#ticket-countdown") == "剩余 2 小时 15 分"
    # It ticks in the page: a minute later (by the browser's clock) 2 h 14 min are left.
    await page.clock.run_for(61_000)
    assert await page.inner_text("#ticket-countdown") == "剩余 2 小时 14 分"
    await page.goto(url(server, f"/tickets/{ids['C']}"))
    assert await page.inner_text("#ticket-countdown") == "已超时 40 分钟"
    await page.goto(url(server, f"/tickets/{ids['A']}"))
    assert await page.inner_text("#ticket-countdown") == "已超时 1 天 1 小时"
    # A resolved ticket has nothing left to count down.
    await page.goto(url(server, f"/tickets/{ids['F']}"))
    assert await page.locator("#ticket-countdown").count() == 0


TYPED = [
    ("status=done", 400), ("category=plumbing", 400), ("level=4", 400), ("level=0", 400),
    ("level=99999999999999999999", 400), ("owner=-1", 400), ("sort=urgency", 400),
    ("queue=all", 400), ("overdue=yes", 400), ("page=0", 400), ("from=2026-13-01", 400),
    ("from=2026-11-30&to=2026-11-01", 400), ("page=99999999999999999999", 400),
    ("page=2147483647&sort=due", 200), ("q=%00%25_", 200), ("q=" + "5" * 500, 200),
    ("overdue=0&status=resolved&category=complaint&level=2&owner=1&sort=created", 200),
]


async def test_what_is_typed_into_the_list_url_is_checked(aiohttp_client, settings, clock,
                                                           sessions):
    """Unknown keys and numbers out of range are a 400 naming the field, never a 500."""
    await seed_month(sessions, settings)
    client = await signed_in_client(aiohttp_client, settings, clock, name="主管",
                                    password="supervisor-pass")
    for query, status in TYPED:
        resp = await client.get(f"/tickets?{query}", allow_redirects=False)
        assert resp.status == status, (query, await resp.text())
        if status == 400 and not query.startswith("from="):
            assert query.split("=")[0] in await resp.text(), query
