"""Putting a caller through to a person, three rings at a time (铃响三声以内接听).

One `<Dial>` per staff phone in hunt order, each capped at three rings. Each phone
screens the call: the staff member hears who is calling and presses 1, so a phone's own
voicemail never takes a resident's call. Every leg is timed from Twilio's timestamps.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Mapping

from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import Dial, VoiceResponse

from ivr.calls import presence, queue
from ivr.calls.records import apply_call_status, find_call, get_or_create_call, is_newer, legs_of
from ivr.platform.clock import parse_int, parse_twilio_timestamp
from ivr.platform.phones import as_stored
from ivr.tickets import lifecycle
from models import Call, Leg, Resident, Staff, rollup

if TYPE_CHECKING:
    from ivr.platform.hotline import Hotline

log = logging.getLogger(__name__)

ACCEPT_KEY = "1"
LEG_EVENT_COLUMNS = {
    "initiated": "initiated_at",
    "queued": "initiated_at",
    "ringing": "ringing_at",
    "in-progress": "answered_at",
    "answered": "answered_at",
}
LEG_FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}
LEGS = Leg.__table__
# A leg's call's start, beside the leg an UPDATE … RETURNING changed: a leg of a closed
# day (or of a call begun on one) drops that day's rollup (models/rollup.py).
CALL_STARTED = (select(Call.started_at).where(Call.id == LEGS.c.call_id)
                .scalar_subquery())


def leg_url(hotline: "Hotline", path: str, leg) -> str:
    """`?leg=ID&n=ATTEMPT`: the attempt lets the degraded path hunt on without the row."""
    return hotline.url(f"{path}?leg={leg.id}&n={leg.attempt}")


async def to_person(session: AsyncSession, hotline: "Hotline", *, call: Call, choice: str,
                    intro: str | None = None, duty_only: bool = False) -> VoiceResponse:
    """Start the hunt for a person (or take a message when nobody is on duty)."""
    if hunt_started(call):
        return already_hunting(hotline, call=call)
    call.menu_choice = call.menu_choice or choice
    first_hunt = call.transfer_requested_at is None
    if first_hunt:
        call.transfer_requested_at = hotline.now
    response = VoiceResponse()
    if intro:
        hotline.speaker(call.language).say(response, intro)
    return await ring_next(session, hotline, call=call, response=response, duty_only=duty_only,
                           first_hunt=first_hunt)


def hunt_started(call: Call) -> bool:
    """Once a person has been asked for, the menu is over: only the hunt's own Dial results
    move the call on. A step replayed after that (a captured request with a fresh
    `I-Twilio-Idempotency-Token`) must neither ring anyone nor change the call."""
    return call.transfer_requested_at is not None


def already_hunting(hotline: "Hotline", *, call: Call) -> VoiceResponse:
    """The answer to a step that would start a second hunt or a second Dial: nobody rung."""
    response = VoiceResponse()
    hotline.speaker(call.language).say(response, "please_wait")
    return response


async def hunt_moved_on(session: AsyncSession, *, leg: Leg, had_result: bool | None = None) -> bool:
    """This leg's Dial has had its result already, or a later leg is ringing: a call has
    at most one Dial in flight, so a repeated result of this one rings nobody new.
    `had_result`: whether the leg had its result before this webhook set it."""
    if leg.dial_status is not None if had_result is None else had_result:
        return True
    later = await session.scalar(select(Leg.id).where(Leg.call_id == leg.call_id,
                                                      Leg.attempt > leg.attempt).limit(1))
    return later is not None


async def ring_next(session: AsyncSession, hotline: "Hotline", *, call: Call,
                    response: VoiceResponse, duty_only: bool = False,
                    first_hunt: bool = False) -> VoiceResponse:
    """Dial the next free person not yet tried on this call, or take a message.

    `first_hunt`: nobody has been rung yet (every leg is made with the call's
    `transfer_requested_at` set, so a call without one has no legs to read)."""
    speaker = hotline.speaker(call.language)
    await queue.hold_switchboard(session)  # whom to ring is decided one call at a time
    tried = [] if first_hunt else await legs_of(session, call)
    tried_staff = {leg.staff_id for leg in tried if leg.staff_id}
    if len(tried) >= hotline.settings.max_hunt:
        return take_message(hotline, call=call, response=response)
    if await queue.line_ahead(session, call):
        # Callers already in line come first (first in, first out): join them.
        queue.join(call, now=hotline.now)
        return await queue.wait_turn(session, hotline, call=call, response=response)
    # Only someone free: never a phone ringing for another caller, talking, in wrap-up
    # (but for an emergency) or signed out, chosen under lock (ivr.calls.presence).
    staff = await presence.take_free_staff(
        session, settings=hotline.settings, now=hotline.now, choice=call.menu_choice,
        duty_only=duty_only, exclude=tried_staff)
    if staff is None:
        if await queue.someone_busy(session, settings=hotline.settings, now=hotline.now,
                                    call=call, tried=tried_staff):
            # Everyone who could take it is busy: wait in line rather than leave a message.
            queue.join(call, now=hotline.now)
            return await queue.wait_turn(session, hotline, call=call, response=response)
        return take_message(hotline, call=call, response=response)
    leg = Leg(call_id=call.id, staff_id=staff.id, staff_name=staff.name, phone=staff.phone,
              attempt=len(tried) + 1, created_at=hotline.now)
    session.add(leg)
    await session.flush()
    speaker.say(response, "please_wait" if not tried else "sorry_wait")
    return dial_leg(hotline, call=call, leg=leg, response=response)


def dial_leg(hotline: "Hotline", *, call: Call, leg: Leg, response: VoiceResponse) -> VoiceResponse:
    """The `<Dial>` of one leg: three rings, screened, every call-progress event timed."""
    dial = Dial(
        action=leg_url(hotline, "/twilio/dial-result", leg),
        method="POST",
        timeout=hotline.settings.dial_timeout,
        caller_id=call.to_number or hotline.settings.hotline_number or None,
    )
    dial.number(
        leg.phone,
        url=leg_url(hotline, "/twilio/screen", leg),
        method="POST",
        status_callback=leg_url(hotline, "/twilio/leg-status", leg),
        status_callback_method="POST",
        status_callback_event="initiated ringing answered completed",
    )
    response.append(dial)
    return response


def take_message(hotline: "Hotline", *, call: Call, response: VoiceResponse) -> VoiceResponse:
    speaker = hotline.speaker(call.language)
    speaker.say(response, "leave_message")
    response.record(
        action=hotline.url("/twilio/message"),
        method="POST",
        max_length=hotline.settings.message_max_seconds,
        finish_on_key="#",
        play_beep=True,
        timeout=5,
    )
    # Silence: Twilio goes on to the next verb; the message step records the missed call.
    response.redirect(hotline.url("/twilio/message"), method="POST")
    return response


async def get_leg(session: AsyncSession, hotline: "Hotline", query: Mapping[str, str],
                  form: Mapping[str, str]) -> Leg | None:
    """The leg a staff-phone URL names: by row id, or by call and attempt (the URLs of
    the degraded path, replayed from the journal), created then if need be."""
    leg_id = parse_int(query.get("leg"))
    if leg_id is not None:
        # Locked for the transaction: one leg's events are applied one at a time.
        return await session.get(Leg, leg_id, with_for_update=True)
    call_sid, attempt = query.get("call"), parse_int(query.get("n"))
    if not call_sid or attempt is None:
        return None
    call = await find_call(session, call_sid)
    if call is None:
        call = await get_or_create_call(session, form={"CallSid": call_sid}, now=hotline.now)
    leg = await session.scalar(select(Leg).where(Leg.call_id == call.id, Leg.attempt == attempt)
                               .with_for_update())
    if leg is not None:
        return leg
    phone = as_stored(query.get("phone"))
    staff = await session.scalar(select(Staff).where(Staff.phone == phone)) if phone else None
    leg = Leg(call_id=call.id, staff_id=staff.id if staff else None,
              staff_name=staff.name if staff else "", phone=phone, attempt=attempt,
              created_at=hotline.now)
    call.transfer_requested_at = call.transfer_requested_at or hotline.now
    call.menu_choice = call.menu_choice or "person"
    session.add(leg)
    await session.flush()
    return leg


async def dial_result(session: AsyncSession, hotline: "Hotline", *, form: Mapping[str, str],
                      leg: Leg) -> VoiceResponse:
    """`POST /twilio/dial-result?leg=N`: bridged and done, or ring the next person."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    dial_status = form.get("DialCallStatus") or ""
    had_result = leg.dial_status is not None  # the later legs are read only if it matters
    if leg.sid is None and form.get("DialCallSid"):
        leg.sid = form["DialCallSid"]
    leg.dial_status = leg.dial_status or dial_status
    bridged = (form.get("DialBridged") == "true"
               or (leg.accepted and dial_status in ("completed", "answered")))
    response = VoiceResponse()
    if bridged:
        leg.bridged = True
        call.outcome = "answered"
        call.answered_by_staff_id = leg.staff_id
        # A repair or complaint a person took is a ticket they own (首问负责制).
        await lifecycle.ensure_call_ticket(session, settings=hotline.settings, now=hotline.now,
                                         call=call)
        response.hangup()
        return response
    if form.get("CallStatus") in ("completed", "canceled"):
        # The caller hung up while the phone rang: nothing more to say to anyone.
        return response
    if await hunt_moved_on(session, leg=leg, had_result=had_result):
        return already_hunting(hotline, call=call)
    return await ring_next(session, hotline, call=call, response=response)


