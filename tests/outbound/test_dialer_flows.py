"""What the called party hears and does: reminders (person or machine), callbacks through
a staff phone, emergency escalations and follow-up surveys."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from ivr.outbound import campaigns, jobs
from ivr.outbound import dialer as dialing
from ivr.tickets import lifecycle, reports
from models import Attempt, OutboundJob, Ticket, TicketHistory
from tests.conftest import local
from tests.fake_twilio import fake_twilio, outbound, outbound_settings, second_sessions  # noqa: F401
from tests.twilio_client import HOTLINE, Caller, StaffPhone, new_sid

LI = ("李阿姨", "13900000001", "3栋2单元501", "1280.50")
STAFF = [("王小姐", "13800000001", "客服部", "08:00-18:00"),
         ("陈先生", "13800000002", "客服部", "08:00-18:00")]


async def start_campaign(outbound) -> int:
    async with outbound.sessions() as session, session.begin():
        return (await campaigns.start(session, settings=outbound.settings, now=outbound.clock(),
                                      created_by="test")).id


async def one_job(outbound) -> OutboundJob:
    async with outbound.sessions() as session:
        return await session.scalar(select(OutboundJob).order_by(OutboundJob.id.desc()))


async def history(outbound, ticket_id: int) -> list[TicketHistory]:
    async with outbound.sessions() as session:
        return list((await session.scalars(select(TicketHistory).where(
            TicketHistory.ticket_id == ticket_id).order_by(TicketHistory.id))).all())


async def test_a_person_hears_address_and_amount_and_can_repeat_or_reach_a_person(outbound, seed):
    await seed.residents([LI])
    await seed.staff(STAFF)
    campaign_id = await start_campaign(outbound)
    await outbound.dialer().run_once()
    [call] = outbound.calls()
    twiml = await call.answer(outbound.clock(), answered_by="human")
    gather = twiml.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    text = gather.find("Say").text
    assert "3栋2单元501" in text and "1280.50元" in text
    assert "重听请按1" in text and "转人工客服请按0" in text
    again = await outbound.twilio.follow(gather.get("action"), call.params(Digits="1"))
    assert "1280.50元" in again.find("Gather").find("Say").text
    person = await outbound.twilio.follow(gather.get("action"), call.params(Digits="0"))
    dial = person.find("Dial")
    assert dial.find("Number").text == "+8613800000001"
    assert dial.get("callerId") == HOTLINE          # the hotline, not the resident's number
    await call.end("completed", outbound.clock(), duration=60)
    job = await one_job(outbound)
    assert job.state == "done" and job.outcome == "reached"
    data = await campaigns_report(outbound, campaign_id)
    assert data["reached"] == 1 and data["coverage"] == 1.0


async def campaigns_report(outbound, campaign_id):
    async with outbound.sessions() as session:
        return await campaigns.report(session, campaign_id=campaign_id)


async def test_an_answering_machine_gets_a_short_message_then_hang_up(outbound, seed):
    await seed.residents([LI])
    campaign_id = await start_campaign(outbound)
    await outbound.dialer().run_once()
    [call] = outbound.calls()
    twiml = await call.answer(outbound.clock(), answered_by="machine_end_beep")
    assert twiml.find("Gather") is None
    assert "1280.50元" in twiml.spoken and "3栋2单元501" in twiml.spoken
    assert twiml.root[-1].tag == "Hangup"
    await call.end("completed", outbound.clock(), duration=15)
    data = await campaigns_report(outbound, campaign_id)
    assert data["message_left"] == 1 and data["reached"] == 0 and data["coverage"] == 1.0
    async with outbound.sessions() as session:
        attempt = await session.scalar(select(Attempt))
    assert attempt.answered_by == "machine_end_beep" and attempt.result == "message_left"


async def inbound_message_at(outbound, moment, key: str = "0") -> int:
    """A resident calls, nobody is on duty, a message is left: the ticket's id."""
    outbound.clock.set(moment)
    caller = Caller(outbound.twilio, from_number="+8613900000001")
    await caller.dial_in()
    await caller.press(key)
    await outbound.twilio.post("/twilio/message", caller.params(
        RecordingUrl="https://api.twilio.com/rec/RE1", RecordingDuration="12"))
    # The call ends: a staff phone it rang is free again (ivr.calls.presence).
    await caller.hangup(at=moment + timedelta(seconds=40), duration=40)
    async with outbound.sessions() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.needs_callback.is_(True)))
    return ticket.id


