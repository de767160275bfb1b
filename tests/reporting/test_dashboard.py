"""The dashboard's figures read at a glance: the tiles' change from the day before, follow-ups
whose 48 hours still run (pending, not a miss), and charts over a rolling 30 days."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import update

from ivr.reporting import dashboard
from ivr.tickets import followup, lifecycle
from models import Call, Staff
from tests.conftest import local
from tests.pages_support import _call

DAY = date(2026, 11, 23)
NOW = local(2026, 11, 23, 10, 0)


async def seed_two_days(sessions) -> Staff:
    """Today (23 Nov) 2 calls: rings 5 s and 20 s, both answered. The day before: rings of
    4, 6 and 8 s and one caller who gave up while the phone rang. And one call on each side
    of the rolling window's first day (25 Oct): rings of 9 s (in) and 11 s (out)."""
    async with sessions() as session, session.begin():
        wang = Staff(name="王芳", phone="+8613800000001", department="客服部",
                     shifts="00:00-24:00", position=1)
        session.add(wang)
        await session.flush()
        specs = [
            ("t1", local(2026, 11, 23, 8, 0), [(wang, 20, 5)], "answered"),
            ("t2", local(2026, 11, 23, 9, 0), [(wang, 20, 20)], "answered"),
            ("y1", local(2026, 11, 22, 8, 0), [(wang, 20, 4)], "answered"),
            ("y2", local(2026, 11, 22, 9, 0), [(wang, 20, 6)], "answered"),
            ("y3", local(2026, 11, 22, 10, 0), [(wang, 20, 8)], "answered"),
            ("y4", local(2026, 11, 22, 11, 0), [(wang, 20, None)], "abandoned"),
            ("in", local(2026, 10, 25, 0, 30), [(wang, 20, 9)], "answered"),
            ("out", local(2026, 10, 24, 23, 30), [(wang, 20, 11)], "answered"),
        ]
        for sid, start, legs, outcome in specs:
            await _call(session, sid, start=start, menu="repair", outcome=outcome, legs=legs)
    return wang


async def test_each_tile_has_its_base_and_its_change_from_the_day_before(sessions, settings):
    await seed_two_days(sessions)
    async with sessions() as session:
        board = await dashboard.build(session, settings=settings, today=DAY, now=NOW)
    tiles = {tile.name: tile for tile in board.tiles}
    assert [tile.name for tile in board.tiles] == [
        "three_ring_rate", "answered_within_20s_rate", "abandon_rate", "overdue_tickets",
        "follow_up_rate", "satisfaction_rate"]
    # Three rings: today 1 of 2 legs (5 s; 20 s is not), the day before 3 of 4: 25 points down.
    ring = tiles["three_ring_rate"]
    assert (ring.value, ring.base, ring.change, ring.missed) == (0.5, 2, -25.0, True)
    assert ring.target == (">=", 1.0)
    # Within 20 s: today both (5 s, 20 s), the day before 3 of 4 offered: 25 points up.
    quick = tiles["answered_within_20s_rate"]
    assert (quick.value, quick.base, quick.change, quick.missed) == (1.0, 2, 25.0, False)
    # Abandoned: none of 2 today, 1 of 4 the day before.
    gone = tiles["abandon_rate"]
    assert (gone.value, gone.base, gone.change, gone.missed) == (0.0, 2, -25.0, False)
    # Nothing to compare with: no change rather than a made-up one.
    assert tiles["satisfaction_rate"].change is None and tiles["satisfaction_rate"].base == 0


async def test_open_and_overdue_tickets_are_one_snapshot_as_of_now(sessions, settings):
    async with sessions() as session, session.begin():
        late = await lifecycle.create_ticket(session, settings=settings, now=NOW - timedelta(days=3),
                                             category="complaint", actor="test")
        await lifecycle.create_ticket(session, settings=settings, now=NOW - timedelta(hours=1),
                                      category="repair", actor="test")
        assert late.due_at < NOW
    async with sessions() as session:
        board = await dashboard.build(session, settings=settings, today=DAY, now=NOW)
    [overdue] = [tile for tile in board.tiles if tile.name == "overdue_tickets"]
    assert (overdue.value, overdue.base, overdue.snapshot, overdue.missed) == (1, 2, True, True)
    assert overdue.change is None
    assert board.tickets["open_by_status"] == {"open": 2, "assigned": 0, "in_progress": 0,
                                               "reopened": 0}
    # Not repeated per period: the periods' figures do not carry it.
    assert all("overdue_tickets" not in f for f in board.figures.values())


