"""Per-day rollups: `/api/stats` over closed days gives exactly what the rows give, after
late callbacks, a call that moves across midnight, and a changed three-ring limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ivr.app import create_app
from ivr.people.users import add_user, create_token
from ivr.reporting import dashboard, rollups
from models import StatsDay
from models.db import make_engine, make_sessionmaker
from models.writer import LoopWriter
from tests.conftest import local
from tests.twilio_client import Caller, StaffPhone

STAFF = [("王小姐", "13800000001", "客服部", "00:00-24:00"),
         ("李先生", "13800000002", "客服部", "00:00-24:00")]
# The whole stretch, and each day of it alone.
PERIODS = ["/api/stats?from=2026-11-19&to=2026-11-23",
           *(f"/api/stats?from=2026-11-{d}&to=2026-11-{d}" for d in range(19, 24))]


@pytest.fixture
async def token(sessions, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
        return await create_token(session, name="主管", now=clock())


async def stats(client, token) -> dict:
    figures = {}
    for path in PERIODS:
        resp = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200, await resp.text()
        figures[path] = await resp.json()
    return figures


async def from_rows(client, token, monkeypatch) -> dict:
    """The same request with no day rolled up: every figure counted from the rows."""
    with monkeypatch.context() as patched:
        patched.setattr(rollups, "closed_days", lambda **_: [])
        return await stats(client, token)


async def boards(sessions, settings, clock, monkeypatch) -> tuple:
    """The dashboard of 23 Nov (the day before, the week, the month, the 30 days' charts):
    from the rollup (storing what is missing), then from the rows alone."""
    reader = make_engine(settings.database_url, read_only=True)

    async def build():
        async with make_sessionmaker(reader)() as session:
            return await dashboard.build(session, settings=settings, today=clock().date(),
                                         now=clock(), store=LoopWriter(sessions))
    try:
        rolled = await build()
        with monkeypatch.context() as patched:
            patched.setattr(rollups, "closed_days", lambda **_: [])
            return rolled, await build()
    finally:
        await reader.dispose()


async def call(twilio, clock, *, start, from_number, rings: int | None,
               answered_event: bool = True, hangup: bool = True) -> tuple[Caller, StaffPhone]:
    """A call at `start` to the first phone: answered after `rings` seconds (accepted by a
    person), or not answered (`rings` None)."""
    clock.set(start)
    caller = Caller(twilio, from_number=from_number)
    await caller.dial_in()
    await caller.press("0")
    dial, number = caller.dial()
    phone = StaffPhone(twilio, caller, dial, number)
    await phone.event("initiated", start + timedelta(seconds=1))
    await phone.event("ringing", start + timedelta(seconds=2))
    if rings is None:
        await phone.event("no-answer", start + timedelta(seconds=20))
        await phone.dial_result("no-answer")
    else:
        if answered_event:
            await phone.event("in-progress", start + timedelta(seconds=2 + rings))
        await phone.pick_up_and_screen("1")
        await phone.event("completed", start + timedelta(seconds=60))
        await phone.dial_result("completed", bridged=True)
    if hangup:
        await caller.hangup(at=start + timedelta(seconds=70), duration=70)
    return caller, phone


async def test_closed_days_from_the_rollup_equal_the_rows_after_late_callbacks_and_a_new_limit(
        aiohttp_client, client, twilio, seed, sessions, settings, clock, token, monkeypatch):
    await seed.staff(STAFF)
    # 20 Nov: one answered in 4 s whose `answered` callback is late (sent on the 23rd), one
    # answered in 12 s, one never answered.
    await call(twilio, clock, start=local(2026, 11, 20, 9, 0), from_number="+8613900000001",
               rings=None)
    await call(twilio, clock, start=local(2026, 11, 20, 15, 0), from_number="+8613900000002",
               rings=12)
    _, late_phone = await call(twilio, clock, start=local(2026, 11, 20, 16, 0),
                               from_number="+8613900000003", rings=4, answered_event=False)
    # 22 Nov 00:00:02 by our clock; Twilio's completed status (sent on the 23rd) says it
    # began at 21 Nov 23:59:58: the call moves to the day before.
    boundary, _ = await call(twilio, clock, start=local(2026, 11, 22, 0, 0, 2),
                             from_number="+8613900000004", rings=9, hangup=False)
    await call(twilio, clock, start=local(2026, 11, 22, 11, 0), from_number="+8613900000005",
               rings=3)
    # Today (23 Nov): counted from the rows whatever the rollup holds.
    await call(twilio, clock, start=local(2026, 11, 23, 8, 0), from_number="+8613900000006",
               rings=5)
    clock.set(local(2026, 11, 23, 10, 0))

    rows = await from_rows(client, token, monkeypatch)
    assert await stats(client, token) == rows  # the closed days computed and stored
    async with sessions() as session:
        filled = await session.scalar(select(func.count()).select_from(StatsDay)
                                      .where(StatsDay.filled.is_(True)))
    assert filled == 3  # 20 to 22 Nov: none before the first call, today never
    assert await stats(client, token) == rows  # read from the rollup
    rolled, counted = await boards(sessions, settings, clock, monkeypatch)
    assert rolled == counted and sum(rolled.histogram["bins"]) == 4  # rung and timed

    # Late callbacks on closed days, through the webhooks as Twilio sends them: the call
    # across midnight ends, 122 s long, so it began on the 21st (a call moves days) ...
    await boundary.hangup(at=local(2026, 11, 22, 0, 2, 0), duration=122)
    moved = await from_rows(client, token, monkeypatch)
    assert moved[PERIODS[3]]["inbound_calls"] == rows[PERIODS[3]]["inbound_calls"] + 1
    assert await stats(client, token) == moved
    rolled, counted = await boards(sessions, settings, clock, monkeypatch)
    assert rolled == counted
    # ... and the 20th's accepted leg gets its answered time (4 s: within three rings).
    await late_phone.event("in-progress", local(2026, 11, 20, 16, 0, 6))
    changed = await from_rows(client, token, monkeypatch)
    assert changed[PERIODS[0]]["average_ring_seconds"] != rows[PERIODS[0]]["average_ring_seconds"]
    assert await stats(client, token) == changed
    rolled, counted = await boards(sessions, settings, clock, monkeypatch)
    assert rolled == counted

    # Another three-ring limit (IVR_RING_SECONDS 2: within 6 s): recomputed, not reused.
    strict = settings.model_copy(update={"ring_seconds": 2})
    other = await aiohttp_client(create_app(strict, clock=clock))
    strict_rows = await from_rows(other, token, monkeypatch)
    assert (strict_rows[PERIODS[0]]["answered_within_three_rings"]
            < changed[PERIODS[0]]["answered_within_three_rings"])
    assert await stats(other, token) == strict_rows
    assert await stats(other, token) == strict_rows


async def test_the_scheduler_rolls_up_yesterday_after_midnight_and_claims_today(
        twilio, seed, sessions, settings, clock):
    await seed.staff(STAFF)
    await call(twilio, clock, start=local(2026, 11, 22, 15, 0), from_number="+8613900000001",
               rings=6)
    await call(twilio, clock, start=local(2026, 11, 22, 23, 0), from_number="+8613900000002",
               rings=None)
    after_midnight = local(2026, 11, 23, 0, 5)
    reader = make_engine(settings.database_url, read_only=True)
    try:
        async with make_sessionmaker(reader)() as session:
            filled = await rollups.fill_closed(LoopWriter(sessions), session, settings=settings,
                                               now=after_midnight)
        async with make_sessionmaker(reader)() as session:
            again = await rollups.fill_closed(LoopWriter(sessions), session, settings=settings,
                                              now=after_midnight)
    finally:
        await reader.dispose()
    assert [str(day) for day in filled] == ["2026-11-21", "2026-11-22"] and again == []
    async with sessions() as session:
        days = {row.day.isoformat(): row for row in (await session.scalars(select(StatsDay))).all()}
    assert days["2026-11-22"].filled and days["2026-11-22"].inbound_calls == 2
    assert days["2026-11-22"].calls_answered_by_person == 1
    assert not days["2026-11-23"].filled  # today: claimed, so a late write finds its row


async def test_a_report_from_1970_keeps_only_days_with_calls_a_few_at_a_time(
        client, twilio, seed, sessions, clock, token, monkeypatch):
    """A supervisor (or a fuzzer) asking for fifty years is not left waiting while the
    server rolls up 20,000 empty days: only days from the first call on are kept, at
    most FILL_AT_ONCE of them per request, and the figures are still exactly the rows'."""
    await seed.staff(STAFF)
    for n, day in enumerate((19, 20, 21, 22), 1):
        await call(twilio, clock, start=local(2026, 11, day, 9, 0),
                   from_number=f"+861390000000{n}", rings=n)
    clock.set(local(2026, 11, 23, 10, 0))
    wide = "/api/stats?from=1970-01-01&to=2026-11-23"
    headers = {"Authorization": f"Bearer {token}"}
    monkeypatch.setattr(rollups, "FILL_AT_ONCE", 3)

    async def report() -> dict:
        resp = await client.get(wide, headers=headers)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def kept() -> list:
        async with sessions() as session:
            return sorted(await session.scalars(select(StatsDay.day)
                                                .where(StatsDay.filled.is_(True))))

    rolled = await report()
    assert rolled["inbound_calls"] == 4 and rolled["transfers_answered"] == 4
    assert [d.day for d in await kept()] == [19, 20, 21]  # not 1970's days, and three at most
    assert await report() == rolled  # the next request keeps the fourth
    assert [d.day for d in await kept()] == [19, 20, 21, 22]
    with monkeypatch.context() as patched:
        patched.setattr(rollups, "closed_days", lambda **_: [])
        assert await report() == rolled
