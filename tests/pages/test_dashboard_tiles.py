"""The dashboard's headline tiles in Chromium: target, n and change from the day before for
the seeded month, the snapshot of tickets as of now, and links to the sets they count."""

from __future__ import annotations

import pytest

from ivr.tickets import lifecycle
from models import Ticket
from tests.pages.test_pages import logged_in, site, url  # noqa: F401  (fixtures)
from tests.pages_support import _call, at


async def add_the_day_before_and_a_resolved_complaint(sessions, settings, seeded) -> None:
    """22 Nov: one call, 王芳's phone answered after 4 s (the day before: 100%, 100%, 0%
    abandoned). 23 Nov: a complaint resolved at 09:30, its 48 h follow-up window open."""
    async with sessions() as session, session.begin():
        await _call(session, "CAyesterday", start=at(22, 15, 0), menu="repair",
                    outcome="answered", legs=[(seeded.staff["王芳"], 20, 4)])
        ticket = await lifecycle.create_ticket(session, settings=settings, now=at(23, 7, 0),
                                               category="complaint", actor="test")
        ticket.status, ticket.resolved_at = "resolved", at(23, 9, 30)


@pytest.fixture
async def board(browser, site, sessions, settings):  # noqa: F811
    """The supervisor's dashboard on the seeded month plus the day before."""
    server, seeded = site
    await add_the_day_before_and_a_resolved_complaint(sessions, settings, seeded)
    context, page = await logged_in(browser, server, "主管", "supervisor-pass")
    yield server, seeded, page
    await context.close()


async def tile(page, name: str) -> dict:
    box = page.locator(f'#tiles [data-tile="{name}"]')
    return {"class": await box.get_attribute("class"),
            "value": await box.locator(".value").get_attribute("data-value"),
            "shown": (await box.locator(".value").inner_text()).strip(),
            "target": await box.locator(".target").inner_text(),
            "n": await box.locator(".base").get_attribute("data-base"),
            "text": await box.inner_text()}


async def test_tiles_show_target_n_and_change_from_the_day_before(board):
    *_, page = board
    # Today (the seed): 2 of 5 legs within three rings; 2 of 4 callers offered to a person
    # answered within 20 s; 1 of those 4 hung up while waiting.
    ring = await tile(page, "three_ring_rate")
    assert ring["shown"].startswith("40.0%") and ring["target"] == "目标 ≥ 100%"
    assert ring["n"] == "5" and "n = 5 次转接振铃" in ring["text"]
    assert "▼ 60.0 个百分点 较前一日" in ring["text"] and "miss" in ring["class"]
    quick = await tile(page, "answered_within_20s_rate")
    assert (quick["value"], quick["n"]) == ("0.5", "4") and quick["target"] == "目标 ≥ 80%"
    assert "▼ 50.0 个百分点 较前一日" in quick["text"] and "miss" in quick["class"]
    gone = await tile(page, "abandon_rate")
    assert (gone["value"], gone["n"], gone["target"]) == ("0.25", "4", "目标 ≤ 10%")
    assert "▲ 25.0 个百分点 较前一日" in gone["text"]
    assert await page.locator('#tiles [data-tile="abandon_rate"] .change.worse').count() == 1
    # Satisfaction: no answers either day; no change is made up.
    nothing = await tile(page, "satisfaction_rate")
    assert (nothing["value"], nothing["n"]) == ("null", "0") and "前一日无可比数据" in nothing["text"]
    assert "miss" not in nothing["class"]
    # The long table stays below the tiles.
    tiles_box = await page.locator("#tiles").bounding_box()
    table_box = await page.locator("#figures").bounding_box()
    assert tiles_box["y"] + tiles_box["height"] <= table_box["y"]


async def test_todays_follow_up_rate_is_pending_not_red(board):
    *_, page = board
    follow = await tile(page, "follow_up_rate")
    assert "miss" not in follow["class"]
    assert (follow["value"], follow["shown"], follow["n"]) == ("null", "—", "0")
    assert await page.get_attribute('#tiles [data-tile="follow_up_rate"] .pending',
                                    "data-pending") == "1"
    assert "待回访 1 件（48 小时窗口未到，不计入）" in follow["text"]
    assert "回访率" not in await page.inner_text("#missed-banner")
    assert await page.get_attribute('td[data-figure="follow_ups_pending"][data-period="today"]',
                                    "data-value") == "1"


async def test_ticket_snapshot_and_links_lead_to_their_sets(board):
    server, seeded, page = board
    overdue = await tile(page, "overdue_tickets")
    # One overdue ticket (due 22 Nov) of the two still open; as of the clock, 10:00.
    assert (overdue["value"], overdue["n"]) == ("1", "2") and "截至 10:00" in overdue["text"]
    assert "miss" in overdue["class"] and overdue["target"] == "目标 ≤ 0"
    assert await page.get_attribute("#overdue-link", "href") == "/tickets?overdue=1"
    assert await page.get_attribute('#tiles a[data-status="open"]', "href") == "/tickets?status=open"
    assert "待处理 2" in overdue["text"]
    # Shown once: no per-period cells for a snapshot.
    assert await page.locator('td[data-figure="open_tickets"]').count() == 0
    # 王芳's figures this month link to the call log's sets for the month.
    wang = seeded.staff["王芳"].id
    month = "from=2026-11-01&to=2026-11-30"
    row = page.locator("#per-staff tr", has_text="王芳")
    for figure, role in (("missed", "missed"), ("answered", "answered"), ("offered", "rang")):
        assert await row.locator(f'td[data-figure="{figure}"] a').get_attribute("href") == \
            f"/calls?staff={wang}&staff_as={role}&{month}"
    assert await row.locator('td[data-figure="tickets_overdue"] a').get_attribute("href") == \
        f"/tickets?owner={wang}&overdue=1"
    # The abandoned count leads to today's abandoned calls: the seed's one, 09:00.
    link = page.locator("#abandoned-link")
    assert await link.get_attribute("href") == \
        "/calls?outcome=abandoned&from=2026-11-23&to=2026-11-23"
    assert await link.inner_text() == "放弃 1 通"
    await link.click()
    await page.wait_for_load_state()
    assert page.url == url(server, "/calls?outcome=abandoned&from=2026-11-23&to=2026-11-23")
    rows = await page.locator("#call-log tbody tr").all_inner_texts()
    assert len(rows) == 1 and "11-23 09:00:00" in rows[0]


async def test_the_overdue_tile_leads_to_the_overdue_tickets(board, sessions):
    """超时工单 → the ticket list filtered to overdue: the one ticket past its due time, and
    not the open one still within it."""
    server, seeded, page = board
    await page.click("#overdue-link")
    await page.wait_for_load_state()
    assert page.url == url(server, "/tickets?overdue=1")
    rows = page.locator("tr[data-ticket]")
    assert await rows.count() == 1
    async with sessions() as session:
        overdue = await session.get(Ticket, seeded.overdue_ticket_id)
    assert await rows.first.get_attribute("data-ticket") == overdue.number
