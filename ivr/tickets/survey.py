"""The follow-up call itself (回访电话) and the resident's answer.

满意/基本满意 follow the ticket up; 不满意 reopens it and escalates it to the supervisor.
Staff who call by hand record the answer through `record()` too. Scheduling the call and
its deadline are `followup`'s.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from ivr.platform.config import Settings
from ivr.platform.hotline import Hotline
from ivr.tickets import escalation, history, lifecycle
from ivr.tickets.followup import (
    ACTOR,
    ANSWER_ACTION,
    MAX_PROMPTS,
    SATISFACTION_KEYS,
    SATISFACTION_LABELS,
    SATISFACTIONS,
    FollowUpError,
    cancel_jobs,
    make_manual,
)
from models import Call, CallEvent, OutboundJob, Ticket


async def record(session: AsyncSession, *, settings: Settings, ticket: Ticket,
                 satisfaction: str, actor: str, now: datetime) -> Ticket:
    """The resident's answer, from the survey call or from staff who called by hand.

    满意/基本满意: the ticket is followed up. 不满意: it is reopened and escalated to the
    supervisor (level 2). The same answer given twice is recorded once."""
    if satisfaction not in SATISFACTIONS:
        raise FollowUpError(f"unknown satisfaction {satisfaction!r}: use one of "
                            f"{', '.join(SATISFACTIONS)}")
    if ticket.follow_up_status == "answered" and ticket.satisfaction == satisfaction:
        return ticket
    ticket.satisfaction = satisfaction
    ticket.followed_up_at = now
    ticket.follow_up_status = "answered"
    history.record(session, ticket, now=now, actor=actor, action=ANSWER_ACTION,
                   detail=satisfaction)
    await cancel_jobs(session, ticket=ticket, now=now)
    if satisfaction == "dissatisfied":
        if ticket.status in lifecycle.FINISHED:
            await lifecycle.reopen(session, settings=settings, ticket=ticket, actor=actor, now=now,
                                 reason="回访不满意")
        await escalation.escalate(session, settings=settings, ticket=ticket, now=now, level=2,
                                  actor=actor, reason="住户回访不满意")
    elif ticket.status == "resolved":
        ticket.status = "followed_up"
        history.record(session, ticket, now=now, actor=actor, action="status",
                       detail=f"resolved → followed_up: {SATISFACTION_LABELS[satisfaction]}")
    return ticket


def spoken_number(number: str) -> str:
    """`20261123-0007` is read as its last four digits, one by one: 0 0 0 7."""
    return " ".join(number.rsplit("-", 1)[-1])


def survey_gather(hotline: "Hotline", response: VoiceResponse, *, job: OutboundJob):
    return response.gather(
        num_digits=1, action=hotline.url(f"/twilio/follow-up-answer?job={job.id}"),
        method="POST", timeout=hotline.settings.gather_timeout_seconds,
        action_on_empty_result=True, input="dtmf",
    )


async def survey(session: AsyncSession, hotline: "Hotline", *, job: OutboundJob,
                 call: Call | None) -> VoiceResponse:
    """What a resident hears on a follow-up call (the dialer's entry calls this)."""
    language = call.language if call is not None and call.language else "zh"
    speaker = hotline.speaker(language)
    response = VoiceResponse()
    ticket = await session.get(Ticket, job.ticket_id) if job.ticket_id else None
    if ticket is None:
        speaker.say(response, "follow_up_goodbye")
        response.hangup()
        return response
    reported = ticket.created_at.astimezone(hotline.settings.tz)
    gather = survey_gather(hotline, response, job=job)
    speaker.say(gather, "follow_up", company=hotline.settings.company_name,
                number=ticket.number, number_spoken=spoken_number(ticket.number),
                month=reported.month, day=reported.day, date=f"{reported:%B} {reported.day}",
                category_label=lifecycle.category_label(ticket.category, language))
    speaker.say(response, "follow_up_no_answer")
    response.hangup()
    return response


async def prompts_so_far(session: AsyncSession, call_sid: str) -> int:
    return await session.scalar(
        select(func.count()).select_from(CallEvent)
        .where(CallEvent.call_sid == call_sid, CallEvent.kind == "follow-up-answer")
    ) or 0


async def answer(session: AsyncSession, hotline: "Hotline", *, job: OutboundJob | None,
                 form) -> VoiceResponse:
    """`POST /twilio/follow-up-answer?job=ID`: the resident's key (or none)."""
    response = VoiceResponse()
    call = await session.scalar(select(Call).where(Call.sid == form.get("CallSid", "")))
    speaker = hotline.speaker(call.language if call is not None and call.language else "zh")
    ticket = await session.get(Ticket, job.ticket_id) if job and job.ticket_id else None
    if job is None or job.kind != "follow_up" or ticket is None:
        speaker.say(response, "follow_up_goodbye")
        response.hangup()
        return response
    digits = (form.get("Digits") or "").strip()
    satisfaction = SATISFACTION_KEYS.get(digits)
    if satisfaction is not None:
        await record(session, settings=hotline.settings, ticket=ticket,
                     satisfaction=satisfaction, actor=ACTOR, now=hotline.now)
        if call is not None:  # the survey result per call, too (shown in /api/calls)
            call.menu_choice = satisfaction
        speaker.say(response, "follow_up_sorry" if satisfaction == "dissatisfied"
                    else "follow_up_thanks")
        speaker.say(response, "follow_up_goodbye")
        response.hangup()
        return response
    if await prompts_so_far(session, form.get("CallSid", "")) + 1 < MAX_PROMPTS:
        gather = survey_gather(hotline, response, job=job)
        speaker.say(gather, "follow_up_keys" if digits else "follow_up_again")
        speaker.say(response, "follow_up_no_answer")
        response.hangup()
        return response
    await make_manual(session, ticket=ticket, now=hotline.now, actor=ACTOR,
                      reason="回访电话接通但住户未按键，请人工回访")
    speaker.say(response, "follow_up_no_answer")
    response.hangup()
    return response