async def test_a_message_is_called_back_in_office_hours_staff_first_then_the_resident(outbound, seed):
    await seed.residents([LI])
    await seed.staff(STAFF)
    ticket_id = await inbound_message_at(outbound, local(2026, 11, 23, 20, 0))
    dialer = outbound.dialer()
    assert await dialer.run_once() == 0                 # office hours are 08:00-18:00
    outbound.clock.set(local(2026, 11, 24, 8, 0))
    assert await dialer.run_once() == 1
    [to_staff] = outbound.calls()
    assert to_staff.call["to"] == "+8613800000001"      # the staff member on duty rings first
    screen = await to_staff.answer(outbound.clock())
    prompt = screen.find("Gather").find("Say").text
    assert "回电" in prompt and "1 3 9 0 0 0 0 0 0 0 1" in prompt and "3栋2单元501" in prompt
    assert "接通业主请按1" in prompt
    accepted = await outbound.twilio.follow(screen.find("Gather").get("action"),
                                            to_staff.params(Digits="1"))
    number = accepted.find("Dial").find("Number")
    assert number.text == "+8613900000001"
    greeting = await outbound.twilio.follow(number.get("url"), to_staff.params(
        CallSid=new_sid(), ParentCallSid=to_staff.sid, Direction="outbound-dial"))
    assert greeting.spoken == "您好，这里是阳光花园物业客服中心，您刚才来电，现在为您回电。"
    await outbound.twilio.follow(accepted.find("Dial").get("action"), to_staff.params(
        DialCallStatus="completed", DialBridged="true", DialCallSid=new_sid()))
    await to_staff.end("completed", outbound.clock(), duration=120)
    job = await one_job(outbound)
    assert job.state == "done" and job.outcome == "reached" and job.ticket_id == ticket_id
    async with outbound.sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
    assert ticket.status == "resolved" and ticket.owner_staff_id is not None
    details = [h.detail for h in await history(outbound, ticket_id)]
    assert any("第1次回电：已接通" in d for d in details)


async def test_a_callback_never_rings_a_staff_member_talking_on_the_hotline(outbound, seed):
    await seed.residents([LI])
    await seed.staff(STAFF)
    outbound.clock.set(local(2026, 11, 24, 9, 0))
    talking = Caller(outbound.twilio, from_number="+8613900000099")
    await talking.dial_in()
    await talking.press("0")
    dial = talking.last.find("Dial")
    assert dial.find("Number").text == "+8613800000001"
    phone = StaffPhone(outbound.twilio, talking, dial, dial.find("Number"))
    await phone.event("in-progress", outbound.clock())
    await phone.pick_up_and_screen("1")              # 王小姐 is talking to a resident
    await inbound_message_at(outbound, local(2026, 11, 24, 9, 1))
    await outbound.dialer().run_once()
    [to_staff] = outbound.calls()
    assert to_staff.call["to"] == "+8613800000002"


async def test_a_complaint_called_back_stays_open_with_the_staff_member_who_called(outbound, seed):
    await seed.residents([LI])
    await seed.staff(STAFF)
    ticket_id = await inbound_message_at(outbound, local(2026, 11, 24, 10, 0), key="2")
    await outbound.dialer().run_once()
    [to_staff] = outbound.calls()
    screen = await to_staff.answer(outbound.clock())
    accepted = await outbound.twilio.follow(screen.find("Gather").get("action"),
                                            to_staff.params(Digits="1"))
    await outbound.twilio.follow(accepted.find("Dial").get("action"), to_staff.params(
        DialCallStatus="completed", DialBridged="true", DialCallSid=new_sid()))
    await to_staff.end("completed", outbound.clock(), duration=120)
    async with outbound.sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        daily = await reports.daily(session, settings=outbound.settings, at=outbound.clock())
    assert ticket.category == "complaint" and not ticket.needs_callback
    assert ticket.status == "open" and ticket.owner_staff_id is not None  # the work goes on
    assert daily["callbacks_to_make"] == []


