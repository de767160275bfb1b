"""The supervisors' pages in a real headless Chromium (Debian's, driven by Playwright).

The server is the real application on a loopback port; the data is `seed_month`.
"""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from playwright.async_api import async_playwright

from ivr.app import create_app
from ivr.reporting.exports import CALL_LOG_COLUMNS, RECEPTION_COLUMNS
from tests.pages_support import CHROMIUM_ARGS, chromium_or_skip, seed_month

STATS_FIGURES = ["inbound_calls", "outbound_calls", "transfers_offered", "transfers_answered",
                 "answered_within_three_rings", "three_ring_rate", "average_ring_seconds",
                 "abandoned_calls", "tickets_created"]


@pytest.fixture
async def site(aiohttp_server, settings, clock, sessions):
    seeded = await seed_month(sessions, settings)
    server = await aiohttp_server(create_app(settings, clock=clock))
    return server, seeded



def url(server, path: str) -> str:
    return str(server.make_url(path))


async def logged_in(browser, server, name: str, password: str):
    context = await browser.new_context(accept_downloads=True)
    page = await context.new_page()
    await page.goto(url(server, "/"))
    assert "/login" in page.url  # no session: the dashboard sends you to sign in
    await page.fill("input[name=username]", name)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return context, page


async def cell(page, figure: str, period: str):
    return await page.get_attribute(f'td[data-figure="{figure}"][data-period="{period}"]',
                                    "data-value")


def as_number(text: str):
    return None if text == "null" else float(text)


async def test_dashboard_figures_equal_the_api_and_misses_are_marked(browser, site):
    server, seeded = site
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    assert page.url.rstrip("/") == url(server, "/").rstrip("/")
    assert await page.inner_text("h1") == "统计看板 2026-11-23"  # Chinese by default

    api = await context.request.get(url(server, "/api/stats?from=2026-11-23&to=2026-11-23"),
                                    headers={"Authorization": f"Bearer {seeded.token}"})
    today = await api.json()
    api = await context.request.get(url(server, "/api/stats?from=2026-11-01&to=2026-11-30"),
                                    headers={"Authorization": f"Bearer {seeded.token}"})
    month = await api.json()
    for period, expected in (("today", today), ("month", month)):
        for name in STATS_FIGURES:
            shown = as_number(await cell(page, name, period))
            assert shown == (None if expected[name] is None else float(expected[name])), \
                (period, name)
    # Worked out by hand from the seed: today 4 inbound calls, 5 legs, 3 answered, 2 of
    # them within 15 s (8 s and the live call's 5 s; 李强's 18 s is not).
    assert today["inbound_calls"] == 5 and today["transfers_offered"] == 5
    assert today["answered_within_three_rings"] == 2
    rate_cell = page.locator('td[data-figure="three_ring_rate"][data-period="today"]')
    assert (await rate_cell.inner_text()).startswith("40.0%")
    assert "miss" in await rate_cell.get_attribute("class")
    # Speed of answer from Twilio's timestamps: quick 8 s, hunt 12 + 18 = 30 s, live 5 s;
    # the abandoned call is offered but never answered: 2 of 4 within 20 s.
    assert as_number(await cell(page, "average_speed_of_answer", "today")) == pytest.approx(43 / 3, abs=0.05)
    assert as_number(await cell(page, "answered_within_20s_rate", "today")) == 0.5
    assert as_number(await cell(page, "abandon_rate", "today")) == 0.25
    # Overdue tickets are a snapshot: one tile as of now, no longer a cell per period.
    assert await page.get_attribute('[data-tile="overdue_tickets"] .value', "data-value") == "1"
    assert await page.locator('td[data-figure="overdue_tickets"]').count() == 0
    banner = await page.inner_text("#missed-banner")
    for label in ("三声内接听率", "20秒内接听率", "放弃率", "超时工单"):
        assert label in banner
    # The per-staff table: 王芳 rang 4 times this month, answered 2 (8 s and 12 s).
    row = page.locator("#per-staff tr", has_text="王芳")
    cells = await row.locator("td").all_inner_texts()
    assert cells[2:6] == ["4", "2", "2", "50.0%"] and cells[6] == "2"
    assert cells[8:10] == ["1", "1"]  # one ticket owned, overdue
    await context.close()


