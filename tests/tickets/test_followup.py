"""Follow-up calls (回访): scheduled inside calling hours within 48 h; keys on the ticket;
不满意 reopens and escalates; unreached becomes a task for staff; the rates in /api/stats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.app import create_app
from ivr.platform.hotline import Hotline
from ivr.platform.scripts import CallScripts
from ivr.tickets import escalation, followup, lifecycle, reports, scheduler, survey
from models import Call, OutboundJob, SmsMessage, Ticket
from tests.conftest import local
from tests.tickets.test_tickets import STAFF, SUPERVISOR, T0, bearer, new_ticket, token, tuned  # noqa: F401
from tests.twilio_client import Twilio, TwiML, new_sid


async def resolve(sessions, settings, ticket_id: int, now) -> OutboundJob | None:
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await lifecycle.resolve(session, settings=settings, ticket=ticket, actor="李先生", now=now)
        return await session.scalar(select(OutboundJob).where(OutboundJob.ticket_id == ticket_id,
                                                              OutboundJob.state == "queued"))


async def resolved_complaint(sessions, settings, *, created=T0, resolved=None,
                             category="complaint") -> tuple[int, OutboundJob]:
    ticket_id = await new_ticket(sessions, settings, now=created, category=category,
                                 resident_phone="+8613900000001", description="楼道灯不亮")
    job = await resolve(sessions, settings, ticket_id, resolved or created + timedelta(hours=2))
    return ticket_id, job


@pytest.mark.parametrize("resolved, call_at", [
    (local(2026, 11, 23, 10, 0), local(2026, 11, 23, 11, 0)),   # inside hours: an hour later
    (local(2026, 11, 23, 18, 59), local(2026, 11, 23, 19, 59)),  # just inside
    (local(2026, 11, 23, 19, 30), local(2026, 11, 24, 9, 0)),   # would be 20:30: next morning
    (local(2026, 11, 23, 7, 0), local(2026, 11, 23, 9, 0)),     # 08:00 is too early
    (local(2026, 11, 23, 8, 30), local(2026, 11, 23, 9, 30)),
    (local(2026, 11, 23, 23, 50), local(2026, 11, 24, 9, 0)),
])
async def test_the_follow_up_call_waits_for_calling_hours(sessions, settings, resolved, call_at):
    ticket_id, job = await resolved_complaint(sessions, settings, created=resolved - timedelta(hours=1),
                                              resolved=resolved)
    assert (job.kind, job.phone, job.state) == ("follow_up", "+8613900000001", "queued")
    assert job.due_at == call_at and job.next_attempt_at == call_at
    assert job.not_after == resolved + timedelta(hours=48)
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
    assert ticket.follow_up_status == "scheduled"
    assert ticket.follow_up_due_at == resolved + timedelta(hours=48)


async def test_the_ticket_history_says_when_the_follow_up_call_is_due_in_local_time(sessions, settings):
    """Staff read the ticket's history in Beijing time (the server's clock runs in UTC)."""
    ticket_id, job = await resolved_complaint(sessions, settings, created=local(2026, 11, 23, 18, 0),
                                              resolved=local(2026, 11, 23, 19, 30))
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        view = await lifecycle.ticket_view(session, ticket, settings=settings, with_history=True)
    [step] = [h for h in view["history"] if h["action"] == "follow_up_scheduled"]
    assert step["detail"] == f"回访电话 2026-11-24 09:00 起拨打，2026-11-25 19:30 前完成（任务 {job.id}）"


async def test_delay_and_calling_hours_are_configurable(sessions, settings):
    settings = settings.model_copy(update={"follow_up_delay_minutes": 180,
                                           "calling_hours": "10:00-18:00"})
    _, job = await resolved_complaint(sessions, settings, created=local(2026, 11, 23, 14, 0),
                                      resolved=local(2026, 11, 23, 15, 30))
    assert job.due_at == local(2026, 11, 24, 10, 0)


async def test_only_repairs_and_complaints_are_followed_up(sessions, settings):
    for category, wanted in (("repair", True), ("emergency", True), ("inquiry", False),
                             ("callback", False)):
        _, job = await resolved_complaint(sessions, settings, category=category)
        assert (job is not None) == wanted, category


async def test_without_a_phone_the_follow_up_is_for_staff_at_once(sessions, settings):
    ticket_id = await new_ticket(sessions, settings, category="repair")
    assert await resolve(sessions, settings, ticket_id, T0 + timedelta(hours=1)) is None
    async with sessions() as session:
        assert (await session.get(Ticket, ticket_id)).follow_up_status == "manual"


async def test_the_survey_names_the_ticket_and_asks_for_the_keys(sessions, settings):
    _, job = await resolved_complaint(sessions, settings)
    hotline = Hotline(settings=settings, scripts=CallScripts(), now=T0 + timedelta(hours=3))
    async with sessions() as session:
        twiml = TwiML.parse(200, str(await survey.survey(session, hotline, job=job, call=None)))
    gather = twiml.find("Gather")
    assert gather.get("action") == f"https://hotline.example.com/twilio/follow-up-answer?job={job.id}"
    assert gather.get("numDigits") == "1"
    spoken = twiml.spoken
    assert "阳光花园物业客服中心" in spoken and "0 0 0 1" in spoken and "11月23日" in spoken
    assert "满意请按1，基本满意请按2，不满意请按3" in spoken
    assert twiml.find("Hangup") is not None


def answer_params(sid: str, digits: str | None) -> dict:
    params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+862161234567",
              "To": "+8613900000001", "CallStatus": "in-progress", "Direction": "outbound-api"}
    if digits is not None:
        params["Digits"] = digits
    return params


@pytest.fixture
async def supervised(aiohttp_client, settings, clock, seed):
    """The server with a supervisor configured at level 2, and its signed Twilio client."""
    await seed.staff(STAFF)
    settings = tuned(settings)
    client = await aiohttp_client(create_app(settings, clock=clock))
    return settings, Twilio(client)


async def test_dissatisfied_reopens_the_ticket_and_escalates_it_to_the_supervisor(
        supervised, sessions, clock):
    settings, twilio = supervised
    ticket_id, job = await resolved_complaint(sessions, settings)
    clock.set(T0 + timedelta(hours=4))
    sid = new_sid()
    path = f"/twilio/follow-up-answer?job={job.id}"
    twiml = await twilio.post(path, answer_params(sid, "3"))
    assert twiml.status == 200
    assert "非常抱歉" in twiml.spoken and twiml.find("Hangup") is not None
    retried = await twilio.post(path, answer_params(sid, "3"))   # Twilio retries the webhook
    assert retried.text == twiml.text
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        sms = (await session.scalars(select(SmsMessage))).all()
        view = await lifecycle.ticket_view(session, ticket, settings=settings, with_history=True)
    assert (ticket.status, ticket.satisfaction, ticket.escalation_level) == ("reopened", "dissatisfied", 2)
    assert ticket.due_at == T0 + timedelta(hours=28)
    assert [(m.to, m.purpose) for m in sms] == [(SUPERVISOR, "escalation")]
    assert "不满意" in sms[0].body
    assert view["follow_up"]["status"] == "answered"
    actions = [h["action"] for h in view["history"]]
    assert actions.count("follow_up_answer") == 1 and actions.count("escalated") == 1
    assert "resolved → reopened: 回访不满意" in [h["detail"] for h in view["history"]]


@pytest.mark.parametrize("key, satisfaction", [("1", "satisfied"), ("2", "neutral")])
async def test_satisfied_or_neutral_marks_the_ticket_followed_up(supervised, sessions, clock,
                                                                 key, satisfaction):
    settings, twilio = supervised
    ticket_id, job = await resolved_complaint(sessions, settings)
    clock.set(T0 + timedelta(hours=5))
    sid = new_sid()
    async with sessions() as session, session.begin():  # the dialer's row for its call
        session.add(Call(sid=sid, direction="outbound", from_number="+862161234567",
                         to_number="+8613900000001", started_at=clock(), outbound_job_id=job.id))
    twiml = await twilio.post(f"/twilio/follow-up-answer?job={job.id}", answer_params(sid, key))
    assert "感谢您的评价" in twiml.spoken
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        sms = (await session.scalars(select(SmsMessage))).all()
        call = await session.scalar(select(Call).where(Call.sid == sid))
    assert call.menu_choice == satisfaction
    assert (ticket.status, ticket.satisfaction, ticket.escalation_level) == ("followed_up", satisfaction, 1)
    assert ticket.followed_up_at == T0 + timedelta(hours=5)
    assert sms == []


async def test_wrong_or_no_keys_are_asked_again_then_left_to_staff(supervised, sessions, clock):
    settings, twilio = supervised
    ticket_id, job = await resolved_complaint(sessions, settings)
    sid, path = new_sid(), f"/twilio/follow-up-answer?job={job.id}"
    wrong = await twilio.post(path, answer_params(sid, "7"))
    assert "您按的键无效" in wrong.spoken and wrong.find("Gather") is not None
    silent = await twilio.post(path, answer_params(sid, ""))
    assert "请您对本次处理结果作出评价" in silent.spoken and silent.find("Gather") is not None
    last = await twilio.post(path, answer_params(sid, ""))
    assert last.find("Gather") is None and "客服人员会再与您联系" in last.spoken
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
    assert (ticket.status, ticket.follow_up_status, ticket.satisfaction) == ("resolved", "manual", None)


async def test_an_unknown_job_gets_a_polite_hang_up(supervised):
    _, twilio = supervised
    twiml = await twilio.post("/twilio/follow-up-answer?job=99999", answer_params(new_sid(), "3"))
    assert twiml.status == 200 and twiml.find("Hangup") is not None


async def test_an_unsigned_answer_is_refused_and_changes_nothing(supervised, sessions):
    settings, twilio = supervised
    ticket_id, job = await resolved_complaint(sessions, settings)
    forged = await twilio.post(f"/twilio/follow-up-answer?job={job.id}",
                               answer_params(new_sid(), "3"), signature="forged")
    assert forged.status == 403
    async with sessions() as session:
        assert (await session.get(Ticket, ticket_id)).status == "resolved"


async def test_a_follow_up_the_dialer_gave_up_on_is_a_task_for_staff(sessions, settings):
    ticket_id, job = await resolved_complaint(sessions, settings)
    async with sessions() as session, session.begin():
        job = await session.get(OutboundJob, job.id)
        job.attempts = 3
        await followup.unreached(session, job=job, now=T0 + timedelta(hours=30))
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        count = await reports.daily(session, settings=settings, at=T0 + timedelta(hours=31))
    assert ticket.follow_up_status == "manual"
    assert [t["number"] for t in count["manual_follow_ups"]] == [ticket.number]
    assert count["manual_follow_ups"][0]["resident_phone"] == "+8613900000001"


async def test_staff_record_a_follow_up_made_by_hand(sessions, settings):
    ticket_id, job = await resolved_complaint(sessions, settings)
    async with sessions() as session, session.begin():
        job = await session.get(OutboundJob, job.id)
        await followup.unreached(session, job=job, now=T0 + timedelta(hours=30))
        ticket = await session.get(Ticket, ticket_id)
        await survey.record(session, settings=settings, ticket=ticket, satisfaction="satisfied",
                              actor="王小姐", now=T0 + timedelta(hours=31))
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        count = await reports.daily(session, settings=settings, at=T0 + timedelta(hours=32))
    assert (ticket.status, ticket.follow_up_status) == ("followed_up", "answered")
    assert count["manual_follow_ups"] == []


async def test_a_follow_up_not_made_within_48_hours_becomes_a_task_for_staff(sessions, settings):
    resolved = T0 + timedelta(hours=2)
    ticket_id, _ = await resolved_complaint(sessions, settings, resolved=resolved)
    async with sessions() as session, session.begin():
        early = await scheduler.run_once(session, settings=settings,
                                          now=resolved + timedelta(hours=47, minutes=59))
    async with sessions() as session, session.begin():
        late = await scheduler.run_once(session, settings=settings,
                                         now=resolved + timedelta(hours=48))
    assert early["follow_ups_unreached"] == [] and late["follow_ups_unreached"] == ["20261123-0001"]
    async with sessions() as session:
        assert (await session.get(Ticket, ticket_id)).follow_up_status == "manual"


async def test_follow_up_and_satisfaction_rates_are_in_the_stats(client, token, sessions,  # noqa: F811
                                                                 settings, clock):
    answers = ["satisfied", "neutral", "dissatisfied", None]
    for index, answer in enumerate(answers):
        ticket_id, _ = await resolved_complaint(sessions, settings,
                                                created=T0 + timedelta(minutes=index))
        if answer:
            async with sessions() as session, session.begin():
                ticket = await session.get(Ticket, ticket_id)
                await survey.record(session, settings=settings, ticket=ticket,
                                      satisfaction=answer, actor="回访电话",
                                      now=T0 + timedelta(hours=6))
    # One answered too late: after its 48 hours.
    late_id, _ = await resolved_complaint(sessions, settings, created=T0 + timedelta(minutes=9))
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, late_id)
        await survey.record(session, settings=settings, ticket=ticket, satisfaction="satisfied",
                              actor="王小姐", now=T0 + timedelta(hours=60))
    # While their 48 hours run, the five are pending: in neither part of the rate.
    clock.set(T0 + timedelta(hours=47))
    resp = await client.get("/api/stats?from=2026-11-23&to=2026-11-25", headers=bearer(token))
    stats = await resp.json()
    assert (stats["follow_ups_due"], stats["follow_ups_pending"]) == (0, 5)
    assert stats["follow_up_rate"] is None
    clock.set(T0 + timedelta(hours=72))
    resp = await client.get("/api/stats?from=2026-11-23&to=2026-11-25", headers=bearer(token))
    stats = await resp.json()
    assert stats["follow_ups_pending"] == 0
    assert stats["follow_ups_due"] == 5 and stats["followed_up_within_48h"] == 3
    assert stats["follow_up_rate"] == 0.6
    assert (stats["satisfied"], stats["neutral"], stats["dissatisfied"]) == (2, 1, 1)
    assert stats["satisfaction_rate"] == 0.75 and stats["satisfaction_target"] == 0.85
    empty = await (await client.get("/api/stats?from=2026-10-01&to=2026-10-02",
                                    headers=bearer(token))).json()
    assert empty["follow_up_rate"] is None and empty["satisfaction_rate"] is None
