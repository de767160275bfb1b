"""Escalation's finer rules, as the supervisor reads them in the SMS and on the ticket.

The oldest overdue ticket goes up first; a level is never skipped past 3 nor lowered; the
SMS names the centre, the ticket, its category, the reason, the resident's phone, the
first 60 characters of the description on one line and the new due time in local time.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.tickets import escalation, scheduler
from models import OutboundJob, Resident, SmsMessage, Ticket, TicketHistory
from tests.tickets.test_tickets import DEPUTY, STAFF, SUPERVISOR, T0, new_ticket, tuned


@pytest.fixture
async def tuned_settings(settings, seed):
    """The staff of `test_tickets` on shift, and the settings with the escalation
    contacts configured (level 2: 张主管, a staff member; level 3: a phone only)."""
    await seed.staff(STAFF)
    return tuned(settings)


async def escalate_to(sessions, settings, ticket_id: int, *, level: int, at) -> list[str]:
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        people = await escalation.escalate(session, settings=settings, ticket=ticket, now=at,
                                           level=level, actor="张主管", reason="住户催办")
        return [p.phone for p in people]


async def ticket_and_steps(sessions, ticket_id: int) -> tuple[Ticket, list[str]]:
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        steps = (await session.scalars(select(TicketHistory.detail).where(
            TicketHistory.ticket_id == ticket_id, TicketHistory.action == "escalated")
            .order_by(TicketHistory.id))).all()
    return ticket, list(steps)


async def sms_bodies(sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = (await session.scalars(select(SmsMessage).order_by(SmsMessage.id))).all()
    return [(m.to, m.body) for m in rows]


async def test_the_oldest_overdue_ticket_is_escalated_first(sessions, tuned_settings):
    # Opened first but a complaint (due in 24 h); opened later but an emergency (30 min).
    later = await new_ticket(sessions, tuned_settings, category="complaint")
    sooner = await new_ticket(sessions, tuned_settings, category="emergency", now=T0 + timedelta(hours=1))
    async with sessions() as session, session.begin():
        result = await scheduler.run_once(session, settings=tuned_settings, now=T0 + timedelta(days=2))
    assert result["escalated"] == ["20261123-0002", "20261123-0001"]
    async with sessions() as session:
        order = (await session.scalars(select(SmsMessage.ticket_id).order_by(SmsMessage.id))).all()
    assert list(order) == [sooner, later]


async def test_the_sms_says_what_where_and_by_when_in_local_time(sessions, tuned_settings):
    description = "3栋\n地下室水管爆裂，" + "水" * 80
    ticket_id = await new_ticket(sessions, tuned_settings, category="repair",
                                 resident_phone="+8613900000001", description=description)
    at = T0 + timedelta(hours=20)  # 06:00 UTC on the 24th; the repair's 24 h end on the 25th
    await escalate_to(sessions, tuned_settings, ticket_id, level=2, at=at)
    [(to, body)] = await sms_bodies(sessions)
    assert to == SUPERVISOR
    expected_what = ("3栋 地下室水管爆裂，" + "水" * 80)[:60]
    assert body == ("【阳光花园物业客服中心】工单20261123-0001（维修）住户催办，已升级至客服主管。"
                    f"住户+8613900000001，{expected_what}。请于11-25 06:00前跟进处理。")


async def test_an_sms_without_a_resident_phone_leaves_the_phone_out(sessions, tuned_settings):
    ticket_id = await new_ticket(sessions, tuned_settings, category="complaint", description="  噪音  ")
    await escalate_to(sessions, tuned_settings, ticket_id, level=3, at=T0)
    bodies = [body for _, body in await sms_bodies(sessions)]
    assert bodies == ["【阳光花园物业客服中心】工单20261123-0001（投诉）住户催办，已升级至主管副总经理。"
                      "噪音。请于11-24 10:00前跟进处理。"]


async def test_a_level_past_three_is_three_and_a_level_is_never_lowered(sessions, tuned_settings):
    ticket_id = await new_ticket(sessions, tuned_settings, category="complaint")

    assert await escalate_to(sessions, tuned_settings, ticket_id, level=7, at=T0) == [DEPUTY]
    ticket, steps = await ticket_and_steps(sessions, ticket_id)
    assert ticket.escalation_level == 3
    assert ticket.escalated_at == T0
    assert "接待人(1) → 主管副总经理(3)" in steps[-1]

    # Asked to go back to level 2, the ticket stays at 3, and level 3 is told again (a
    # supervisor is not told of a ticket that is above them).
    at = T0 + timedelta(hours=1)
    assert await escalate_to(sessions, tuned_settings, ticket_id, level=2, at=at) == [DEPUTY]
    ticket, steps = await ticket_and_steps(sessions, ticket_id)
    assert ticket.escalation_level == 3
    assert ticket.due_at == at + timedelta(hours=24)  # a new committed time all the same
    assert "主管副总经理(3) → 主管副总经理(3)" in steps[-1]


async def test_a_writer_holding_an_older_copy_of_the_ticket_does_not_bring_its_level_down(
        sessions, tuned_settings):
    """A 不满意 answer read the ticket at level 1; the scheduler raised it to 3 before the
    answer's step was written. The ticket stays at 3, and it is level 3 that is told."""
    ticket_id = await new_ticket(sessions, tuned_settings, category="complaint")
    async with sessions() as session:
        read_earlier = await session.get(Ticket, ticket_id)
        session.expunge(read_earlier)
    assert await escalate_to(sessions, tuned_settings, ticket_id, level=3, at=T0) == [DEPUTY]

    at = T0 + timedelta(hours=1)
    async with sessions() as session, session.begin():
        stale = await session.merge(read_earlier, load=False)
        assert stale.escalation_level == 1
        told = await escalation.escalate(session, settings=tuned_settings, ticket=stale, now=at,
                                         level=2, actor="回访", reason="住户不满意")
    assert [p.phone for p in told] == [DEPUTY]
    ticket, steps = await ticket_and_steps(sessions, ticket_id)
    assert ticket.escalation_level == 3
    assert "主管副总经理(3)" in steps[-1] and "客服主管(2)" not in steps[-1]


