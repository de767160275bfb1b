"""A resident nobody answered keeps what they wanted: a complaint left as a message is a
complaint that needs a callback, is followed up once resolved and is counted as one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.outbound import jobs
from ivr.tickets import followup, lifecycle, reports
from models import Call, OutboundJob, Ticket
from tests.conftest import local
from tests.tickets.test_tickets import bearer, token  # noqa: F401

T0 = local(2026, 11, 23, 10, 0)


async def leave_message(caller, twilio, *keys: str) -> None:
    """Nobody is on duty: the caller goes through the menu and leaves a message."""
    await caller.dial_in()
    for key in keys:
        twiml = await caller.press(key)
    record = twiml.find("Record")
    assert record is not None, twiml.text
    await twilio.follow(record.get("action"), caller.params(
        RecordingUrl="https://api.twilio.com/rec/RE9", RecordingDuration="18"))


async def the_ticket(sessions, caller) -> Ticket:
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        return await session.scalar(select(Ticket).where(Ticket.call_id == call.id))


@pytest.mark.parametrize("keys, category", [
    (("2",), "complaint"), (("1", "2"), "repair"), (("1", "1"), "emergency"),
    (("4",), "inquiry"), (("0",), "callback"),
])
async def test_a_message_keeps_what_the_caller_wanted_and_needs_a_callback(
        caller, twilio, sessions, keys, category):
    await leave_message(caller, twilio, *keys)
    ticket = await the_ticket(sessions, caller)
    assert ticket.category == category and ticket.needs_callback
    assert ticket.recording_url.endswith("RE9")


async def test_a_complaint_left_as_a_message_is_called_back_followed_up_and_counted(
        client, caller, twilio, sessions, settings, token):  # noqa: F811
    await leave_message(caller, twilio, "2")
    ticket = await the_ticket(sessions, caller)
    assert ticket.due_at == T0 + timedelta(hours=1)  # the callback's hour, in office hours

    resp = await client.get("/api/tickets?from=2026-11-23&to=2026-11-23", headers=bearer(token))
    [listed] = (await resp.json())["tickets"]
    assert listed["category"] == "complaint" and listed["needs_callback"] is True

    async with sessions() as session, session.begin():
        [job] = await jobs.queue_callbacks(session, settings=settings, now=T0)
        assert (job.kind, job.ticket_id) == ("callback", ticket.id)

    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket.id)
        await lifecycle.resolve(session, settings=settings, ticket=ticket, actor="李先生",
                                now=T0 + timedelta(hours=2), note="已处理")
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket.id)
        follow_up = await session.scalar(select(OutboundJob).where(
            OutboundJob.ticket_id == ticket.id, OutboundJob.kind == "follow_up"))
        rates = await followup.rates(session, start=T0, end=T0 + timedelta(days=1))
        monthly = await reports.monthly(session, settings=settings, month="2026-11")
    assert ticket.follow_up_status == "scheduled" and follow_up is not None
    assert not ticket.needs_callback
    assert rates["follow_ups_due"] == 1
    assert monthly["complaints"] == 1
    [complaint] = monthly["complaint_list"]
    assert complaint["number"] == ticket.number
