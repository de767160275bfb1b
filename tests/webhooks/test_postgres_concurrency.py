"""Webhooks of one call that arrive at the same moment, as they do in production.

On SQLite every write transaction takes the lock at BEGIN, so webhooks never interleave.
On PostgreSQL they run side by side on separate connections: these tests make them race
and check that nothing a supervisor reads is lost or doubled. (Run with
`IVR_TEST_DATABASE_URL` set to exercise PostgreSQL; `make test` does both.)
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from models import Call, CallEvent, Leg, Ticket
from tests.conftest import local
from tests.twilio_client import Caller, StaffPhone, new_sid

T0 = local(2026, 11, 23, 10, 0, 0)
CALLS = 12


async def test_a_message_and_the_hangup_arriving_together_make_one_message_ticket(twilio, sessions):
    """Nobody on duty: the caller leaves a message and hangs up. Twilio posts the
    recording and the final status at once; the call is a message with one ticket."""
    callers = [Caller(twilio, from_number=f"+86139000001{i:02d}") for i in range(CALLS)]
    for caller in callers:
        await caller.dial_in()
        twiml = await caller.press("0")
        assert twiml.find("Record") is not None

    async def leave_message_and_hang_up(caller: Caller):
        record = caller.last.find("Record")
        return await asyncio.gather(
            twilio.follow(record.get("action"), caller.params(
                RecordingUrl=f"https://api.twilio.com/rec/RE{caller.sid[-6:]}",
                RecordingDuration="15", Digits="#")),
            caller.hangup(at=T0 + timedelta(seconds=60), duration=60),
        )

    answers = await asyncio.gather(*(leave_message_and_hang_up(c) for c in callers))
    assert all(a.status == 200 for pair in answers for a in pair)

    async with sessions() as session:
        calls = (await session.scalars(select(Call).order_by(Call.id))).all()
        tickets = (await session.scalars(select(Ticket).order_by(Ticket.id))).all()
    assert [c.outcome for c in calls] == ["message"] * CALLS
    assert sorted(t.call_id for t in tickets) == sorted(c.id for c in calls)
    assert all(t.recording_url and t.recording_url.startswith("https://api.twilio.com/rec/RE")
               for t in tickets)
    assert len({t.number for t in tickets}) == CALLS


async def test_all_of_a_legs_callbacks_at_once_still_time_the_ring(twilio, seed, sessions):
    """initiated, ringing, answered and the screening accept of each staff phone all
    land together: every leg still gets its ring time and its answer. (One staff member
    per caller: a phone already ringing for one caller is never rung for another.)"""
    await seed.staff([(f"客服{i:02d}", f"138000000{i:02d}", "客服部", "00:00-24:00")
                      for i in range(CALLS)])
    callers = [Caller(twilio, from_number=f"+86139000002{i:02d}") for i in range(CALLS)]
    for caller in callers:
        await caller.dial_in()
        await caller.press("0")

    async def ring_and_answer(caller: Caller):
        dial, number = caller.dial()
        phone = StaffPhone(twilio, caller, dial, number)
        return await asyncio.gather(
            phone.event("initiated", T0, 1),
            phone.event("ringing", T0 + timedelta(seconds=1), 2),
            phone.event("in-progress", T0 + timedelta(seconds=8), 3),
            phone.pick_up_and_screen("1"),
        )

    answers = await asyncio.gather(*(ring_and_answer(c) for c in callers))
    assert all(a.status == 200 for group in answers for a in group)
    async with sessions() as session:
        legs = (await session.scalars(select(Leg).order_by(Leg.id))).all()
    assert len(legs) == CALLS
    assert [(leg.ring_seconds, leg.accepted) for leg in legs] == [(7, True)] * CALLS


async def test_the_first_webhooks_of_a_new_call_racing_make_one_call_row(twilio, sessions):
    """The voice webhook and an early status callback for a CallSid never seen before,
    at the same moment: one call row, both events kept, no error."""
    callers = [Caller(twilio, from_number=f"+86139000003{i:02d}", sid=new_sid())
               for i in range(CALLS)]

    async def first_sight(caller: Caller):
        return await asyncio.gather(
            caller.dial_in(),
            twilio.post("/twilio/status", caller.params(CallStatus="ringing", SequenceNumber=0)),
        )

    answers = await asyncio.gather(*(first_sight(c) for c in callers))
    assert all(a.status == 200 for pair in answers for a in pair)
    assert all(voice.find("Gather") is not None for voice, _status in answers)
    async with sessions() as session:
        rows = (await session.execute(select(Call.sid, func.count()).group_by(Call.sid))).all()
        events = await session.scalar(select(func.count()).select_from(CallEvent))
    assert sorted(rows) == sorted((c.sid, 1) for c in callers)
    assert events == 2 * CALLS
