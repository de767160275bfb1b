"""The lean dialer (issue 20): a campaign's reminders claimed and recorded in bulk, still
exactly once across processes; a bad row in a batch does not take the others with it; a
slot is not thrown away for a wake-up a little late."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sqlalchemy import event, func, insert, select

from ivr.outbound import campaigns
from ivr.outbound import pace as pace_module
from ivr.outbound.pace import Pace
from models import Attempt, Call, OutboundJob, PaceSlot, Resident
from tests.conftest import local
from tests.fake_twilio import fake_twilio, outbound, outbound_settings, second_sessions  # noqa: F401

T0 = local(2026, 11, 23, 10, 0)


async def campaign_of(outbound, households: int, *, paid: int = 0) -> None:
    """`households` in arrears in a campaign; then `paid` of them pay before any call."""
    async with outbound.sessions() as session, session.begin():
        await session.execute(insert(Resident), [
            {"name": f"业主{i}", "phone": f"+86137{i:08d}", "address": f"阳光花园{i}室",
             "arrears": Decimal("800.00")} for i in range(households)])
        await campaigns.start(session, settings=outbound.settings, now=T0, created_by="test")
        if paid:
            for resident in (await session.scalars(select(Resident).order_by(Resident.id)
                                                   .limit(paid))).all():
                resident.arrears = Decimal("0")


def call_inserts(sessions) -> list[str]:
    """Every INSERT INTO calls the sessions' engine sends (one per executemany)."""
    sent: list[str] = []

    @event.listens_for(sessions.kw["bind"].sync_engine, "before_cursor_execute")
    def _sent(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("INSERT INTO CALLS"):
            sent.append(statement)

    return sent


async def test_two_dialers_place_a_campaign_once_each_with_every_call_recorded(
        outbound, second_sessions):
    outbound.clock.set(T0)
    await campaign_of(outbound, 60, paid=5)
    # 10 a second: each pass claims 20, so both dialers take part
    one = outbound.dialer(dialer_cps=10, dialer_max_in_progress=1000)
    two = outbound.dialer(sessions=second_sessions, dialer_cps=10, dialer_max_in_progress=1000)
    placed = await asyncio.gather(one.run_until_idle(), two.run_until_idle())
    assert sum(placed) == 55 and all(placed)        # both took part; the 5 who paid: none
    numbers = [r.form["To"] for r in outbound.fake.creates()]
    assert len(numbers) == 55 and len(set(numbers)) == 55
    async with outbound.sessions() as session:
        jobs = (await session.scalars(select(OutboundJob).order_by(OutboundJob.id))).all()
        assert [(j.state, j.outcome) for j in jobs[:5]] == [("skipped", "paid")] * 5
        assert {(j.state, j.attempts) for j in jobs[5:]} == {("dialing", 1)}
        attempts = (await session.scalars(select(Attempt))).all()
        assert len(attempts) == 55 and {a.state for a in attempts} == {"placed"}
        assert {a.call_sid for a in attempts} == set(outbound.fake.calls)
        calls = {c.sid: c for c in (await session.scalars(select(Call))).all()}
    by_job = {j.id: j for j in jobs}
    for attempt in attempts:                          # each call counted in the statistics
        call = calls[attempt.call_sid]
        job = by_job[attempt.job_id]
        assert (call.direction, call.outbound_job_id, call.resident_id, call.menu_choice,
                call.to_number) == ("outbound", job.id, job.resident_id, "fees", attempt.phone)


async def test_calls_placed_together_are_written_together(outbound):
    """At 50 calls a second each placed call's SID and Call row were a transaction of
    their own (six statements); now the calls placed meanwhile are written together."""
    outbound.clock.set(T0)
    await campaign_of(outbound, 40)
    dialer = outbound.dialer(dialer_cps=50, dialer_max_in_progress=1000)
    inserts = call_inserts(outbound.sessions)
    assert await dialer.run_once() == 40
    assert 1 <= len(inserts) <= 10, len(inserts)     # 40 before, one per call
    async with outbound.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Attempt)
                                    .where(Attempt.call_sid.is_not(None))) == 40
        assert await session.scalar(select(func.count()).select_from(Call)) == 40


