"""Two `ivr serve` processes share one line of waiting callers (PostgreSQL when
`IVR_TEST_DATABASE_URL` is set, else the SQLite file): their dispatchers race for every
person who becomes free, and nobody is rung twice, nor any caller."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import aiohttp
from sqlalchemy import select

from models import Call, Leg
from tests.fake_twilio import ACCOUNT_SID, fake_twilio  # noqa: F401 - fixture
from tests.platform.test_processes import Alternating
from tests.server_process import ServerProcess
from tests.twilio_client import AUTH_TOKEN, HOTLINE, PUBLIC_BASE, Caller, StaffPhone, Twilio

STAFF = [("王小明", "13800000001", "客服部", "00:00-24:00"),
         ("李华", "13800000002", "客服部", "00:00-24:00"),
         ("张丽", "13800000003", "客服部", "00:00-24:00")]
WAITING = 5


async def test_two_processes_share_one_queue_and_never_ring_a_person_twice(
        tmp_path, database_url, seed, sessions, fake_twilio):  # noqa: F811
    await seed.staff(STAFF)
    env = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_API_BASE_URL": fake_twilio.url,
           "PUBLIC_BASE_URL": PUBLIC_BASE, "COMPANY_NAME": "阳光花园", "HOTLINE_NUMBER": HOTLINE,
           "IVR_JOURNAL_DIR": str(tmp_path / "journal"), "IVR_LOG_LEVEL": "WARNING",
           "IVR_WRAP_UP_SECONDS": "0"}
    servers = [ServerProcess(env, tmp_path).start() for _ in range(2)]
    try:
        await asyncio.gather(*(s.wait_ready() for s in servers))
        async with aiohttp.ClientSession() as http:
            twilio = Twilio(Alternating(http, servers))
            t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=2)
            phones = []
            for n, _ in enumerate(STAFF):
                caller = Caller(twilio, f"+861390000010{n}")
                await caller.dial_in()
                await caller.press("0")
                phone = StaffPhone(twilio, caller, *caller.dial())
                await phone.event("initiated", t0)
                await phone.event("ringing", t0 + timedelta(seconds=1))
                await phone.event("in-progress", t0 + timedelta(seconds=3))
                await phone.pick_up_and_screen("1")
                phones.append(phone)
            assert {p.number.text for p in phones} == {"+86" + s[1] for s in STAFF}

            line = []
            for n in range(WAITING):
                caller = Caller(twilio, f"+861390000020{n}")
                await caller.dial_in()
                twiml = await caller.press("0")
                assert twiml.find("Dial") is None
                assert "下一位" in twiml.spoken if n == 0 else f"您前面还有 {n} 位" in twiml.spoken
                fake_twilio.live_call(caller.sid)
                line.append(caller)

            async def hang_up(phone: StaffPhone) -> None:  # all three at once
                await phone.event("completed", t0 + timedelta(seconds=60))
                await phone.dial_result("completed", bridged=True)
                await phone.caller.hangup(at=t0 + timedelta(seconds=61), duration=61)

            await asyncio.gather(*(hang_up(p) for p in phones))
            updates = [await fake_twilio.next_update(timeout=5) for _ in STAFF]
    finally:
        for server in servers:
            server.stop()

    # The three longest-waiting callers, each redirected once, each to a different person.
    assert {sid for sid, _ in updates} == {c.sid for c in line[:3]}
    assert len(fake_twilio.updates) == 3
    async with sessions() as session:
        offered = (await session.scalars(
            select(Leg).join(Call, Call.id == Leg.call_id)
            .where(Call.sid.in_([c.sid for c in line])))).all()
        still = (await session.scalars(select(Call.sid).where(Call.queue_since.is_not(None))
                                       .order_by(Call.queued_at))).all()
    assert sorted(leg.staff_name for leg in offered) == sorted(s[0] for s in STAFF)
    assert len({leg.call_id for leg in offered}) == 3
    for sid, form in updates:
        leg_id = int(form["Url"].rsplit("=", 1)[1])
        assert leg_id in {leg.id for leg in offered}
    assert list(still) == [c.sid for c in line[3:]]