_SCREENED = (select(LEGS.c.id, LEGS.c.attempt, Call.menu_choice, Resident.address)
             .join(Call, Call.id == LEGS.c.call_id)
             .outerjoin(Resident, Resident.id == Call.resident_id)
             .where(LEGS.c.id == bindparam("leg_id")))


async def screen(session: AsyncSession, hotline: "Hotline", *, query: Mapping[str, str],
                 form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/screen?leg=N`, on the staff phone: who is calling; press 1 to take it.

    Reads only: the leg, its call's choice and the resident's address, in one query."""
    leg_id = parse_int(query.get("leg"))
    if leg_id is None:  # the degraded path's URL: the leg by call and attempt
        leg = await get_leg(session, hotline, query, form)
        row = None if leg is None else (await session.execute(
            _SCREENED, {"leg_id": leg.id})).first()
    else:
        row = (await (await session.connection()).execute(_SCREENED, {"leg_id": leg_id})).first()
    response = VoiceResponse()
    if row is None:
        response.hangup()
        return response
    speaker = hotline.speaker("zh")
    choice = row.menu_choice or "person"
    gather = response.gather(
        num_digits=1, action=leg_url(hotline, "/twilio/screen-answer", row), method="POST",
        timeout=hotline.settings.gather_timeout_seconds, input="dtmf",
    )
    speaker.say(gather, "screen_prompt", address=row.address or "",
                choice_label=speaker.text(f"choice_{choice}"))
    response.hangup()
    return response


_ACCEPT = (update(LEGS).where(LEGS.c.id == bindparam("leg_id"))
           .values(accepted=True,
                   accepted_at=case((LEGS.c.accepted.is_(True), LEGS.c.accepted_at),
                                    else_=bindparam("now", type_=LEGS.c.accepted_at.type)),
                   sid=func.coalesce(LEGS.c.sid, bindparam("leg_sid", type_=LEGS.c.sid.type)))
           .returning(LEGS.c.call_id, LEGS.c.staff_id, LEGS.c.created_at,
                      CALL_STARTED.label("call_started_at")))
_ANSWERED_BY = (update(Call.__table__).where(Call.__table__.c.id == bindparam("call_id"))
                .values(answered_by_staff_id=bindparam("staff_id")))


async def screen_answer(session: AsyncSession, hotline: "Hotline", *, query: Mapping[str, str],
                        form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/screen-answer?leg=N`: 1 accepts (hear the greeting, then the bridge).

    The leg accepted (first time kept) and the call's person set: two UPDATEs."""
    response = VoiceResponse()
    leg_id = parse_int(query.get("leg"))
    if leg_id is None:  # the degraded path's URL: the leg by call and attempt, made if need be
        leg = await get_leg(session, hotline, query, form)
        leg_id = None if leg is None else leg.id
    if leg_id is None or (form.get("Digits") or "").strip() != ACCEPT_KEY:
        response.hangup()
        return response
    connection = await session.connection()
    row = (await connection.execute(_ACCEPT, {"leg_id": leg_id, "now": hotline.now,
                                              "leg_sid": form.get("CallSid") or None})).first()
    if row is None:
        response.hangup()
        return response
    await connection.execute(_ANSWERED_BY, {"call_id": row.call_id, "staff_id": row.staff_id})
    await rollup.drop_days(session, since=leg_date(row))
    hotline.speaker("zh").say(response, "screen_greeting", company=hotline.settings.company_name)
    return response


def _event_column(status: str) -> str | None:
    """The leg's column an event's status fills once (initiated_at, …, completed_at)."""
    return "completed_at" if status in LEG_FINAL else LEG_EVENT_COLUMNS.get(status)


async def leg_status(session: AsyncSession, hotline: "Hotline", *, form: Mapping[str, str],
                     leg: Leg) -> None:
    """A call-progress event of one staff phone, on a leg already loaded (the degraded
    path's URLs, by call and attempt). `leg_event` is the same rule in one UPDATE.

    Each event fills its own column once, so duplicates and any order give the same leg.
    """
    status = form.get("CallStatus") or ""
    stamp = parse_twilio_timestamp(form.get("Timestamp")) or hotline.now
    sequence = parse_int(form.get("SequenceNumber"))
    values: dict = {}
    column = _event_column(status)
    if column and getattr(leg, column) is None:
        values[column] = stamp
    if leg.sid is None and form.get("CallSid"):
        values["sid"] = form["CallSid"]
    if status in LEG_FINAL:
        values["status"] = status
        values["status_sequence"] = sequence
    elif status and leg.status not in LEG_FINAL and is_newer(sequence, leg.status_sequence):
        values["status"] = status
        values["status_sequence"] = sequence
    for column, value in values.items():  # the leg is locked (get_leg): one UPDATE at commit
        setattr(leg, column, value)
    ring = ring_seconds(leg)
    if ring != leg.ring_seconds:
        leg.ring_seconds = ring


@functools.cache
def _leg_event_update(column: str | None, final: bool, status: bool, sequence: bool):
    """`leg_status`'s rule as one UPDATE … RETURNING, built once per shape of event:
    the webhook's hottest path (four of a call's ten webhooks) reads no ORM row."""
    values = {"sid": func.coalesce(LEGS.c.sid, bindparam("event_sid", type_=LEGS.c.sid.type))}
    if column:
        values[column] = func.coalesce(LEGS.c[column],
                                       bindparam("stamp", type_=LEGS.c[column].type))
    new_status = bindparam("new_status", type_=LEGS.c.status.type)
    new_sequence = bindparam("new_sequence", type_=LEGS.c.status_sequence.type)
    if final:
        values["status"] = new_status
        values["status_sequence"] = new_sequence
    elif status:
        # is_newer(), and a final status stays: the old row's values, as in leg_status.
        newer = (or_(LEGS.c.status_sequence.is_(None), LEGS.c.status_sequence < new_sequence)
                 if sequence else LEGS.c.status_sequence.is_(None))
        applies = and_(or_(LEGS.c.status.is_(None), LEGS.c.status.not_in(sorted(LEG_FINAL))),
                       newer)
        values["status"] = case((applies, new_status), else_=LEGS.c.status)
        values["status_sequence"] = case((applies, new_sequence), else_=LEGS.c.status_sequence)
    return (update(LEGS).where(LEGS.c.id == bindparam("leg_id")).values(**values)
            .returning(LEGS.c.initiated_at, LEGS.c.ringing_at, LEGS.c.answered_at,
                       LEGS.c.ring_seconds, LEGS.c.created_at,
                       CALL_STARTED.label("call_started_at")))


_SET_RING_SECONDS = (update(LEGS).where(LEGS.c.id == bindparam("leg_id"))
                     .values(ring_seconds=bindparam("ring")))


async def leg_event(session: AsyncSession, hotline: "Hotline", *, query: Mapping[str, str],
                    form: Mapping[str, str]) -> None:
    """`POST /twilio/leg-status?leg=N`: a call-progress event of one staff phone.

    One UPDATE of the leg's row (which locks it, as `get_leg` did), a second only when
    the answer makes its ring time known. A URL by call and attempt (the degraded path,
    replayed from the journal) finds or makes its leg first."""
    leg_id = parse_int(query.get("leg"))
    if leg_id is None:
        leg = await get_leg(session, hotline, query, form)
        if leg is not None:
            await leg_status(session, hotline, form=form, leg=leg)
        return
    status = form.get("CallStatus") or ""
    sequence = parse_int(form.get("SequenceNumber"))
    statement = _leg_event_update(_event_column(status), status in LEG_FINAL, bool(status),
                                  sequence is not None)
    connection = await session.connection()
    row = (await connection.execute(statement, {
        "leg_id": leg_id, "event_sid": form.get("CallSid") or None,
        "stamp": parse_twilio_timestamp(form.get("Timestamp")) or hotline.now,
        "new_status": status, "new_sequence": sequence})).first()
    if row is None:
        return  # no such leg: nothing to time
    ring = ring_seconds(row)
    if ring != row.ring_seconds:
        await connection.execute(_SET_RING_SECONDS, {"leg_id": leg_id, "ring": ring})
    # A late or repeated callback of a closed day: that day's figures are computed again.
    await rollup.drop_days(session, since=leg_date(row))


def leg_date(row) -> datetime | None:
    """The earliest moment a changed leg's figures are filed under: its call's start
    (the speed of answer) or its own creation (the legs' figures)."""
    moments = [m for m in (row.created_at, row.call_started_at) if m is not None]
    return min(moments) if moments else None


def ring_seconds(leg) -> int | None:
    """Answered − ringing, to the second, from Twilio's own event timestamps."""
    start = leg.ringing_at or leg.initiated_at
    if leg.answered_at is None or start is None:
        return None
    return max(0, round((leg.answered_at - start).total_seconds()))


async def message(session: AsyncSession, hotline: "Hotline", *, form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/message`: after `<Record>`, with or without a recording."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    recording = form.get("RecordingUrl") or None
    duration = parse_int(form.get("RecordingDuration")) or 0
    speaker = hotline.speaker(call.language)
    response = VoiceResponse()
    if recording and duration > 0:
        call.outcome = "message"
        await lifecycle.ensure_callback_ticket(
            session, settings=hotline.settings, now=hotline.now, call=call,
            reason=f"留言 {duration} 秒", recording_url=recording,
        )
        speaker.say(response, "message_thanks")
    else:
        if call.outcome not in ("message", "answered"):
            call.outcome = "missed"
        await lifecycle.ensure_callback_ticket(
            session, settings=hotline.settings, now=hotline.now, call=call,
            reason="未接来电：无人接听，未留言",
        )
        speaker.say(response, "no_message")
    response.hangup()
    return response


async def call_status(session: AsyncSession, hotline: "Hotline", *, form: Mapping[str, str]) -> Call:
    """`POST /twilio/status`: the call's own progress; on its end, settle the outcome."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    if apply_call_status(call, form=form, now=hotline.now):
        await settle(session, hotline, call=call)
    return call


async def settle(session: AsyncSession, hotline: "Hotline", *, call: Call) -> None:
    """The call has ended: a caller who was waiting for a person and got nobody abandoned."""
    if queue.is_waiting(call):  # hung up in line: an abandoned call, with its wait
        queue.leave(call, now=call.ended_at or hotline.now, exit="abandoned")
    legs = await legs_of(session, call)
    if any(leg.bridged or leg.accepted for leg in legs):
        call.outcome = "answered"
        return
    if call.transfer_requested_at is None or call.direction != "inbound":
        call.outcome = call.outcome or "ivr"
        return
    if call.outcome in ("message", "missed", "answered"):
        return
    waiting_since = min((leg.initiated_at for leg in legs if leg.initiated_at), default=None)
    if call.queued_at is not None:  # in line before any phone rang
        waiting_since = min(waiting_since or call.queued_at, call.queued_at)
    waiting_since = waiting_since or call.transfer_requested_at
    if call.ended_at is not None:
        call.waited_seconds = max(0, round((call.ended_at - waiting_since).total_seconds()))
    call.outcome = "abandoned"
    await lifecycle.ensure_callback_ticket(
        session, settings=hotline.settings, now=hotline.now, call=call,
        reason=f"放弃来电：等待 {call.waited_seconds or 0} 秒后挂机",
    )