async def test_one_bad_row_in_a_batch_leaves_the_other_calls_recorded(outbound):
    outbound.clock.set(T0)
    await campaign_of(outbound, 3)
    dialer = outbound.dialer(dialer_cps=50, dialer_max_in_progress=1000)
    first, second, third = await dialer.claim_batch(now=T0)
    # Twilio answering two creates with one SID cannot be written twice (unique call_sid)
    results = await asyncio.gather(dialer.placed_ok(first, "CA" + "1" * 32, "queued"),
                                   dialer.placed_ok(second, "CA" + "1" * 32, "queued"),
                                   dialer.placed_ok(third, "CA" + "3" * 32, "queued"),
                                   return_exceptions=True)
    assert results[0] is None and results[2] is None and isinstance(results[1], Exception)
    async with outbound.sessions() as session:
        rows = {a.id: a for a in (await session.scalars(select(Attempt))).all()}
        sids = set((await session.scalars(select(Call.sid))).all())
    assert (rows[first.attempt_id].call_sid, rows[first.attempt_id].state) == ("CA" + "1" * 32, "placed")
    assert (rows[third.attempt_id].call_sid, rows[third.attempt_id].state) == ("CA" + "3" * 32, "placed")
    # left as an intent: reconciling against Twilio's call list settles it later
    assert (rows[second.attempt_id].call_sid, rows[second.attempt_id].state) == (None, "intent")
    assert sids == {"CA" + "1" * 32, "CA" + "3" * 32}


def oversleeping(monkeypatch, wall: list[float], *late: float) -> None:
    """The pace's sleeps on a frozen wall clock: each moves the wall by what was asked,
    the first ones by `late` seconds more (an event loop busy with other work)."""
    extra = list(late)
    real_sleep = asyncio.sleep

    async def sleep(delay, *args):
        wall[0] += delay + (extra.pop(0) if extra else 0.0)
        await real_sleep(0)

    monkeypatch.setattr(pace_module.asyncio, "sleep", sleep)


async def test_a_wake_up_a_little_late_keeps_its_slot(sessions, monkeypatch):
    """A busy event loop wakes a request a few ms after its slot; at 50 a second that was
    more than a fifth of the interval and the slot was thrown away (a third of the rate
    lost under load). Until the next slot, the request goes."""
    wall = [1_000_000.0]
    pace = Pace(sessions, name="calls", rate=10, wall=lambda: wall[0])
    await pace.wait()                                # the slot at +0
    oversleeping(monkeypatch, wall, 0.08)            # wakes 0.8 of an interval late
    await asyncio.wait_for(pace.wait(), 1)           # the slot at +0.1
    assert abs(wall[0] - 1_000_000.18) < 1e-6        # gone at +0.18, not at a later slot
    assert pace.late == 0


async def test_a_wake_up_past_the_next_slot_takes_a_new_one(sessions, monkeypatch):
    wall = [1_000_000.0]
    pace = Pace(sessions, name="calls", rate=10, wall=lambda: wall[0])
    await pace.wait()
    oversleeping(monkeypatch, wall, 0.12)            # 1.2 intervals late: past the next slot
    await asyncio.wait_for(pace.wait(), 1)
    assert pace.late == 1
    assert abs(wall[0] - 1_000_000.22) < 1e-6        # a new slot from the row (now), the
    async with sessions() as session:                # row moved on past it for the others
        assert await session.scalar(select(PaceSlot.next_slot)) > 1_000_000.3


async def test_a_call_row_a_status_callback_made_first_is_linked_to_its_job(outbound):
    """Twilio's first callback can beat the REST answer: the row it made is the call's."""
    outbound.clock.set(T0)
    await campaign_of(outbound, 2)
    dialer = outbound.dialer(dialer_cps=50, dialer_max_in_progress=1000)
    first, second = await dialer.claim_batch(now=T0)
    async with outbound.sessions() as session, session.begin():
        session.add(Call(sid="CA" + "7" * 32, direction="outbound", from_number="+862161234567",
                         to_number=first.phone, started_at=T0, status="ringing"))
    await asyncio.gather(dialer.placed_ok(first, "CA" + "7" * 32, "queued"),
                         dialer.placed_ok(second, "CA" + "8" * 32, "queued"))
    async with outbound.sessions() as session:
        calls = {c.sid: c for c in (await session.scalars(select(Call))).all()}
    assert len(calls) == 2
    for claimed, sid in ((first, "CA" + "7" * 32), (second, "CA" + "8" * 32)):
        call = calls[sid]
        assert (call.outbound_job_id, call.resident_id, call.menu_choice) == (
            claimed.job_id, claimed.resident_id, "fees")
    assert calls["CA" + "7" * 32].status == "ringing"  # what the callback said stays