async def test_charts_are_drawn_on_the_server(browser, site):
    server, _ = site
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    bars = page.locator("#chart-histogram svg rect.bar")
    assert await bars.count() == 31  # 0 … 30+ seconds
    heights = [float(h) for h in await bars.evaluate_all("els => els.map(e => e.getAttribute('height'))")]
    # Answered legs this month rang 8, 18, 4, 12 and 5 seconds.
    assert [i for i, h in enumerate(heights) if h > 0] == [4, 5, 8, 12, 18]
    assert await page.locator("#chart-histogram line.three-rings").count() == 1
    assert await page.locator("#chart-trend svg rect.bar").count() == 30  # 25 Oct … 23 Nov
    assert await page.locator("#chart-trend polyline.rate").count() == 1
    assert await page.locator("#chart-heat svg rect.cell").count() == 7 * 24
    box = await page.locator("#chart-histogram svg").bounding_box()
    assert box["width"] > 300 and box["height"] > 100  # really laid out, not just present
    await context.close()


async def test_exports_download_and_open(browser, site):
    server, _ = site
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    async with page.expect_download() as info:
        await page.click("#export-calls-xlsx")
    download = await info.value
    assert download.suggested_filename == "通话记录_2026-11-01_2026-11-30.xlsx"
    book = load_workbook(io.BytesIO((await download.path()).read_bytes()))
    rows = list(book.active.iter_rows(values_only=True))
    assert list(rows[0]) == CALL_LOG_COLUMNS
    assert len(rows) == 1 + 8  # every call of November
    first = rows[1]
    assert first[CALL_LOG_COLUMNS.index("开始时间")].strftime("%Y-%m-%d %H:%M") == "2026-11-05 14:00"
    assert first[CALL_LOG_COLUMNS.index("接听人")] == "李强"

    async with page.expect_download() as info:
        await page.click("#export-reception-csv")
    download = await info.value
    text = (await download.path()).read_bytes().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == RECEPTION_COLUMNS
    body = table[1:]
    assert len(body) == 5  # today's inbound calls, not the outbound one
    hunt = body[1]
    assert hunt[RECEPTION_COLUMNS.index("来电时间")] == "08:30:00"
    assert hunt[RECEPTION_COLUMNS.index("来电类别")] == "投诉"
    assert hunt[RECEPTION_COLUMNS.index("接听人")] == "李强"
    assert hunt[RECEPTION_COLUMNS.index("三声内接听")] == "否"
    assert hunt[RECEPTION_COLUMNS.index("业主姓名")] == "陈静"
    assert hunt[RECEPTION_COLUMNS.index("工单号")].startswith("20261123-")

    # The monthly complaint analysis for the quality department opens too.
    async with page.expect_download() as info:
        await page.click("#report-monthly-xlsx")
    book = load_workbook(io.BytesIO((await (await info.value).path()).read_bytes()))
    assert book.sheetnames[0] == "汇总"
    await context.close()


async def test_staff_cannot_open_supervisor_pages_and_see_only_their_calls(browser, site):
    server, seeded = site
    context, page = await logged_in(browser, server, "wangfang", "staff-pass-1")
    assert "我的工作" in await page.inner_text("h1")
    response = await page.goto(url(server, "/admin"))
    assert response.status == 403
    assert "没有权限" in await page.inner_text("main")
    # 李强's call on the 5th: not hers.
    response = await page.goto(url(server, f"/calls/{seeded.calls['early']}"))
    assert response.status == 403
    response = await page.goto(url(server, "/calls?from=2026-11-01&to=2026-11-30"))
    assert response.status == 200
    assert await page.inner_text("#call-count") == "共 4 通"  # quick, hunt, gone, early2
    # A supervisor's form posted by a staff session is refused too.
    response = await context.request.post(url(server, "/campaigns/fee-reminder"),
                                          form={"csrf": "x"})
    assert response.status == 403
    # Her own tickets only.
    response = await page.goto(url(server, "/tickets?from=2026-11-01&to=2026-11-30"))
    assert await page.locator("table.tickets tbody tr").count() == 1
    await context.close()


async def test_a_form_without_its_csrf_token_is_refused(browser, site, sessions):
    server, seeded = site
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    await page.goto(url(server, f"/tickets/{seeded.overdue_ticket_id}"))
    assert await page.inner_text("#ticket-status") == "待处理"
    # The same form, its hidden token removed: refused, nothing changes.
    await page.eval_on_selector("#resolve-form input[name=csrf]", "el => el.remove()")
    await page.fill("#resolve-form input[name=note]", "已修好")
    async with page.expect_navigation() as nav:
        await page.click("#resolve-form button")
    assert (await nav.value).status == 403
    await page.goto(url(server, f"/tickets/{seeded.overdue_ticket_id}"))
    assert await page.inner_text("#ticket-status") == "待处理"
    # With its token the same form resolves the ticket and the history says who.
    await page.fill("#resolve-form input[name=note]", "已修好")
    await page.click("#resolve-form button")
    await page.wait_for_load_state()
    assert await page.inner_text("#ticket-status") == "已解决"
    assert "主管" in await page.inner_text("#history")
    await context.close()


