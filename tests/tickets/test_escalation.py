"""Escalation (三级处理机制): overdue tickets climb 接待人 → 客服主管 → 主管副总经理 on a frozen clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from ivr.app import create_app
from ivr.platform.resources import SCHEDULER_PASSES
from ivr.tickets import escalation, lifecycle, scheduler
from models import Call, OutboundJob, SmsMessage, Staff, Ticket, TicketHistory
from tests.conftest import FrozenClock, local
from tests.tickets.test_tickets import DEPUTY, STAFF, SUPERVISOR, T0, new_ticket, tuned


async def run_pass(sessions, settings, now) -> dict:
    async with sessions() as session, session.begin():
        return await scheduler.run_once(session, settings=settings, now=now)


async def notices(sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        sms = (await session.scalars(select(SmsMessage).where(SmsMessage.purpose == "escalation")
                                     .order_by(SmsMessage.id))).all()
        return [(m.to, m.status) for m in sms]


async def phone_jobs(sessions) -> list[tuple[str, str, int]]:
    async with sessions() as session:
        jobs = (await session.scalars(select(OutboundJob).where(OutboundJob.kind == "escalation")
                                      .order_by(OutboundJob.id))).all()
        return [(j.phone, j.state, j.ticket_id) for j in jobs]


async def test_an_overdue_emergency_climbs_three_levels_by_sms_and_phone(sessions, settings, seed):
    await seed.staff(STAFF)
    settings = tuned(settings)
    ticket_id = await new_ticket(sessions, settings, category="emergency",
                                 resident_phone="+8613900000001", description="3栋地下室水管爆裂")

    assert (await run_pass(sessions, settings, T0 + timedelta(minutes=29)))["escalated"] == []
    assert await notices(sessions) == []

    first = await run_pass(sessions, settings, T0 + timedelta(minutes=30))
    assert first["escalated"] == ["20261123-0001"]
    assert await notices(sessions) == [(SUPERVISOR, "queued")]
    assert await phone_jobs(sessions) == [(SUPERVISOR, "queued", ticket_id)]
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        sms = await session.scalar(select(SmsMessage))
    assert ticket.escalation_level == 2
    assert ticket.due_at == T0 + timedelta(minutes=60)   # a new committed time at level 2
    assert "20261123-0001" in sms.body and "客服主管" in sms.body and "水管爆裂" in sms.body

    # The same moment again, and any moment before the new due time: nothing more.
    await run_pass(sessions, settings, T0 + timedelta(minutes=30))
    await run_pass(sessions, settings, T0 + timedelta(minutes=59))
    assert len(await notices(sessions)) == 1

    second = await run_pass(sessions, settings, T0 + timedelta(minutes=60))
    assert second["escalated"] == ["20261123-0001"]
    assert await notices(sessions) == [(SUPERVISOR, "queued"), (DEPUTY, "queued")]
    assert [p for p, _, _ in await phone_jobs(sessions)] == [SUPERVISOR, DEPUTY]

    # Level 3 is the top: hours later, still level 3 and nobody notified again.
    await run_pass(sessions, settings, T0 + timedelta(hours=5))
    assert len(await notices(sessions)) == 2
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        steps = (await session.scalars(select(TicketHistory).where(
            TicketHistory.action == "escalated").order_by(TicketHistory.id))).all()
    assert ticket.escalation_level == 3
    assert [(s.actor, s.at) for s in steps] == [("scheduler", T0 + timedelta(minutes=30)),
                                                ("scheduler", T0 + timedelta(minutes=60))]
    assert "客服主管(2) → 主管副总经理(3)" in steps[1].detail and "短信+电话" in steps[1].detail


async def test_a_complaint_escalates_by_sms_only_and_a_resolved_one_not_at_all(
        sessions, settings, seed):
    await seed.staff(STAFF)
    settings = tuned(settings)
    late = await new_ticket(sessions, settings, category="complaint")
    done = await new_ticket(sessions, settings, category="complaint")
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, done)
        await lifecycle.resolve(session, settings=settings, ticket=ticket, actor="王小姐",
                              now=T0 + timedelta(hours=20))
    result = await run_pass(sessions, settings, T0 + timedelta(hours=24))
    assert result["escalated"] == ["20261123-0001"]
    assert await notices(sessions) == [(SUPERVISOR, "queued")]
    assert await phone_jobs(sessions) == []
    async with sessions() as session:
        levels = [(await session.get(Ticket, i)).escalation_level for i in (late, done)]
    assert levels == [2, 1]


async def test_staff_marked_as_level_three_are_notified_too(sessions, settings, seed):
    await seed.staff(STAFF + [("陈副总", "13800000008", "管理处", "")])
    async with sessions() as session, session.begin():
        chen = await session.scalar(select(Staff).where(Staff.phone == "+8613800000008"))
        chen.escalation_level = 3
    settings = tuned(settings)
    await new_ticket(sessions, settings, category="repair")
    await run_pass(sessions, settings, T0 + timedelta(hours=24))
    await run_pass(sessions, settings, T0 + timedelta(hours=48))
    assert await notices(sessions) == [(SUPERVISOR, "queued"), (DEPUTY, "queued"),
                                       ("+8613800000008", "queued")]


async def test_an_emergency_caller_nobody_answered_is_escalated_by_phone(sessions, settings, seed):
    await seed.staff(STAFF)
    settings = tuned(settings, office_hours="08:00-18:00")
    night = local(2026, 11, 23, 2, 0)
    async with sessions() as session, session.begin():
        call = Call(sid="CA" + "e" * 32, from_number="+8613900000001", to_number="+862161234567",
                    started_at=night, menu_choice="emergency")
        session.add(call)
        await session.flush()
        ticket = await lifecycle.ensure_callback_ticket(session, settings=settings, now=night,
                                                      call=call, reason="留言 20 秒")
        assert ticket.category == "emergency" and ticket.needs_callback
        assert ticket.due_at == night + timedelta(minutes=30)  # not the next office opening
    await run_pass(sessions, settings, night + timedelta(minutes=31))
    assert await phone_jobs(sessions) == [(SUPERVISOR, "queued", ticket.id)]


async def test_the_scheduler_runs_inside_the_server(aiohttp_client, settings, seed, sessions):
    await seed.staff(STAFF)
    settings = tuned(settings, escalation_interval_seconds=0.05)
    ticket_id = await new_ticket(sessions, settings, category="emergency")
    clock = FrozenClock(T0 + timedelta(minutes=45))
    server = await aiohttp_client(create_app(settings, clock=clock, run_scheduler=True))
    await asyncio.wait_for(server.app[SCHEDULER_PASSES].wait_for(1), 30)
    async with sessions() as session:
        assert (await session.get(Ticket, ticket_id)).escalation_level == 2
    assert await notices(sessions) == [(SUPERVISOR, "queued")]


async def test_the_scheduler_is_off_unless_asked(client, settings, seed, sessions):
    await seed.staff(STAFF)
    ticket_id = await new_ticket(sessions, tuned(settings), category="emergency",
                                 now=T0 - timedelta(hours=3))
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert SCHEDULER_PASSES not in client.server.app  # no loop that could escalate
    async with sessions() as session:
        assert (await session.get(Ticket, ticket_id)).escalation_level == 1
    assert await notices(sessions) == []


async def test_a_ticket_at_the_top_level_stays_there_when_reopened_by_a_dissatisfied_resident(
        sessions, settings, seed):
    """The level never goes down: a 不满意 answer escalates to the supervisor (level 2),
    but a ticket the deputy general manager (level 3) already holds stays with them, and
    it is they who are told, not the supervisor as if it had gone down a level."""
    from ivr.tickets import survey

    await seed.staff(STAFF)
    settings = tuned(settings)
    ticket_id = await new_ticket(sessions, settings, category="emergency",
                                 resident_phone="+8613900000001", description="3栋地下室水管爆裂")
    await run_pass(sessions, settings, T0 + timedelta(minutes=30))
    await run_pass(sessions, settings, T0 + timedelta(minutes=60))
    told_before = len(await notices(sessions))
    later = T0 + timedelta(hours=3)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        assert ticket.escalation_level == 3
        await lifecycle.resolve(session, settings=settings, ticket=ticket, actor="王小姐",
                                now=later, note="已更换水管")
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await survey.record(session, settings=settings, ticket=ticket,
                            satisfaction="dissatisfied", actor="回访", now=later + timedelta(hours=1))
    await run_pass(sessions, settings, later + timedelta(hours=5))  # and a later pass
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        sms = (await session.scalars(select(SmsMessage).where(
            SmsMessage.purpose == escalation.SMS_PURPOSE).order_by(SmsMessage.id))).all()
        step = (await session.scalars(select(TicketHistory).where(
            TicketHistory.action == "escalated").order_by(TicketHistory.id.desc()))).first()
    assert ticket.status == "reopened" and ticket.escalation_level == 3
    told = sms[told_before:]
    assert [m.to for m in told] == [DEPUTY]
    assert "主管副总经理" in told[0].body and "客服主管" not in told[0].body
    assert "(3) → 主管副总经理(3)" in step.detail