async def test_a_level_below_one_is_one(sessions, tuned_settings):
    ticket_id = await new_ticket(sessions, tuned_settings, category="complaint")
    await escalate_to(sessions, tuned_settings, ticket_id, level=0, at=T0)
    ticket, steps = await ticket_and_steps(sessions, ticket_id)
    assert ticket.escalation_level == 1
    assert steps == ["住户催办：接待人(1) → 接待人(1)，通知 王小姐、李先生、张主管（短信）"]  # level 1: the staff


async def test_the_history_names_who_was_told_and_how(sessions, tuned_settings):
    ticket_id = await new_ticket(sessions, tuned_settings, category="emergency")
    await escalate_to(sessions, tuned_settings, ticket_id, level=2, at=T0)
    _, steps = await ticket_and_steps(sessions, ticket_id)
    assert steps == ["住户催办：接待人(1) → 客服主管(2)，通知 张主管（短信+电话）"]


async def test_nobody_at_the_level_is_written_down_and_nobody_is_called(sessions, settings, seed):
    await seed.staff(STAFF)
    ticket_id = await new_ticket(sessions, settings, category="emergency")  # no contacts set
    assert await escalate_to(sessions, settings, ticket_id, level=2, at=T0) == []
    _, steps = await ticket_and_steps(sessions, ticket_id)
    assert steps == ["住户催办：接待人(1) → 客服主管(2)，通知 无人（未配置该级联系人）（短信+电话）"]
    async with sessions() as session:
        assert (await session.scalars(select(OutboundJob))).all() == []
        assert (await session.scalars(select(SmsMessage))).all() == []


async def test_an_emergency_escalation_call_is_due_now_and_stops_at_the_new_due_time(
        sessions, tuned_settings, seed):
    await seed.residents([("薛海燕", "+8613900000001", "阳光花园6栋3单元1701", 0)])
    async with sessions() as session:
        resident_id = await session.scalar(select(Resident.id))
    ticket_id = await new_ticket(sessions, tuned_settings, category="emergency", resident_id=resident_id,
                                 resident_phone="+8613900000001")
    at = T0 + timedelta(minutes=31)
    await escalate_to(sessions, tuned_settings, ticket_id, level=2, at=at)
    async with sessions() as session:
        [job] = (await session.scalars(select(OutboundJob))).all()
        [sms] = (await session.scalars(select(SmsMessage))).all()
    assert (job.kind, job.state, job.phone, job.ticket_id) == ("escalation", "queued", SUPERVISOR,
                                                               ticket_id)
    assert job.resident_id == resident_id  # the call's record names whose emergency it was
    assert job.created_at == job.due_at == job.next_attempt_at == at
    assert job.not_after == at + timedelta(minutes=30) and job.attempts == 0
    assert (sms.purpose, sms.status, sms.ticket_id, sms.created_at) == ("escalation", "queued",
                                                                         ticket_id, at)


async def test_the_overdue_pass_gives_its_reason_in_the_sms_and_the_history(sessions, tuned_settings):
    ticket_id = await new_ticket(sessions, tuned_settings, category="complaint", description="")
    async with sessions() as session, session.begin():
        await scheduler.run_once(session, settings=tuned_settings, now=T0 + timedelta(hours=24))
    [(_, body)] = await sms_bodies(sessions)
    # no description: nothing is made up in its place
    assert body == ("【阳光花园物业客服中心】工单20261123-0001（投诉）超时未处理，已升级至客服主管。"
                    "。请于11-25 10:00前跟进处理。")
    _, steps = await ticket_and_steps(sessions, ticket_id)
    assert steps == ["超时未处理：接待人(1) → 客服主管(2)，通知 张主管（短信）"]