async def test_login_cookie_logout_and_language(browser, site):
    server, _ = site
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url(server, "/login"))
    await page.fill("input[name=username]", "主管")
    await page.fill("input[name=password]", "wrong")
    await page.click("button[type=submit]")
    assert "用户名或密码不正确" in await page.inner_text(".alert")
    await page.fill("input[name=password]", "supervisor-pass")
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    cookie = next(c for c in await context.cookies() if c["name"] == "ivr_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["secure"]  # PUBLIC_BASE_URL is https
    await page.click("a.lang")
    assert (await page.inner_text("h1")).startswith("Dashboard")
    await page.click("header button.link")  # sign out
    await page.wait_for_load_state()
    assert "/login" in page.url
    await page.goto(url(server, "/"))
    assert "/login" in page.url  # the old session is gone on the server too
    await context.close()


async def test_staff_screen_for_the_call_in_hand(browser, site):
    server, seeded = site
    context, page = await logged_in(browser, server, "liqiang", "staff-pass-2")
    await page.goto(url(server, "/desk"))
    assert await page.inner_text("#caller-address") == "3栋2单元501"
    assert await page.inner_text("#caller-arrears") == "1280.50"
    await page.select_option("#desk-ticket-form select[name=category]", "repair")
    await page.fill("#desk-ticket-form textarea[name=description]", "厨房水管漏水")
    await page.click("#desk-ticket-form button")
    await page.wait_for_load_state()
    assert "已创建工单 20261123-" in await page.inner_text("main")
    assert "厨房水管漏水" in await page.inner_text("table.tickets")
    await context.close()


async def test_admin_adds_a_staff_user_who_then_signs_in(browser, site):
    server, seeded = site
    context, page = await logged_in(browser, server, "管理员", "admin-pass-1")
    await page.goto(url(server, "/admin"))
    await page.fill("#user-form input[name=name]", "新同事")
    await page.select_option("#user-form select[name=role]", "staff")
    await page.select_option("#user-form select[name=staff_id]", str(seeded.staff["李强"].id))
    await page.fill("#user-form input[name=password]", "short")
    await page.click("#user-form button")
    await page.wait_for_load_state()
    assert "密码至少 8 位" in await page.inner_text(".alert")
    await page.fill("#user-form input[name=name]", "新同事")
    await page.select_option("#user-form select[name=role]", "staff")
    await page.select_option("#user-form select[name=staff_id]", str(seeded.staff["李强"].id))
    await page.fill("#user-form input[name=password]", "long-enough-1")
    await page.click("#user-form button")
    await page.wait_for_load_state()
    assert "新同事" in await page.inner_text("#users")
    # A supervisor may not manage users.
    other, sup = await logged_in(browser, server, "主管", "supervisor-pass")
    assert (await sup.goto(url(server, "/admin"))).status == 403
    await other.close()
    await context.close()
    context, page = await logged_in(browser, server, "新同事", "long-enough-1")
    assert "我的工作" in await page.inner_text("h1")
    assert await page.inner_text('td[data-figure="offered"][data-period="month"]') == "3"  # hunt, early, live
    await context.close()


async def test_repeated_wrong_passwords_slow_the_name_down_without_locking_it_out(
        browser, site, settings, clock):
    server, _ = site
    context = await browser.new_context()
    login = url(server, "/login")
    origin = {"Origin": url(server, "/").rstrip("/")}  # as a browser's form post sends it
    for _ in range(settings.login_max_failures):
        response = await context.request.post(login, form={"username": "主管", "password": "guess"},
                                              headers=origin, max_redirects=0)
        assert response.status == 401
    # Right after, even the right password waits, and the page says for how long...
    response = await context.request.post(login, form={"username": "主管",
                                                       "password": "supervisor-pass"},
                                          headers=origin, max_redirects=0)
    assert response.status == 429 and "请您 1 秒后再试" in await response.text()
    # ...a second, not the quarter of an hour a stranger could once impose on the admin.
    clock.advance(1)
    response = await context.request.post(login, form={"username": "主管",
                                                       "password": "supervisor-pass"},
                                          headers=origin, max_redirects=0)
    assert response.status == 302 and response.headers["location"] == "/"
    await context.close()
