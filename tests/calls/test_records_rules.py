"""Twilio's status callbacks: SequenceNumber orders them, and only an end settles the call."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ivr.calls import calllog
from ivr.tools.simulator import call_params
from models import Call
from tests.conftest import local
from tests.twilio_client import HOTLINE, Caller, leg_params, new_sid, progress_params, rfc2822

AT = local(2026, 11, 23, 10, 0, 30)


async def status(caller, state: str, sequence: int):
    resp = await caller.twilio.post("/twilio/status", progress_params(
        caller.params(), status=state, at=AT, sequence=sequence))
    assert resp.status == 200


async def the_call(sessions, caller) -> Call:
    async with sessions() as session:
        return await session.scalar(select(Call).where(Call.sid == caller.sid))


async def test_a_late_older_status_callback_does_not_overwrite_a_newer_one(caller, sessions):
    await caller.dial_in()
    await status(caller, "in-progress", 2)
    await status(caller, "ringing", 1)  # sent first, delivered late
    assert (await the_call(sessions, caller)).status == "in-progress"


async def test_a_call_still_on_the_line_is_not_settled_by_a_progress_callback(caller, sessions):
    await caller.dial_in()
    await status(caller, "in-progress", 1)
    call = await the_call(sessions, caller)
    assert call.ended_at is None and call.outcome is None  # the call log: still on the line


async def test_a_late_progress_callback_does_not_reopen_an_ended_call(caller, sessions):
    await caller.dial_in()
    await caller.hangup(at=AT, duration=30)
    await status(caller, "initiated", 0)  # the first callback, delivered last
    call = await the_call(sessions, caller)
    assert (call.status, call.ended_at) == ("completed", AT)


async def test_callbacks_in_order_each_move_the_status_on(caller, sessions):
    await caller.dial_in()
    assert (await the_call(sessions, caller)).status == "ringing"  # as the first webhook said
    await status(caller, "ringing", 1)
    await status(caller, "in-progress", 2)
    assert (await the_call(sessions, caller)).status == "in-progress"


async def test_callbacks_without_a_sequence_number_are_applied_as_they_come(caller, sessions):
    """SequenceNumber orders callbacks when a callback carries it; callbacks without one
    are applied in the order they come, each moving the status on."""
    await caller.dial_in()
    for state in ("ringing", "in-progress"):
        form = progress_params(caller.params(), status=state, at=AT, sequence=0)
        del form["SequenceNumber"]
        assert (await caller.twilio.post("/twilio/status", form)).status == 200
        assert (await the_call(sessions, caller)).status == state


async def test_an_ended_call_keeps_its_end_whatever_comes_after(caller, sessions):
    """Ended by a callback without a SequenceNumber, the call is not moved back to
    "ringing" by a progress callback delivered late, nor its end moved by another end."""
    await caller.dial_in()
    end = progress_params(caller.params(), status="completed", at=AT, sequence=0,
                          CallDuration=30)
    del end["SequenceNumber"]
    assert (await caller.twilio.post("/twilio/status", end)).status == 200
    await status(caller, "ringing", 0)
    later = {**end, "CallStatus": "no-answer", "Timestamp": rfc2822(AT + timedelta(minutes=5))}
    assert (await caller.twilio.post("/twilio/status", later)).status == 200
    call = await the_call(sessions, caller)
    assert (call.status, call.ended_at, call.duration_seconds) == ("completed", AT, 30)


async def test_a_staff_phone_heard_from_before_its_call_makes_a_residents_call(caller, sessions):
    """Replayed from the journal out of order, a staff phone's callback (addressed by call
    and attempt, as the degraded path's URLs are) comes before any webhook of the call it
    belongs to: Twilio names no direction for that call, and the call is the resident's
    inbound call, counted in the day's answer figures, not an outbound one."""
    phone = "+8613800000001"
    leg = leg_params(sid=new_sid(), parent_sid=caller.sid, from_number=HOTLINE, to_number=phone)
    resp = await caller.twilio.post(
        f"/twilio/leg-status?call={caller.sid}&n=1&phone={phone.replace('+', '%2B')}",
        progress_params(leg, status="ringing", at=AT, sequence=1))
    assert resp.status == 200
    assert (await caller.dial_in()).status == 200
    call = await the_call(sessions, caller)
    assert (call.direction, call.status) == ("inbound", "in-progress")  # on the line: a phone rings


async def test_a_call_placed_from_the_hotline_number_outside_the_dialer_is_an_outbound_call(
        twilio, sessions):
    """A call someone placed from the hotline's number (a test call from Twilio's console,
    with the hotline's status URL) reports its progress like any call: it is logged as
    outbound, not as a resident calling in, so the day's answer rate does not count it."""
    params = call_params(sid=new_sid(), from_number=HOTLINE, to_number="+8613900000001",
                         Direction="outbound-api")
    resp = await twilio.post("/twilio/status", progress_params(
        params, status="completed", at=AT, sequence=3, CallDuration=40))
    assert resp.status == 200
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == params["CallSid"]))
    assert call.direction == "outbound"


async def test_a_status_callback_before_the_greeting_webhook_leaves_one_call_and_a_greeting(
        caller, sessions):
    """Twilio's callbacks race: the number's "ringing" status callback can reach the server
    before the webhook that asks for the greeting. The resident still hears the greeting
    and the menu, and the call log holds one call with its resident's number."""
    await status(caller, "ringing", 0)
    twiml = await caller.dial_in()
    assert twiml.status == 200 and twiml.find("Gather") is not None
    async with sessions() as session:
        calls = (await session.scalars(select(Call))).all()
    assert [(c.sid, c.direction, c.from_number) for c in calls] == [
        (caller.sid, "inbound", caller.from_number)]


async def test_the_call_log_lists_callbacks_in_twilios_order_not_as_they_came(caller, sessions, clock):
    """The call log's timeline follows Twilio's `Timestamp`: a "ringing" callback that
    arrived after "in-progress" is still shown before it."""
    await caller.dial_in()
    start = clock()
    for state, sequence, seconds in (("in-progress", 2, 20), ("ringing", 1, 10)):
        await caller.twilio.post("/twilio/status", progress_params(
            caller.params(), status=state, at=start + timedelta(seconds=seconds), sequence=sequence))
    async with sessions() as session:
        events = await calllog.timeline(session, call=await the_call(sessions, caller))
    assert [e.params.get("CallStatus") for e in events] == ["ringing", "ringing", "in-progress"]
    assert events[1].twilio_timestamp == start + timedelta(seconds=10)


async def test_a_withheld_number_is_logged_as_twilio_sent_it(twilio, sessions):
    """A caller who hides the number reaches Twilio as `anonymous`: the call log says so,
    rather than an empty number, and the resident is not guessed."""
    hidden = Caller(twilio, from_number="anonymous")
    assert (await hidden.dial_in()).status == 200
    call = await the_call(sessions, hidden)
    assert (call.from_number, call.to_number, call.resident_id) == ("anonymous", HOTLINE, None)
