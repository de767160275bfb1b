"""The calls the dialer places, once answered: callback, fee reminder, follow-up, escalation.

Every URL carries `?job=ID&n=ATTEMPT`, so each webhook finds its job and attempt in the
database whatever process placed the call. The attempt's `result` is set by the flow
(a person heard the reminder, a machine got the short message, the resident was put
through); the call's final status callback then settles the attempt and the job once,
however often and in whatever order Twilio's callbacks arrive.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import Dial, VoiceResponse

from ivr.calls import transfer
from ivr.calls.records import TERMINAL_STATUSES, apply_call_status, get_or_create_call
from ivr.outbound.jobs import (
    DONE_RESULTS,
    PAID,
    STAFF_MISS,
    STAFF_RETRY_MINUTES,
    counted_attempts,
    finish_job,
    link_call,
)
from ivr.platform.clock import parse_int
from ivr.platform.config import Settings
from ivr.platform.hotline import yuan
from ivr.tickets import lifecycle, survey
from models import Attempt, Call, OutboundJob, Resident, Staff, Ticket, TicketHistory

if TYPE_CHECKING:
    from ivr.platform.hotline import Hotline

log = logging.getLogger(__name__)

RESULT_LABELS = {"reached": "已接通", "message_left": "已语音留言", "busy": "忙线",
                 "no-answer": "无人接听", "failed": "呼叫失败", "canceled": "已取消",
                 "machine": "语音信箱", PAID: "已缴清", STAFF_MISS: "值班人员未接听，改由下一位拨打"}
REPEAT_KEY, PERSON_KEY, ACCEPT_KEY = "1", "0", "1"


def is_machine(answered_by: str | None) -> bool:
    return bool(answered_by) and (answered_by.startswith("machine") or answered_by == "fax")


def spaced(digits: str) -> str:
    """A phone number read digit by digit (`1 3 9 …`), not as one large number."""
    return " ".join(d for d in digits.removeprefix("+86") if d.isdigit())


def attempt_url(hotline: "Hotline", path: str, job: OutboundJob, attempt: Attempt) -> str:
    return hotline.url(f"{path}?job={job.id}&n={attempt.number}")


async def find(session: AsyncSession, query: Mapping[str, str]) -> tuple[OutboundJob | None, Attempt | None]:
    job_id, number = parse_int(query.get("job")), parse_int(query.get("n"))
    if job_id is None or number is None:
        return None, None
    job = await session.get(OutboundJob, job_id)
    if job is None:
        return None, None
    attempt = await session.scalar(select(Attempt).where(Attempt.job_id == job.id,
                                                         Attempt.number == number))
    return job, attempt


async def adopt(session: AsyncSession, hotline: "Hotline", *, job: OutboundJob,
                attempt: Attempt | None, form: Mapping[str, str]) -> Call:
    """The call row, tied to its job; a CallSid we never got to write is written now."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    link_call(call, job)
    if attempt is not None and attempt.call_sid is None and attempt.state in ("intent", "unknown", "placed"):
        attempt.call_sid = form["CallSid"]
        attempt.state = "placed"
        attempt.placed_at = attempt.placed_at or hotline.now
    if attempt is not None and form.get("AnsweredBy") and not attempt.answered_by:
        attempt.answered_by = form["AnsweredBy"][:30]
    return call


def hang_up(response: VoiceResponse | None = None) -> VoiceResponse:
    response = response or VoiceResponse()
    response.hangup()
    return response


# --- the call answered ---------------------------------------------------------------