async def test_a_callback_the_dialer_gave_up_on_is_on_the_daily_count(outbound, seed):
    await seed.residents([LI])
    await seed.staff(STAFF)
    ticket_id = await inbound_message_at(outbound, local(2026, 11, 24, 10, 0), key="2")
    async with outbound.sessions() as session, session.begin():
        [job] = await jobs.queue_callbacks(session, settings=outbound.settings, now=outbound.clock())
        assert (await reports.daily(session, settings=outbound.settings,
                                    at=outbound.clock()))["callbacks_to_make"] == []
        await jobs.finish_job(session, job, state="exhausted", outcome="exhausted",
                              now=outbound.clock())
    async with outbound.sessions() as session:
        daily = await reports.daily(session, settings=outbound.settings, at=outbound.clock())
        ticket = await session.get(Ticket, ticket_id)
    assert [t["number"] for t in daily["callbacks_to_make"]] == [ticket.number]
    assert f"待人工回电1件：{ticket.number}" in reports.sms_daily(daily, settings=outbound.settings)


async def test_a_staff_member_who_does_not_press_1_passes_the_callback_to_the_next(outbound, seed):
    await seed.residents([LI])
    await seed.staff(STAFF)
    await inbound_message_at(outbound, local(2026, 11, 24, 9, 0))
    dialer = outbound.dialer()
    await dialer.run_once()
    [first] = outbound.calls()
    await first.answer(outbound.clock(), answered_by="machine_start")  # voicemail: hang up
    await first.end("completed", outbound.clock(), duration=3)
    outbound.clock.advance(jobs.STAFF_RETRY_MINUTES * 60)
    await dialer.run_once()
    second = outbound.calls()[-1]
    assert second.call["to"] == "+8613800000002"
    async with outbound.sessions() as session:
        job = await session.scalar(select(OutboundJob))
        assert await jobs.counted_attempts(session, job) == 0   # the resident was not called yet


async def test_a_resident_who_does_not_answer_the_callback_is_tried_again(outbound, seed):
    await seed.residents([LI])
    await seed.staff(STAFF)
    ticket_id = await inbound_message_at(outbound, local(2026, 11, 24, 9, 0))
    dialer = outbound.dialer()
    await dialer.run_once()
    [to_staff] = outbound.calls()
    screen = await to_staff.answer(outbound.clock())
    accepted = await outbound.twilio.follow(screen.find("Gather").get("action"),
                                            to_staff.params(Digits="1"))
    unreached = await outbound.twilio.follow(accepted.find("Dial").get("action"),
                                             to_staff.params(DialCallStatus="no-answer"))
    assert "业主暂时未接听" in unreached.spoken
    await to_staff.end("completed", outbound.clock(), duration=40)
    job = await one_job(outbound)
    assert job.state == "queued" and job.outcome == "no-answer"
    details = [h.detail for h in await history(outbound, ticket_id)]
    assert any("第1次回电：无人接听" in d for d in details)


async def test_an_emergency_escalation_speaks_the_ticket_twice(outbound, seed):
    await seed.residents([LI])
    async with outbound.sessions() as session, session.begin():
        ticket = await lifecycle.create_ticket(session, settings=outbound.settings,
                                             now=outbound.clock(), category="emergency",
                                             actor="test", resident_phone="+8613900000001",
                                             description="水管爆裂")
        await jobs.queue_job(session, kind="escalation", phone="+8613700000009",
                                now=outbound.clock(), ticket_id=ticket.id)
        number = ticket.number
    outbound.clock.set(local(2026, 11, 24, 2, 0))       # escalations ring at any hour
    await outbound.dialer().run_once()
    [call] = outbound.calls()
    twiml = await call.answer(outbound.clock())
    says = twiml.says()
    assert len(says) == 2 and says[0] == says[1]
    assert number in says[0] and "紧急维修" in says[0]


async def test_a_follow_up_answered_by_a_person_gets_the_survey(outbound, seed):
    await seed.residents([LI])
    async with outbound.sessions() as session, session.begin():
        ticket = await lifecycle.create_ticket(session, settings=outbound.settings,
                                             now=outbound.clock(), category="repair",
                                             actor="test", resident_phone="+8613900000001",
                                             description="灯坏了")
        await jobs.queue_job(session, kind="follow_up", phone="+8613900000001",
                                now=outbound.clock(), ticket_id=ticket.id)
    await outbound.dialer().run_once()
    [call] = outbound.calls()
    twiml = await call.answer(outbound.clock())
    gather = twiml.find("Gather")
    assert gather is not None and "/twilio/follow-up-answer" in gather.get("action")


