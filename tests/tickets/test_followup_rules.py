"""Follow-up rules a resident notices: one call, and 不满意 always reopens the ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.tickets import followup, lifecycle, reports, survey
from ivr.tickets.labels import ACTION_LABELS
from models import OutboundJob, Resident, Ticket, TicketHistory
from tests.conftest import local
from tests.tickets.test_followup import resolve, resolved_complaint
from tests.tickets.test_tickets import STAFF, SUPERVISOR, T0, history, new_ticket, tuned  # noqa: F401


async def test_an_answer_recorded_by_hand_cancels_the_queued_survey_call(sessions, settings):
    ticket_id, job = await resolved_complaint(sessions, settings)
    assert job.state == "queued"
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await survey.record(session, settings=settings, ticket=ticket, satisfaction="neutral",
                            actor="王小姐", now=T0 + timedelta(hours=3))
    async with sessions() as session:
        jobs = (await session.scalars(select(OutboundJob).where(
            OutboundJob.ticket_id == ticket_id, OutboundJob.kind == "follow_up"))).all()
    assert [j.state for j in jobs] == ["cancelled"]  # the resident is not called a second time


@pytest.mark.parametrize("then_closed", [False, True])
async def test_dissatisfied_reopens_a_ticket_already_followed_up_or_closed(sessions, settings,
                                                                          then_closed):
    ticket_id, _ = await resolved_complaint(sessions, settings)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await survey.record(session, settings=settings, ticket=ticket, satisfaction="satisfied",
                            actor="回访电话", now=T0 + timedelta(hours=3))
        if then_closed:
            await lifecycle.change_status(session, settings=settings, ticket=ticket,
                                          status="closed", actor="张主管", now=T0 + timedelta(hours=4))
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        assert ticket.status == ("closed" if then_closed else "followed_up")
        await survey.record(session, settings=settings, ticket=ticket, satisfaction="dissatisfied",
                            actor="王小姐", now=T0 + timedelta(hours=5))
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
    assert (ticket.status, ticket.satisfaction) == ("reopened", "dissatisfied")
    assert ticket.escalation_level == 2  # the supervisor hears of it


async def test_an_answer_cancels_only_that_tickets_queued_call(sessions, settings):
    """Another resident's follow-up call still rings; a call already placed is left alone."""
    ticket_id, job = await resolved_complaint(sessions, settings)
    other_id = await new_ticket(sessions, settings, category="repair",
                                resident_phone="+8613900000002", description="水管漏水")
    other_job = await resolve(sessions, settings, other_id, T0 + timedelta(hours=2))
    async with sessions() as session, session.begin():
        placed = OutboundJob(kind="follow_up", state="dialing", phone="+8613900000001",
                             ticket_id=ticket_id, created_at=T0, due_at=T0, next_attempt_at=T0,
                             attempts=1)
        session.add(placed)
        await session.flush()
        placed_id = placed.id
        ticket = await session.get(Ticket, ticket_id)
        await survey.record(session, settings=settings, ticket=ticket, satisfaction="satisfied",
                            actor="王小姐", now=T0 + timedelta(hours=3))
    async with sessions() as session:
        states = {j.id: j.state for j in (await session.scalars(select(OutboundJob))).all()}
    assert states[job.id] == "cancelled"
    assert states[other_job.id] == "queued"  # the other resident is still called
    assert states[placed_id] == "dialing"  # a call in progress is not marked cancelled


async def test_the_follow_up_call_is_the_tickets_resident(sessions, settings, seed):
    """The call log names the resident called back (the dialer copies the job's resident)."""
    await seed.residents([("陈先生", "+8613900000001", "3号楼1201", 0)])
    async with sessions() as session:
        resident = await session.scalar(select(Resident))
    ticket_id = await new_ticket(sessions, settings, category="repair", resident_id=resident.id,
                                 resident_phone=resident.phone, description="楼道灯不亮")
    job = await resolve(sessions, settings, ticket_id, T0 + timedelta(hours=2))
    assert job.resident_id == resident.id


async def test_without_a_phone_the_history_says_follow_up_by_hand(sessions, settings):
    ticket_id = await new_ticket(sessions, settings, category="repair")
    await resolve(sessions, settings, ticket_id, T0 + timedelta(hours=1))
    async with sessions() as session:
        steps = await history(session, ticket_id)
    assert ("李先生", "follow_up_manual") in steps
    assert ACTION_LABELS["zh"]["follow_up_manual"] == "转人工回访"  # what the supervisor reads


async def test_a_follow_up_past_48_hours_is_handed_over_by_the_system(sessions, settings):
    resolved = T0 + timedelta(hours=2)
    ticket_id, _ = await resolved_complaint(sessions, settings, resolved=resolved)
    async with sessions() as session, session.begin():
        await followup.expire(session, now=resolved + timedelta(hours=48))
    async with sessions() as session:
        steps = await history(session, ticket_id)
        last = await session.scalar(select(TicketHistory).where(
            TicketHistory.ticket_id == ticket_id).order_by(TicketHistory.id.desc()).limit(1))
    assert steps[-1] == ("scheduler", "follow_up_unreached")  # shown as 系统（超时升级）
    assert last.detail == "48 小时内未能回访，请人工回访"  # the ticket page says what to do


async def test_the_daily_count_lists_manual_follow_ups_the_longest_due_first(sessions, settings):
    """待人工回访 in the daily count: the follow-up that has waited longest comes first,
    whatever order the tickets were opened in."""
    first, second = (await new_ticket(sessions, settings), await new_ticket(sessions, settings))
    async with sessions() as session, session.begin():
        for ticket_id, due in ((first, T0 + timedelta(hours=30)), (second, T0 + timedelta(hours=5))):
            ticket = await session.get(Ticket, ticket_id)
            ticket.follow_up_status, ticket.follow_up_due_at = "manual", due
    async with sessions() as session:
        daily = await reports.daily(session, settings=settings, at=T0 + timedelta(days=2))
        numbers = [(await session.get(Ticket, i)).number for i in (second, first)]
    assert [t["number"] for t in daily["manual_follow_ups"]] == numbers


async def test_an_answer_given_at_midnight_counts_for_the_day_that_begins(sessions, settings):
    """满意率 by day: an answer recorded at 00:00:00 is the new day's, not the old day's
    and not lost between the two."""
    ticket_id, _ = await resolved_complaint(sessions, settings)
    midnight = local(2026, 11, 24, 0, 0)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await survey.record(session, settings=settings, ticket=ticket, satisfaction="satisfied",
                            actor="王小姐", now=midnight)
    async with sessions() as session:
        before = await followup.rates(session, start=midnight - timedelta(days=1), end=midnight,
                                      now=midnight)
        after = await followup.rates(session, start=midnight, end=midnight + timedelta(days=1),
                                     now=midnight)
    assert (before["satisfaction_answers"], after["satisfaction_answers"]) == (0, 1)
    assert after["satisfaction_rate"] == 1.0