async def answer(session: AsyncSession, hotline: "Hotline", *, query: Mapping[str, str],
                 form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/outbound?job=&n=`: someone (or something) picked up."""
    job, attempt = await find(session, query)
    if job is None or attempt is None:
        return hang_up()
    call = await adopt(session, hotline, job=job, attempt=attempt, form=form)
    machine = is_machine(form.get("AnsweredBy"))
    if job.kind == "fee_reminder":
        return await fee_reminder(session, hotline, job=job, attempt=attempt, machine=machine)
    if job.kind == "callback":
        if machine:  # a staff phone's voicemail must not take the callback
            attempt.result = STAFF_MISS
            return hang_up()
        return await callback_screen(session, hotline, job=job, attempt=attempt)
    if job.kind == "follow_up":
        if machine:
            attempt.result = "machine"
            response = VoiceResponse()
            hotline.speaker("zh").say(response, "outbound_follow_up_machine",
                                      company=hotline.settings.company_name)
            return hang_up(response)
        attempt.result = "reached"

        return await survey.survey(session, hotline, job=job, call=call)
    if job.kind == "escalation":
        return await escalation(session, hotline, job=job, attempt=attempt, machine=machine)
    return hang_up()


async def fee_reminder(session: AsyncSession, hotline: "Hotline", *, job: OutboundJob,
                       attempt: Attempt, machine: bool) -> VoiceResponse:
    """催缴: address and amount, politely; 1 hear it again, 0 a person. A machine gets
    the short message (AMD waited for the beep).

    The arrears are read now, as the phone is answered: a household that paid after the
    call was placed (the residents file imported with its new arrears) is thanked, by a
    person or on a machine, and never told an amount; the job ends as `paid`."""
    resident = await session.get(Resident, job.resident_id) if job.resident_id else None
    speaker = hotline.speaker("zh")
    response = VoiceResponse()
    company = hotline.settings.company_name
    if resident is None:
        return hang_up()
    if resident.arrears <= 0:
        attempt.result = PAID
        speaker.say(response, "outbound_fee_paid", company=company, resident_name=resident.name)
        return hang_up(response)
    amount = yuan(resident.arrears)
    if machine:
        attempt.result = "message_left"
        speaker.say(response, "outbound_fee_machine", company=company, address=resident.address,
                    amount=amount, hotline=spaced(hotline.settings.hotline_number))
        return hang_up(response)
    attempt.result = "reached"
    gather = response.gather(num_digits=1, action=attempt_url(hotline, "/twilio/outbound-key", job, attempt),
                             method="POST", timeout=hotline.settings.gather_timeout_seconds,
                             input="dtmf")
    speaker.say(gather, "outbound_fee_reminder", company=company, resident_name=resident.name,
                address=resident.address, amount=amount)
    speaker.say(response, "outbound_goodbye")
    return hang_up(response)


async def callback_screen(session: AsyncSession, hotline: "Hotline", *, job: OutboundJob,
                          attempt: Attempt) -> VoiceResponse:
    """回电, on the staff phone: whom to call back and why; 1 puts them through."""
    ticket = await session.get(Ticket, job.ticket_id) if job.ticket_id else None
    resident = await session.get(Resident, job.resident_id) if job.resident_id else None
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=attempt_url(hotline, "/twilio/outbound-key", job, attempt),
                             method="POST", timeout=hotline.settings.gather_timeout_seconds,
                             input="dtmf")
    hotline.speaker("zh").say(
        gather, "outbound_callback_screen", number=ticket.number if ticket else "",
        phone=spaced(job.phone), address=resident.address if resident else "",
        resident_name=resident.name if resident else "",
        reason=(ticket.description if ticket else "")[:200])
    return hang_up(response)


async def escalation(session: AsyncSession, hotline: "Hotline", *, job: OutboundJob,
                     attempt: Attempt, machine: bool) -> VoiceResponse:
    """An emergency ticket escalated by phone: number, category and address, twice."""
    ticket = await session.get(Ticket, job.ticket_id) if job.ticket_id else None
    resident = await session.get(Resident, ticket.resident_id) if ticket and ticket.resident_id else None
    speaker = hotline.speaker("zh")
    response = VoiceResponse()
    words = dict(number=ticket.number if ticket else "", address=resident.address if resident else "",
                 category=lifecycle.category_label(ticket.category) if ticket else "")
    speaker.say(response, "outbound_escalation", **words)
    if not machine:
        response.pause(length=1)
        speaker.say(response, "outbound_escalation", **words)
    attempt.result = "machine" if machine else "reached"
    return hang_up(response)


# --- keys ----------------------------------------------------------------------------

async def key(session: AsyncSession, hotline: "Hotline", *, query: Mapping[str, str],
              form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/outbound-key?job=&n=`: a key on a reminder or on the staff phone."""
    job, attempt = await find(session, query)
    if job is None or attempt is None:
        return hang_up()
    call = await adopt(session, hotline, job=job, attempt=attempt, form=form)
    digits = (form.get("Digits") or "").strip()
    if job.kind == "fee_reminder":
        if digits == PERSON_KEY:
            call.menu_choice = "fees"
            response = await transfer.to_person(session, hotline, call=call, choice="fees",
                                                intro="to_person")
            return caller_id_is_hotline(response, hotline.settings)
        return await fee_reminder(session, hotline, job=job, attempt=attempt, machine=False)
    if job.kind == "callback":
        if digits != ACCEPT_KEY:
            attempt.result = STAFF_MISS
            return hang_up()
        return connect_resident(hotline, job=job, attempt=attempt)
    return hang_up()


def caller_id_is_hotline(response: VoiceResponse, settings: Settings) -> VoiceResponse:
    """On an outbound call the hunt's `<Dial>` must show the hotline, not the resident
    (`transfer.ring_next` uses the inbound call's dialled number)."""
    for verb in getattr(response, "verbs", []):
        if isinstance(verb, Dial) and settings.hotline_number:
            verb.attrs["callerId"] = settings.hotline_number
    return response


def connect_resident(hotline: "Hotline", *, job: OutboundJob, attempt: Attempt) -> VoiceResponse:
    """The staff member accepted: dial the resident, who hears the callback greeting
    (the `<Number url>` runs on their side) before the two are bridged."""
    attempt.result = None
    response = VoiceResponse()
    hotline.speaker("zh").say(response, "outbound_callback_connecting")
    dial = Dial(action=attempt_url(hotline, "/twilio/outbound-dial", job, attempt), method="POST",
                timeout=hotline.settings.dialer_ring_timeout_seconds,
                caller_id=hotline.settings.hotline_number or None)
    dial.number(job.phone, url=attempt_url(hotline, "/twilio/outbound-greet", job, attempt),
                method="POST")
    response.append(dial)
    return response


async def greet(session: AsyncSession, hotline: "Hotline", *, query: Mapping[str, str],
                form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/outbound-greet`, on the resident's phone before the bridge."""
    response = VoiceResponse()
    hotline.speaker("zh").say(response, "outbound_callback_greeting",
                              company=hotline.settings.company_name)
    return response


async def dial_result(session: AsyncSession, hotline: "Hotline", *, query: Mapping[str, str],
                      form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/outbound-dial`: did the resident answer the callback?"""
    job, attempt = await find(session, query)
    if job is None or attempt is None:
        return hang_up()
    status = form.get("DialCallStatus") or ""
    if form.get("DialBridged") == "true" or status in ("completed", "answered"):
        attempt.result = "reached"
        return hang_up()
    attempt.result = status if status in ("busy", "no-answer", "failed", "canceled") else "no-answer"
    response = VoiceResponse()
    hotline.speaker("zh").say(response, "outbound_callback_unreached")
    return hang_up(response)


# --- status callbacks and settling ---------------------------------------------------

async def status(session: AsyncSession, hotline: "Hotline", *, query: Mapping[str, str],
                 form: Mapping[str, str]) -> None:
    """`POST /twilio/status?job=&n=`: progress of a call the dialer placed."""
    job, attempt = await find(session, query)
    if job is None:
        return
    call = await adopt(session, hotline, job=job, attempt=attempt, form=form)
    apply_call_status(call, form=form, now=hotline.now)
    call_status = form.get("CallStatus") or ""
    if call_status in TERMINAL_STATUSES and call.outcome is None:
        call.outcome = "answered" if call_status == "completed" else call_status
    if attempt is None or attempt.call_sid != form["CallSid"]:
        return
    if call_status in TERMINAL_STATUSES:
        await settle_attempt(session, settings=hotline.settings, job=job, attempt=attempt,
                             status=call_status, answered_by=form.get("AnsweredBy"),
                             now=hotline.now)


def attempt_result(job: OutboundJob, attempt: Attempt, status: str) -> str:
    machine = is_machine(attempt.answered_by)
    if job.kind == "callback":
        if status != "completed" or attempt.result is None:
            return STAFF_MISS  # the staff phone did not take it: the next person rings
        return attempt.result
    if status != "completed":
        return status
    if attempt.result is not None:
        return attempt.result
    if machine:
        return "message_left" if job.kind == "fee_reminder" else "machine"
    return "reached"


async def settle_attempt(session: AsyncSession, *, settings: Settings, job: OutboundJob,
                         attempt: Attempt, status: str, answered_by: str | None,
                         now: datetime) -> None:
    """The call ended: its result, then the job's next step. Once per attempt."""
    if attempt.state in ("done", "void"):
        return
    if answered_by and not attempt.answered_by:
        attempt.answered_by = answered_by[:30]
    result = attempt_result(job, attempt, status)
    attempt.result, attempt.state, attempt.finished_at = result, "done", now
    if job.kind == "callback" and job.ticket_id is not None and result != STAFF_MISS:
        staff = await session.get(Staff, attempt.staff_id) if attempt.staff_id else None
        session.add(TicketHistory(
            ticket_id=job.ticket_id, at=now, actor=staff.name if staff else "dialer",
            action="callback_attempt",
            detail=f"第{attempt.number}次回电：{RESULT_LABELS.get(result, result)}"))
    if job.state != "dialing":
        return
    if result == PAID:  # paid after the call was placed: as if paid before it
        await finish_job(session, job, state="skipped", outcome=PAID, now=now)
        return
    if result in DONE_RESULTS:
        await finish_job(session, job, state="done", outcome=result, now=now)
        if job.kind == "callback":
            await callback_reached(session, settings=settings, job=job, attempt=attempt, now=now)
        return
    counted = await counted_attempts(session, job)
    if result != STAFF_MISS and counted >= settings.dialer_max_attempts:
        await finish_job(session, job, state="exhausted", outcome="exhausted", now=now,
                         detail=f"（共 {counted} 次）")
        return
    minutes = settings.dialer_retry_minutes
    if result == STAFF_MISS or job.kind == "escalation":  # someone else, or an emergency
        minutes = min(minutes, STAFF_RETRY_MINUTES)
    job.state, job.outcome, job.updated_at = "queued", result, now
    job.next_attempt_at = now + timedelta(minutes=minutes)


async def callback_reached(session: AsyncSession, *, settings: Settings, job: OutboundJob,
                           attempt: Attempt, now: datetime) -> None:
    """The resident was called back: the staff member who did it owns the ticket
    (首问负责制). A plain callback request is then resolved; a repair, complaint or
    emergency left as a message stays open for its work (and its follow-up)."""
    ticket = await session.get(Ticket, job.ticket_id) if job.ticket_id else None
    if ticket is None:
        return
    if ticket.owner_staff_id is None and attempt.staff_id is not None:
        ticket.owner_staff_id = attempt.staff_id
    if ticket.needs_callback:
        ticket.needs_callback = False
    if ticket.category == "callback" and ticket.status in lifecycle.ACTIVE:
        await lifecycle.resolve(session, settings=settings, ticket=ticket, actor="dialer",
                              now=now, note="已回电并与业主通话")
