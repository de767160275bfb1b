"""`GET /api/live`: what a supervisor's wallboard shows now, as CONTRACT.md describes it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ivr.people import sign_ins
from ivr.people.users import add_user, create_token
from models import Staff
from tests.conftest import local
from tests.twilio_client import Caller, StaffPhone

T0 = local(2026, 11, 23, 10, 0, 0)
STAFF = [("王小明", "13800000001", "客服部", "00:00-24:00"),
         ("李华", "13800000002", "客服部", "00:00-24:00"),
         ("张丽", "13800000003", "客服部", "07:00-14:00"),
         ("赵师傅", "13800000009", "值班", "21:00-07:00")]


async def tokens(sessions, clock) -> tuple[str, str]:
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
        await add_user(session, name="xiao", role="staff", password="pw-123456", now=clock())
        return (await create_token(session, name="主管", now=clock()),
                await create_token(session, name="xiao", now=clock()))


async def test_live_shows_calls_in_progress_staff_states_and_todays_figures(
        client, twilio, seed, sessions, clock):
    await seed.staff(STAFF)
    async with sessions() as session, session.begin():
        zhang = await session.scalar(select(Staff).where(Staff.name == "张丽"))
        await sign_ins.record(session, staff=zhang, signed_in=False, now=T0 - timedelta(hours=1))
    clock.set(T0)
    talking = Caller(twilio, "+8613900000001")
    await talking.dial_in()
    await talking.press("0")
    wang = StaffPhone(twilio, talking, *talking.dial())
    await wang.event("initiated", T0)
    await wang.event("ringing", T0 + timedelta(seconds=1))
    await wang.event("in-progress", T0 + timedelta(seconds=6))
    await wang.pick_up_and_screen("1")
    clock.set(T0 + timedelta(seconds=10))
    ringing = Caller(twilio, "+8613900000002")
    await ringing.dial_in()
    await ringing.press("2")
    li = StaffPhone(twilio, ringing, *ringing.dial())
    await li.event("initiated", T0 + timedelta(seconds=11))
    clock.set(T0 + timedelta(seconds=20))
    waiting = Caller(twilio, "+8613900000003")
    await waiting.dial_in()
    twiml = await waiting.press("0")
    assert "您是下一位" in twiml.spoken
    at_menu = Caller(twilio, "+8613900000004")
    await at_menu.dial_in()
    clock.set(T0 + timedelta(seconds=50))

    supervisor, staff_token = await tokens(sessions, clock)
    assert (await client.get("/api/live")).status == 401
    resp = await client.get("/api/live", headers={"Authorization": f"Bearer {staff_token}"})
    assert resp.status == 403
    resp = await client.get("/api/live", headers={"Authorization": f"Bearer {supervisor}"})
    assert resp.status == 200
    live = await resp.json()
    assert live["at"] == "2026-11-23T10:00:50+08:00"
    calls = {c["sid"]: c for c in live["calls"]}
    assert list(calls) == [talking.sid, ringing.sid, waiting.sid, at_menu.sid]
    assert calls[talking.sid] == {
        "sid": talking.sid, "from": "+8613900000001", "state": "talking",
        "since": calls[talking.sid]["since"], "menu_choice": "person",
        "staff": "王小明", "phone": "+8613800000001"}
    assert (calls[ringing.sid]["state"], calls[ringing.sid]["staff"],
            calls[ringing.sid]["since"]) == ("ringing", "李华", "2026-11-23T10:00:11+08:00")
    assert calls[ringing.sid]["menu_choice"] == "complaint"
    assert (calls[waiting.sid]["state"], calls[waiting.sid]["since"]) == (
        "queued", "2026-11-23T10:00:20+08:00")
    assert "staff" not in calls[waiting.sid] and calls[waiting.sid]["waited_seconds"] == 30
    assert (calls[at_menu.sid]["state"], calls[at_menu.sid]["menu_choice"]) == ("menu", None)

    staff = {s["staff"]: s for s in live["staff"]}
    assert set(staff) == {"王小明", "李华", "张丽"}  # 赵师傅: off shift, not signed in
    assert staff["王小明"]["state"] == "talking" and staff["王小明"]["phone"] == "+8613800000001"
    assert staff["李华"]["state"] == "ringing"
    assert staff["张丽"]["state"] == "away"  # on shift, signed out: visible to supervisors
    # 王小明 answered within three rings; 李华 is still ringing (offered, not answered).
    assert live["today"] == live["today"] | {
        "three_ring_rate": 0.5, "abandoned_calls": 0, "queued_calls": 1,
        "longest_wait_seconds": 30}
