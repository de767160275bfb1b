"""People before campaigns: an emergency escalation, a resident's callback and a follow-up
are dialled before fee reminders, at the next pace slot, with part of the in-progress cap
kept for them; campaigns share what is left in turn."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from ivr.outbound import campaigns, jobs
from ivr.outbound import dialer as dialing
from ivr.tickets import lifecycle
from models import Call, Campaign, OutboundJob, Resident
from tests.calls.test_three_rings import ring
from tests.conftest import local
from tests.fake_twilio import fake_twilio, outbound, outbound_settings  # noqa: F401
from tests.twilio_client import Caller

T0 = local(2026, 11, 23, 10, 0)
STAFF = [("王小姐", "13800000001", "客服部", "08:00-18:00")]
STAFF_PHONE = "+8613800000001"


async def households_in_arrears(outbound, count: int, *, first: int = 0) -> None:
    async with outbound.sessions() as session, session.begin():
        await session.execute(insert(Resident), [
            {"name": f"业主{i}", "phone": f"+86137{i:08d}", "address": f"阳光花园{i}室",
             "arrears": Decimal("800.00")} for i in range(first, first + count)])


async def start_campaign(outbound, at) -> int:
    async with outbound.sessions() as session, session.begin():
        return (await campaigns.start(session, settings=outbound.settings, now=at,
                                      created_by="test")).id


async def missed_call(outbound) -> None:
    """A resident calls, the one staff member on shift does not answer, and a message is
    left: a ticket that needs a callback."""
    caller = Caller(outbound.twilio, from_number="+8613900000001")
    await caller.dial_in()
    await caller.press("2")
    phone = await ring(outbound.twilio, caller, rings_for=0, answer=False, start=T0)
    await phone.event("no-answer", T0 + timedelta(seconds=16))
    twiml = await phone.dial_result("no-answer")
    await outbound.twilio.follow(twiml.find("Record").get("action"), caller.params(
        RecordingUrl="https://api.twilio.com/rec/RE7", RecordingDuration="9"))


async def test_a_callback_behind_10000_queued_reminders_takes_the_next_slots(outbound, seed):
    await seed.staff(STAFF)
    await households_in_arrears(outbound, 10_000)
    outbound.clock.set(T0)
    await start_campaign(outbound, T0 - timedelta(minutes=5))  # due before the callback
    dialer = outbound.dialer(dialer_cps=2, dialer_max_in_progress=1000)
    stop = asyncio.Event()
    running = asyncio.create_task(dialer.run(stop))
    try:
        await outbound.fake.wait_for_call(count=3)  # the campaign is dialling
        await missed_call(outbound)
        placed_before = len(outbound.fake.created_calls())
        [to_staff] = await outbound.fake.wait_for_call(STAFF_PHONE, timeout=60)
    finally:
        stop.set()
        await running
    order = [c["sid"] for c in outbound.fake.created_calls()]
    # the next slots, not the campaign's turn: at most the ~2 s of reminders (4 at 2 a
    # second) already claimed and waiting for the pace go before it
    assert order.index(to_staff["sid"]) - placed_before <= 4
    # the campaign was far from done: behind it, the callback would have waited for all
    # 10,000 (83 min at 2/s). How many went in all depends on how long the test's own
    # webhooks took on a loaded machine (12 on PostgreSQL under a load of 15).
    reminders = [c for c in outbound.fake.created_calls() if c["to"] != STAFF_PHONE]
    assert len(reminders) < 120


async def test_reminders_never_fill_the_lines_kept_for_a_callback(outbound, seed):
    await seed.staff(STAFF)
    await households_in_arrears(outbound, 20)
    await start_campaign(outbound, T0 - timedelta(minutes=5))
    dialer = outbound.dialer(dialer_max_in_progress=4, dialer_reserved_in_progress=1)
    await dialer.run_until_idle()
    assert len(outbound.fake.created_calls()) == 3  # 4 lines, 1 kept: nobody ends a call
    await missed_call(outbound)
    await dialer.run_until_idle()
    assert len(outbound.fake.created_calls(STAFF_PHONE)) == 1
    assert len(outbound.fake.created_calls()) == 4


async def test_each_class_keeps_a_growing_part_of_the_cap(settings):
    settings = settings.model_copy(update={"dialer_max_in_progress": 10,
                                           "dialer_reserved_in_progress": 3})
    assert [jobs.in_progress_cap(k, settings) for k in jobs.PRIORITY] == [10, 9, 8, 7]
    tight = settings.model_copy(update={"dialer_max_in_progress": 1})
    assert [jobs.in_progress_cap(k, tight) for k in jobs.PRIORITY] == [1, 1, 1, 1]


async def test_escalation_callback_follow_up_then_reminders_whatever_is_due_longer(outbound, seed):
    await households_in_arrears(outbound, 5)
    await seed.staff(STAFF)
    await start_campaign(outbound, T0 - timedelta(hours=1))
    async with outbound.sessions() as session, session.begin():
        call = Call(sid="CA" + "c" * 32, from_number="+8613900000001", to_number="+862161234567",
                    started_at=T0, menu_choice="complaint")
        session.add(call)
        await session.flush()
        ticket = await lifecycle.ensure_callback_ticket(session, settings=outbound.settings,
                                                        now=T0, call=call, reason="留言 9 秒")
        await jobs.queue_callbacks(session, settings=outbound.settings, now=T0)
        await jobs.queue_job(session, kind="follow_up", phone="+8613900000002", now=T0,
                             due_at=T0 - timedelta(minutes=30))
        await jobs.queue_job(session, kind="escalation", phone="+8613800000009", now=T0,
                             ticket_id=ticket.id)
    async with outbound.sessions() as session, session.begin():
        claimed = await dialing.claim(session, settings=outbound.settings, now=T0, limit=4,
                                      name="test")
    assert [c.kind for c in claimed] == ["escalation", "callback", "follow_up", "fee_reminder"]


async def test_two_campaigns_share_the_pace_in_turn(outbound, seed):
    await households_in_arrears(outbound, 30)
    first = await start_campaign(outbound, T0 - timedelta(hours=2))
    await households_in_arrears(outbound, 30, first=30)
    second = await start_campaign(outbound, T0 - timedelta(hours=1))
    async with outbound.sessions() as session, session.begin():
        claimed = await dialing.claim(session, settings=outbound.settings, now=T0, limit=6,
                                      name="test")
        by_campaign = [(await session.get(OutboundJob, c.job_id)).campaign_id for c in claimed]
        assert await session.scalar(select(Campaign.households).where(Campaign.id == second)) == 30
    assert by_campaign == [first, second] * 3
