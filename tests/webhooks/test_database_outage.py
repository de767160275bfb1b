"""The database goes away mid-call: the caller still reaches a person, nothing is lost.

A real PostgreSQL server is stopped while the call is in progress and started again;
every webhook answered during the outage is in the database afterwards.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ivr.app import create_app
from ivr.platform.resources import JOURNAL
from models import Call, CallEvent, Leg
from models.db import make_engine, make_sessionmaker, upgrade
from tests.conftest import local
from tests.pgcluster import Cluster, pg_bin
from tests.twilio_client import Caller, StaffPhone, Twilio
from webhooks.resilience import catch_up

pytestmark = pytest.mark.skipif(pg_bin() is None, reason="needs PostgreSQL server binaries")

T0 = local(2026, 11, 23, 10, 0, 0)
STAFF = [("王小姐", "13800000001", "客服部", "00:00-24:00"),
         ("李先生", "13800000002", "客服部", "00:00-24:00")]


@pytest.fixture
async def cluster():
    pg = Cluster()
    pg.start()
    yield pg
    pg.remove()


@pytest.fixture
async def outage_app(cluster, settings, clock, seed, aiohttp_client, tmp_path):
    url = cluster.url
    await upgrade(url)
    pg_settings = settings.model_copy(update={"database_url": url})
    # seed through the same import code, on the cluster's database
    from ivr.people.imports import import_staff
    path = tmp_path / "staff.csv"
    path.write_text("name,phone,department,shifts\n" + "\n".join(",".join(r) for r in STAFF) + "\n",
                    encoding="utf-8")
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await import_staff(session, path, now=clock())
    await engine.dispose()
    client = await aiohttp_client(create_app(pg_settings, clock=clock))
    engine = make_engine(url)
    yield client, make_sessionmaker(engine)
    await engine.dispose()


async def test_the_database_stops_mid_call_and_every_event_arrives_afterwards(cluster, outage_app, clock):
    client, sessions = outage_app
    app = client.server.app
    twilio = Twilio(client)
    caller = Caller(twilio)
    await caller.dial_in()
    await caller.press("0")
    dial, number = caller.dial()
    first = StaffPhone(twilio, caller, dial, number)
    await first.event("initiated", T0)

    cluster.stop()
    sent = 2 + 1  # voice, menu, initiated: already stored
    await first.event("ringing", T0 + timedelta(seconds=1))
    await first.event("no-answer", T0 + timedelta(seconds=16))
    twiml = await first.dial_result("no-answer")
    sent += 3
    assert twiml.status == 200
    assert "对不起，让您久等了" in twiml.spoken
    dial, number = caller.dial()
    assert number.text == "+8613800000002"  # the cached roster's next person
    second = StaffPhone(twilio, caller, dial, number)
    await second.event("initiated", T0 + timedelta(seconds=17))
    await second.event("ringing", T0 + timedelta(seconds=18))
    await second.event("in-progress", T0 + timedelta(seconds=24))
    screen = await second.pick_up_and_screen("1")
    assert "有什么可以帮到您" in screen.spoken
    done = await second.dial_result("completed", bridged=True)
    assert done.find("Hangup") is not None
    await caller.hangup(at=T0 + timedelta(seconds=200), duration=200)
    sent += 3 + 2 + 1 + 1  # events, screen + accept, dial result, status
    assert app[JOURNAL].pending() == sent - 3

    cluster.start()
    assert await catch_up(app) == sent - 3
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        legs = (await session.scalars(select(Leg).where(Leg.call_id == call.id).order_by(Leg.attempt))).all()
        events = await session.scalar(select(func.count()).select_from(CallEvent))
    assert events == sent
    assert call.outcome == "answered" and call.duration_seconds == 200
    assert [(leg.phone, leg.accepted) for leg in legs] == [("+8613800000001", False),
                                                           ("+8613800000002", True)]
    assert legs[0].status == "no-answer" and legs[1].ring_seconds == 6
    assert app[JOURNAL].pending() == 0


async def test_a_call_arriving_while_the_database_is_down_rings_the_cached_duty_roster(cluster, outage_app):
    client, sessions = outage_app
    twilio = Twilio(client)
    cluster.stop()
    caller = Caller(twilio)
    twiml = await caller.dial_in()
    assert twiml.status == 200
    assert twiml.find("Dial").find("Number").text == "+8613800000001"
    cluster.start()
    await catch_up(client.server.app)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Call).where(Call.sid == caller.sid)) == 1
