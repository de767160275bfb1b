"""Follow-up rules a resident notices: one call, and 不满意 always reopens the ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.tickets import lifecycle, survey
from models import OutboundJob, Ticket
from tests.tickets.test_followup import resolved_complaint
from tests.tickets.test_tickets import STAFF, SUPERVISOR, T0, new_ticket, tuned  # noqa: F401


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
