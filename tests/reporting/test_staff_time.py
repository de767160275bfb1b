"""Per staff in `/api/stats`: calls handled, talk time, time signed in, occupancy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from ivr.people.users import add_user, create_token
from models import Staff
from tests.conftest import local
from tests.twilio_client import Caller, StaffPhone

T0 = local(2026, 11, 23, 10, 0, 0)
TWO = [("王小明", "13800000001", "客服部", "07:00-21:00"),
       ("李华", "13800000002", "客服部", "07:00-21:00")]


@pytest.fixture
async def token(sessions, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
        return await create_token(session, name="主管", now=clock())


async def a_resident_asks_for_a_person(twilio, seed) -> tuple[Caller, StaffPhone]:
    """王小明 and 李华 on shift; a resident presses 0 and the first staff phone rings."""
    await seed.staff(TWO)
    caller = Caller(twilio, from_number="+8613900000001")
    await caller.dial_in()
    await caller.press("0")
    dial = caller.last.find("Dial")
    return caller, StaffPhone(twilio, caller, dial, dial.find("Number"))


async def test_per_staff_talk_time_time_signed_in_and_occupancy(client, twilio, seed, clock, token):
    caller, phone = await a_resident_asks_for_a_person(twilio, seed)
    assert phone.number.text == "+8613800000001"
    await phone.event("initiated", T0)
    await phone.event("ringing", T0 + timedelta(seconds=1))
    await phone.event("in-progress", T0 + timedelta(seconds=5))
    await phone.pick_up_and_screen("1")
    await phone.event("completed", T0 + timedelta(seconds=245))  # 4 minutes of talk
    await phone.dial_result("completed", bridged=True)
    await caller.hangup(at=T0 + timedelta(seconds=246), duration=300)

    # 王小明 signs out by keypad at 11:00 and back in at 12:00.
    for hour, key in ((11, "2"), (12, "1")):
        clock.set(local(2026, 11, 23, hour))
        wang = Caller(twilio, from_number="+8613800000001")
        await wang.dial_in()
        await wang.press(key)

    clock.set(local(2026, 11, 23, 14))
    resp = await client.get("/api/stats?from=2026-11-23&to=2026-11-23",
                            headers={"Authorization": f"Bearer {token}"})
    stats = await resp.json()
    per = {p["staff"]: p for p in stats["per_staff"]}
    wang, li = per["王小明"], per["李华"]
    assert (wang["offered"], wang["answered"], wang["calls_handled"]) == (1, 1, 1)
    assert wang["talk_seconds"] == 240
    assert wang["signed_in_seconds"] == 6 * 3600  # 07:00-11:00 and 12:00-14:00 (now)
    assert wang["occupancy"] == round(240 / (6 * 3600), 4)
    # 李华 was never rung: still listed, signed in since her shift began at 07:00.
    assert (li["offered"], li["calls_handled"], li["talk_seconds"]) == (0, 0, 0)
    assert li["signed_in_seconds"] == 7 * 3600 and li["occupancy"] == 0.0
    assert li["three_ring_rate"] is None
    # The contract's figures are unchanged: one resident's call, one transfer.
    assert stats["inbound_calls"] == 1 and stats["transfers_offered"] == 1


async def test_a_past_day_counts_whole_shifts_and_a_night_shift_across_midnight(client, seed, clock,
                                                                               token):
    await seed.staff([("赵师傅", "13800000009", "值班", "21:00-07:00")])
    resp = await client.get("/api/stats?from=2026-11-22&to=2026-11-22",
                            headers={"Authorization": f"Bearer {token}"})
    [zhao] = (await resp.json())["per_staff"]
    # 00:00-07:00 and 21:00-24:00 of the 22nd, in Shanghai time.
    assert (zhao["staff"], zhao["phone"], zhao["offered"]) == ("赵师傅", "+8613800000009", 0)
    assert zhao["signed_in_seconds"] == 10 * 3600 and zhao["calls_handled"] == 0


async def test_every_per_staff_row_carries_every_field_after_a_phone_changed(
        client, twilio, seed, clock, token, sessions):
    """王小明 took a call, then moved to a new phone (the staff file changed). The day's
    rows then mix three kinds: the old phone's (its legs, no staff member on it now), his
    new phone's and 李华's (signed in, never rung). A table or a script reading `per_staff`
    finds the same fields in each."""
    caller, phone = await a_resident_asks_for_a_person(twilio, seed)
    await phone.event("ringing", T0)
    await phone.event("in-progress", T0 + timedelta(seconds=5))
    await phone.pick_up_and_screen("1")
    await phone.event("completed", T0 + timedelta(seconds=65))
    async with sessions() as session, session.begin():
        await session.execute(update(Staff).where(Staff.phone == "+8613800000001")
                              .values(phone="+8613800000011"))
    clock.set(local(2026, 11, 23, 14))
    resp = await client.get("/api/stats?from=2026-11-23&to=2026-11-23",
                            headers={"Authorization": f"Bearer {token}"})
    rows = {p["phone"]: p for p in (await resp.json())["per_staff"]}
    assert set(rows) == {"+8613800000001", "+8613800000011", "+8613800000002"}
    assert (rows["+8613800000001"]["offered"], rows["+8613800000001"]["answered"]) == (1, 1)
    fields = set(rows["+8613800000001"])
    assert {"staff", "phone", "offered", "answered", "within_three_rings", "three_ring_rate",
            "talk_seconds", "signed_in_seconds", "occupancy"} <= fields
    assert all(set(row) == fields for row in rows.values())