async def resolved(sessions, settings, *, at, followed_up=None) -> None:
    async with sessions() as session, session.begin():
        ticket = await lifecycle.create_ticket(session, settings=settings,
                                               now=at - timedelta(hours=2),
                                               category="complaint", actor="test")
        ticket.status = "followed_up" if followed_up else "resolved"
        ticket.resolved_at = at
        ticket.followed_up_at = followed_up


async def test_a_follow_up_counts_only_once_its_48_hours_have_passed(sessions, settings):
    # Resolved on the 20th and called back the next day: its window closed on the 22nd.
    await resolved(sessions, settings, at=local(2026, 11, 20, 8, 0),
                   followed_up=local(2026, 11, 21, 9, 0))
    # Resolved this morning, not called back yet: pending, not a miss.
    await resolved(sessions, settings, at=local(2026, 11, 23, 8, 0))
    async with sessions() as session:
        rates = await followup.rates(session, start=local(2026, 11, 20, 0, 0),
                                     end=local(2026, 11, 24, 0, 0), now=NOW)
        later = await followup.rates(session, start=local(2026, 11, 20, 0, 0),
                                     end=local(2026, 11, 24, 0, 0),
                                     now=local(2026, 11, 25, 8, 0))
        board = await dashboard.build(session, settings=settings, today=DAY, now=NOW)
    assert (rates["follow_ups_due"], rates["followed_up_within_48h"],
            rates["follow_ups_pending"], rates["follow_up_rate"]) == (1, 1, 1, 1.0)
    # 48 hours on, the morning's ticket was never called back: now it counts against.
    assert (later["follow_ups_due"], later["follow_ups_pending"], later["follow_up_rate"]) == \
        (2, 0, 0.5)
    [tile] = [tile for tile in board.tiles if tile.name == "follow_up_rate"]
    assert (tile.value, tile.base, tile.pending, tile.missed) == (None, 0, 1, False)
    assert "follow_up_rate" not in board.figures["today"]["missed"]


async def test_the_charts_cover_the_30_days_ending_on_the_chosen_day(sessions, settings):
    await seed_two_days(sessions)
    async with sessions() as session:
        board = await dashboard.build(session, settings=settings, today=DAY, now=NOW)
    assert (board.charts.first_day, board.charts.last_day) == (date(2026, 10, 25), DAY)
    assert [d["day"] for d in board.trend] == [date(2026, 10, 25) + timedelta(days=i)
                                              for i in range(30)]
    assert [(d["calls"], d["offered"], d["within"]) for d in board.trend
            if d["calls"]] == [(1, 1, 1), (4, 4, 3), (2, 2, 1)]  # 25 Oct, 22 Nov, 23 Nov
    # Last month's 25 Oct (9 s) is in; 24 Oct (11 s) is not.
    bins = board.histogram["bins"]
    assert (bins[9], bins[11]) == (1, 0)
    assert sum(bins) == 6 and board.histogram["unanswered"] == 1
    assert sum(map(sum, board.heat)) == 7


async def test_calls_by_menu_choice_who_spoke_and_the_speed_of_answer(sessions, settings):
    """Today: two repair calls answered after 5 s and 20 s (one said what it wanted, and was
    understood) and a fee call that mumbled; the month adds the day before's four repairs."""
    await seed_two_days(sessions)
    async with sessions() as session, session.begin():
        fees = await _call(session, "t3", start=local(2026, 11, 23, 9, 30), menu="fees",
                           outcome="self_service")
        fees.speech_text = "嗯"
        await session.execute(update(Call).where(Call.sid == "t1").values(
            speech_text="厨房水管漏水", speech_choice="repair"))
    async with sessions() as session:
        board = await dashboard.build(session, settings=settings, today=DAY, now=NOW)
    today, month = board.figures["today"], board.figures["month"]
    assert today["menu_choices"] == {"repair": 2, "fees": 1}
    assert month["menu_choices"] == {"repair": 6, "fees": 1}
    assert today["speech"] == {"spoke": 2, "understood": 1}
    assert today["average_speed_of_answer"] == 12.5  # (5 + 20) / 2, to the tenth of a second