async def test_a_follow_up_never_answered_becomes_a_manual_task(outbound, seed):
    await seed.residents([LI])
    async with outbound.sessions() as session, session.begin():
        ticket = await lifecycle.create_ticket(session, settings=outbound.settings,
                                             now=outbound.clock(), category="repair",
                                             actor="test", resident_phone="+8613900000001")
        ticket.follow_up_status = "scheduled"
        await jobs.queue_job(session, kind="follow_up", phone="+8613900000001",
                                now=outbound.clock(), ticket_id=ticket.id)
        ticket_id = ticket.id
    dialer = outbound.dialer(dialer_max_attempts=1)
    outbound.settings.__dict__.update(dialer_max_attempts=1)
    await dialer.run_once()
    [call] = outbound.calls()
    await call.end("no-answer", outbound.clock())
    async with outbound.sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        job = await session.scalar(select(OutboundJob))
    assert job.state == "exhausted"
    assert ticket.follow_up_status == "manual"


async def test_a_message_left_on_a_reminder_call_is_called_back_to_the_resident(outbound, seed):
    await seed.residents([LI])
    await start_campaign(outbound)
    dialer = outbound.dialer()
    await dialer.run_once()
    [call] = outbound.calls()
    twiml = await call.answer(outbound.clock())
    nobody = await outbound.twilio.follow(twiml.find("Gather").get("action"), call.params(Digits="0"))
    record = nobody.find("Record")                   # nobody on duty: leave a message
    assert record is not None
    await outbound.twilio.follow(record.get("action"), call.params(
        RecordingUrl="https://api.twilio.com/rec/RE2", RecordingDuration="9"))
    await dialer.run_once()
    async with outbound.sessions() as session:
        job = await session.scalar(select(OutboundJob).where(OutboundJob.kind == "callback"))
    assert job is not None and job.phone == "+8613900000001"   # not our own hotline


async def test_a_wrong_staff_phone_does_not_lose_the_callback(outbound, seed):
    await seed.residents([LI])
    await seed.staff(STAFF)
    outbound.fake.invalid_numbers.add("+8613800000001")
    await inbound_message_at(outbound, local(2026, 11, 24, 9, 0))
    dialer = outbound.dialer()
    await dialer.run_once()
    job = await one_job(outbound)
    assert job.state == "queued"                       # not failed: the resident is fine
    outbound.clock.advance(jobs.STAFF_RETRY_MINUTES * 60)
    await dialer.run_once()
    assert outbound.calls()[-1].call["to"] == "+8613800000002"


async def test_two_dialers_give_a_callback_ticket_one_job_and_one_call(outbound, seed, second_sessions):
    await seed.residents([LI])
    await seed.staff(STAFF)
    await inbound_message_at(outbound, local(2026, 11, 24, 9, 0))
    one, two = outbound.dialer(), outbound.dialer(sessions=second_sessions)
    for _ in range(3):
        await asyncio.gather(one.run_once(), two.run_once())
    async with outbound.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboundJob)) == 1
    assert len(outbound.fake.creates()) == 1


async def test_a_reminder_answered_after_the_household_paid_thanks_them_not_the_arrears(
        outbound, seed):
    """李阿姨 pays at the desk (the residents file imported again with her arrears 0) while
    her reminder is already ringing: she is thanked, never told an amount, and the
    campaign counts her as paid, not as a household reminded of arrears."""
    await seed.residents([LI])
    campaign_id = await start_campaign(outbound)
    await outbound.dialer().run_once()
    [call] = outbound.calls()
    await seed.residents([(LI[0], LI[1], LI[2], "0")])    # paid while the phone rang
    twiml = await call.answer(outbound.clock(), answered_by="human")
    assert "已经缴清" in twiml.spoken and "感谢" in twiml.spoken
    assert "尚欠" not in twiml.spoken and "元" not in twiml.spoken
    assert twiml.find("Gather") is None and twiml.root[-1].tag == "Hangup"
    await call.end("completed", outbound.clock(), duration=10)
    data = await campaigns_report(outbound, campaign_id)
    assert data["paid_meanwhile"] == 1 and data["households_in_arrears"] == 0
    assert data["reached"] == 0 and data["not_reached"] == [] and data["pending"] == 0
    assert await outbound.dialer().run_once() == 0         # and she is not called again


