"""The demo month (`ivr demo`) read as a centre would: the dashboard's figures, nothing
left to phone or escalate, calls placed only inside their hours, messages kept.

Filling the month takes about ten seconds, so it is filled once for this module and each
test gets a copy of it (`database_template`, tests/conftest.py).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ivr.calls.transfer import ring_seconds
from ivr.outbound import jobs
from ivr.people.users import verify_password
from ivr.tools import demo
from models import Call, Leg, Resident, Staff, Ticket, User
from models.db import make_engine, make_sessionmaker
from models.ticket import STATUSES
from tests.conftest import NOW, PG_URL, _drop_pg_database, copy_of, settings_for


@pytest.fixture(scope="module")
def demo_month(migrated, tmp_path_factory):
    """The template every test here copies, and what `demo.fill` returned for it."""
    directory = tmp_path_factory.mktemp("demo")

    async def fill():
        url = await copy_of(migrated, directory)
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                filled = await demo.fill(session, settings=settings_for(url, directory / "journal"),
                                         now=NOW)
        finally:
            await engine.dispose()
        return url, filled

    url, filled = asyncio.run(fill())
    yield (url.rsplit("/", 1)[1] if PG_URL else directory / "ivr.db"), filled
    if PG_URL:
        asyncio.run(_drop_pg_database(url))


@pytest.fixture
def database_template(demo_month):
    return demo_month[0]


@pytest.fixture
def filled(demo_month) -> dict:
    return demo_month[1]


async def test_demo_data_gives_the_dashboard_real_figures(client, filled, clock, sessions):
    headers = {"Authorization": f"Bearer {filled['token']}"}
    today = clock().date()
    month_ago = today - timedelta(days=29)
    resp = await client.get(f"/api/stats?from={month_ago}&to={today}", headers=headers)
    assert resp.status == 200
    stats = await resp.json()
    assert stats["inbound_calls"] > 600
    assert 0.7 <= stats["three_ring_rate"] <= 1
    assert stats["transfers_answered"] < stats["transfers_offered"]  # some misses
    assert 3 <= stats["average_ring_seconds"] <= 15
    assert stats["abandoned_calls"] > 0
    assert stats["tickets_created"] > 100
    assert len(stats["per_staff"]) >= 6
    rates = [s["three_ring_rate"] for s in stats["per_staff"] if s["offered"] >= 20]
    assert max(rates) - min(rates) > 0.02  # staff differ, as people do

    # Calls run up to now, none in the future.
    resp = await client.get(f"/api/calls?from={today}&to={today}", headers=headers)
    today_calls = (await resp.json())["calls"]
    assert today_calls and all(c["started_at"] <= clock().isoformat() for c in today_calls)

    async with sessions() as session:
        statuses = set((await session.scalars(select(Ticket.status).distinct())).all())
        outcomes = set((await session.scalars(select(Call.outcome).distinct())).all())
        legs = (await session.scalars(select(Leg).where(Leg.ring_seconds.is_not(None)))).all()
        in_arrears = await session.scalar(select(func.count()).where(Resident.arrears > 0))
        residents = await session.scalar(select(func.count()).select_from(Resident))
        shifts = set((await session.scalars(select(Staff.shifts))).all())
        address = await session.scalar(select(Resident.address).limit(1))
        user = await session.scalar(select(User).where(User.name == filled["user"]))
        first_call = await session.scalar(select(func.min(Call.started_at)))
    assert statuses == set(STATUSES)
    assert {"answered", "message", "abandoned", "self_service"} <= outcomes
    # Ring time is the real flow's: answered − ringing, from the leg's own timestamps.
    assert legs and all(leg.ring_seconds == ring_seconds(leg) for leg in legs)
    assert residents == 300 and 0 < in_arrears < residents
    assert {"07:00-14:00", "14:00-21:00", "21:00-07:00"} <= shifts
    assert any(address.startswith(e) for e, *_ in demo.ESTATES) and "栋" in address
    assert user.role == "supervisor" and verify_password(user.password_hash, filled["password"])
    assert clock() - first_call > timedelta(days=28)


async def test_demo_data_leaves_nothing_to_phone_or_escalate(filled, settings, clock, sessions):
    """A server started on demo data must not dial made-up numbers or flood SMS."""
    from ivr.tickets import escalation
    from models import OutboundJob

    async with sessions() as session, session.begin():
        assert await jobs.queue_callbacks(session, settings=settings, now=clock()) == []
        assert await escalation.escalate_overdue(session, settings=settings, now=clock()) == []
        queued = await session.scalar(select(func.count()).select_from(OutboundJob)
                                      .where(OutboundJob.state == "queued"))
        outbound = await session.scalar(select(func.count()).where(Call.direction == "outbound"))
    assert queued == 0 and outbound > 0


async def test_demo_callbacks_and_follow_ups_are_placed_only_inside_their_hours(filled, settings, sessions):
    """回电 inside office hours, 回访 inside calling hours: never a resident at 2 a.m."""
    from models import OutboundJob

    async with sessions() as session:
        made = (await session.execute(
            select(OutboundJob.kind, Call.started_at, Call.ended_at)
            .join(Call, Call.outbound_job_id == OutboundJob.id))).all()
    assert {kind for kind, _s, _e in made} == {"callback", "follow_up"}
    for kind, started, ended in made:
        for moment in (started, ended):
            assert jobs.in_window(kind, settings=settings, now=moment), (
                kind, moment.astimezone(settings.tz))


async def test_demo_messages_keep_what_the_caller_wanted(filled, sessions):
    async with sessions() as session:
        rows = (await session.execute(
            select(Call.menu_choice, Ticket.category, Ticket.needs_callback)
            .join(Ticket, Ticket.call_id == Call.id)
            .where(Call.outcome.in_(("message", "missed", "abandoned"))))).all()
    complaints = [r for r in rows if r.menu_choice == "complaint"]
    assert complaints and all(r.category == "complaint" for r in complaints)
    assert all(r.category == "callback" for r in rows if r.menu_choice == "person")