async def test_an_answering_machine_after_the_household_paid_is_not_told_of_arrears(outbound, seed):
    await seed.residents([LI])
    campaign_id = await start_campaign(outbound)
    await outbound.dialer().run_once()
    [call] = outbound.calls()
    await seed.residents([(LI[0], LI[1], LI[2], "0")])
    twiml = await call.answer(outbound.clock(), answered_by="machine_end_beep")
    assert "尚欠" not in twiml.spoken and "0.00" not in twiml.spoken
    assert "已经缴清" in twiml.spoken
    await call.end("completed", outbound.clock(), duration=10)
    data = await campaigns_report(outbound, campaign_id)
    assert data["paid_meanwhile"] == 1 and data["message_left"] == 0


async def test_with_everyone_tried_the_callback_goes_round_again(outbound, seed):
    """One person on duty, their phone went to voicemail: the callback is not dropped for
    want of someone untried; it rings them again when it is due."""
    await seed.residents([LI])
    await seed.staff(STAFF[:1])
    await inbound_message_at(outbound, local(2026, 11, 24, 9, 0))
    dialer = outbound.dialer()
    await dialer.run_once()
    [first] = outbound.calls()
    await first.answer(outbound.clock(), answered_by="machine_start")
    await first.end("completed", outbound.clock(), duration=3)
    outbound.clock.advance(jobs.STAFF_RETRY_MINUTES * 60)
    await dialer.run_once()
    assert [c.call["to"] for c in outbound.calls()] == ["+8613800000001"] * 2


async def resolved_with_follow_up(outbound) -> int:
    """A repair ticket for 李阿姨 resolved at 10:00 on 24 November: its 回访 call queued."""
    outbound.clock.set(local(2026, 11, 24, 10, 0))
    async with outbound.sessions() as session, session.begin():
        ticket = await lifecycle.create_ticket(session, settings=outbound.settings,
                                               now=outbound.clock(), category="repair",
                                               actor="test", resident_phone="+8613900000001")
        await lifecycle.resolve(session, settings=outbound.settings, ticket=ticket,
                                actor="王小姐", now=outbound.clock())
        return ticket.id


async def test_a_follow_up_the_dialer_gave_up_on_tells_the_supervisor_how_often_it_rang(
        outbound, seed):  # noqa: F811
    """A resolved ticket's 回访 rung twice without an answer: the ticket's history, in the
    dialer's name, says it was tried twice and must now be made by hand."""
    await seed.residents([LI])
    ticket_id = await resolved_with_follow_up(outbound)
    outbound.settings.__dict__.update(dialer_max_attempts=2, dialer_attempts_per_day=2)
    dialer = outbound.dialer(dialer_max_attempts=2, dialer_attempts_per_day=2)
    for _ in range(2):
        outbound.clock.advance(2 * 3600)
        assert await dialer.run_once() == 1
        await outbound.calls()[-1].end("no-answer", outbound.clock())
    last = (await history(outbound, ticket_id))[-1]
    assert (last.actor, last.action) == ("dialer", "follow_up_unreached")
    assert last.detail == "回访电话未接通（2 次），请人工回访"


async def test_a_follow_up_past_a_lowered_attempt_limit_goes_to_a_person_not_another_call(
        outbound, seed):  # noqa: F811
    """The centre lowers `IVR_DIALER_MAX_ATTEMPTS` while a follow-up waits for its next
    try: the resident is not rung again, and the ticket's 回访 goes to staff."""
    await seed.residents([LI])
    ticket_id = await resolved_with_follow_up(outbound)
    outbound.clock.advance(2 * 3600)
    assert await outbound.dialer().run_once() == 1
    await outbound.calls()[-1].end("no-answer", outbound.clock())
    outbound.settings.__dict__.update(dialer_max_attempts=1)
    outbound.clock.advance(2 * 3600)
    assert await outbound.dialer(dialer_max_attempts=1).run_once() == 0
    assert len(outbound.fake.creates()) == 1
    async with outbound.sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
    assert ticket.follow_up_status == "manual"
