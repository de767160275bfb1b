"""The switchboard, driven through signed webhooks: never ring a busy phone, share the
calls, sign in and out by keypad, emergencies, and no person rung twice at once by
concurrent calls in two server processes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.app import create_app
from ivr.people.users import add_user, create_token
from models import Call, Leg, StaffSignIn
from tests.conftest import local
from tests.twilio_client import Caller, StaffPhone, Twilio

T0 = local(2026, 11, 23, 10, 0, 0)
TWO = [("王小明", "13800000001", "客服部", "07:00-21:00"),
       ("李华", "13800000002", "客服部", "07:00-21:00")]


@pytest.fixture
async def token(sessions, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
        return await create_token(session, name="主管", now=clock())


async def api(client, token, path):
    resp = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    return await resp.json()


def resident(twilio: Twilio, n: int) -> Caller:
    return Caller(twilio, from_number=f"+86139000{n:05d}")


async def call_in(caller: Caller, *keys: str):
    await caller.dial_in()
    for key in keys or ("0",):
        await caller.press(key)
    return caller.last


def rung(caller: Caller) -> str | None:
    dial = caller.last.find("Dial")
    return dial.find("Number").text if dial is not None else None


async def take_call(twilio: Twilio, caller: Caller, clock) -> StaffPhone:
    """The phone of the current <Dial> rings 4 s and its person accepts: talking."""
    dial, number = caller.dial()
    phone = StaffPhone(twilio, caller, dial, number)
    await phone.event("initiated", clock())
    await phone.event("ringing", clock() + timedelta(seconds=1))
    await phone.event("in-progress", clock() + timedelta(seconds=5))
    await phone.pick_up_and_screen("1")
    return phone


async def hang_up(phone: StaffPhone, caller: Caller, at) -> None:
    """The talk ends at `at`: the leg's completed event, the Dial's action, the call's end."""
    await phone.event("completed", at)
    await phone.dial_result("completed", bridged=True)
    await caller.hangup(at=at, duration=90)


async def miss(twilio: Twilio, caller: Caller, clock) -> None:
    dial, number = caller.dial()
    phone = StaffPhone(twilio, caller, dial, number)
    await phone.event("initiated", clock())
    await phone.event("ringing", clock() + timedelta(seconds=1))
    await phone.event("no-answer", clock() + timedelta(seconds=18))
    await phone.dial_result("no-answer")


async def test_while_a_talks_the_next_caller_rings_b_first(client, twilio, seed, clock, token):
    await seed.staff(TWO)
    first = resident(twilio, 1)
    await call_in(first)
    assert rung(first) == "+8613800000001"
    talk = await take_call(twilio, first, clock)

    clock.advance(30)
    second = resident(twilio, 2)
    await call_in(second)
    assert rung(second) == "+8613800000002"  # not 王小明, who is talking
    # 李华's phone is ringing for the second caller, 王小明 talking: a third caller
    # waits in line (When everyone is busy), and neither phone rings for them.
    third = resident(twilio, 3)
    assert (await call_in(third)).find("Dial") is None and "您是下一位" in third.last.spoken
    await take_call(twilio, second, clock)

    # 王小明 hangs up at 10:01:00; 20 s of wrap-up (话后处理), then he rings again.
    await hang_up(talk, first, T0 + timedelta(seconds=60))
    clock.set(T0 + timedelta(seconds=70))
    fourth = resident(twilio, 4)
    assert (await call_in(fourth)).find("Dial") is None  # 王小明 in wrap-up: in line too
    for gone in (third, fourth):  # they give up waiting: nobody left in line
        await gone.hangup(at=T0 + timedelta(seconds=75), duration=70)
    clock.set(T0 + timedelta(seconds=81))
    fifth = resident(twilio, 5)
    await call_in(fifth)
    assert rung(fifth) == "+8613800000001"

    # Being busy is not a three-ring miss: each was offered only the calls they took.
    stats = await api(client, token, "/api/stats?from=2026-11-23&to=2026-11-23")
    per = {p["staff"]: p for p in stats["per_staff"]}
    assert (per["王小明"]["offered"], per["王小明"]["answered"]) == (2, 1)
    assert (per["李华"]["offered"], per["李华"]["answered"]) == (1, 1)


async def test_signed_out_by_keypad_is_never_rung_until_signed_in_again(client, twilio, seed,
                                                                          clock, token, sessions):
    await seed.staff(TWO)
    wang = Caller(twilio, from_number="+8613800000001")
    menu = await wang.dial_in()
    assert "王小明您好" in menu.spoken and "已签入" in menu.spoken
    assert "签入请按1" in menu.spoken and "签出请按2" in menu.spoken
    assert "感谢您的来电" not in menu.spoken  # not the residents' greeting
    done = await wang.press("2")
    assert "签出成功" in done.spoken and done.find("Hangup") is not None
    await wang.hangup(at=clock(), duration=8)

    clock.advance(60)
    caller = resident(twilio, 1)
    await call_in(caller)
    assert rung(caller) == "+8613800000002"
    await miss(twilio, caller, clock)
    assert caller.last.find("Record") is not None  # 王小明 is away: not rung

    clock.advance(60)
    wang = Caller(twilio, from_number="+8613800000001")
    assert "已签出" in (await wang.dial_in()).spoken
    assert "签入成功" in (await wang.press("1")).spoken
    await wang.hangup(at=clock(), duration=8)
    clock.advance(60)
    caller = resident(twilio, 2)
    await call_in(caller)
    assert rung(caller) == "+8613800000002"  # idle since 07:00; 王小明 since his 签入
    await miss(twilio, caller, clock)
    assert rung(caller) == "+8613800000001"

    async with sessions() as session:
        rows = (await session.scalars(select(StaffSignIn).order_by(StaffSignIn.id))).all()
    assert [(r.signed_in, r.source) for r in rows] == [(False, "keypad"), (True, "keypad")]
    stats = await api(client, token, "/api/stats?from=2026-11-23&to=2026-11-23")
    assert stats["inbound_calls"] == 2  # the residents' calls, not 王小明's


async def test_the_staff_line_can_go_on_to_the_residents_menu(twilio, seed):
    await seed.staff(TWO)
    wang = Caller(twilio, from_number="+8613800000001")
    await wang.dial_in()
    menu = await wang.press("0")
    assert "物业客服中心，感谢您的来电" in menu.spoken and "人工客服请按0" in menu.spoken


async def test_thirty_calls_under_longest_idle_are_shared_across_the_staff(twilio, seed, clock,
                                                                           sessions):
    """Calls every 40 s, each talked for 100 s: two or three staff are busy at any time,
    and the calls go round instead of always to the first of the file."""
    staff = [(f"客服{i}", f"1380000001{i}", "客服部", "07:00-21:00") for i in range(5)]
    await seed.staff(staff)
    open_calls: list[tuple] = []
    for n in range(30):
        clock.set(T0 + timedelta(seconds=40 * n))
        for ending in [c for c in open_calls if c[2] <= clock()]:
            await hang_up(ending[0], ending[1], ending[2])
            open_calls.remove(ending)
        caller = resident(twilio, n)
        await call_in(caller)
        assert rung(caller) is not None, f"call {n}: nobody free"
        phone = await take_call(twilio, caller, clock)
        open_calls.append((phone, caller, clock() + timedelta(seconds=100)))
    async with sessions() as session:
        legs = (await session.scalars(select(Leg))).all()
    assert len(legs) == 30 and all(leg.accepted for leg in legs)
    assert sorted(Counter(leg.staff_name for leg in legs).values()) == [6, 6, 6, 6, 6]


async def test_an_emergency_may_ring_a_person_in_wrap_up_but_never_one_talking(twilio, seed,
                                                                               clock):
    await seed.staff([("王小明", "13800000001", "客服部", "07:00-21:00"),
                      ("李华", "13800000002", "客服部", "07:00-21:00"),
                      ("张工", "13800000003", "工程部", "07:00-21:00"),
                      ("赵师傅", "13800000009", "值班", "21:00-07:00")])
    # 王小明 talking; 李华 and 张工 each finished a call 5 s ago (wrap-up).
    talking = resident(twilio, 1)
    await call_in(talking)
    assert rung(talking) == "+8613800000001"
    await take_call(twilio, talking, clock)
    for n, phone_number in ((2, "+8613800000002"), (3, "+8613800000003")):
        caller = resident(twilio, n)
        await call_in(caller)
        assert rung(caller) == phone_number
        phone = await take_call(twilio, caller, clock)
        await hang_up(phone, caller, clock() + timedelta(seconds=55))
    clock.set(T0 + timedelta(seconds=60))

    ordinary = resident(twilio, 4)
    assert (await call_in(ordinary, "1", "2")).find("Dial") is None  # waits in line
    emergency = resident(twilio, 5)
    await call_in(emergency, "1", "1")
    # No 值班 on shift in the day: 工程 (IVR_ROUTE_EMERGENCY), then everyone else on duty.
    assert rung(emergency) == "+8613800000003"
    await miss(twilio, emergency, clock)
    assert rung(emergency) == "+8613800000002"
    await miss(twilio, emergency, clock)
    # Never 王小明, who is talking: the emergency waits at the head of the line for him.
    assert emergency.last.find("Dial") is None and "您是下一位" in emergency.last.spoken


@pytest.mark.parametrize("staff_count", [4, 12])
async def test_concurrent_calls_in_two_processes_never_ring_one_person_twice(
        aiohttp_client, settings, clock, seed, sessions, staff_count):
    """Twelve callers press 0 at the same moment, half through one server process and half
    through another, on one database: each phone rings for one caller at most; callers
    beyond the free staff wait in line."""
    await seed.staff([(f"客服{i:02d}", f"138000000{i:02d}", "客服部", "00:00-24:00")
                      for i in range(staff_count)])
    processes = [Twilio(await aiohttp_client(create_app(settings, clock=clock)))
                 for _ in range(2)]
    callers = [Caller(processes[n % 2], from_number=f"+86139000002{n:02d}") for n in range(12)]
    for caller in callers:
        await caller.dial_in()
    answers = await asyncio.gather(*(caller.press("0") for caller in callers))
    assert all(a.status == 200 for a in answers)
    phones = [rung(c) for c in callers]
    ringing = [p for p in phones if p is not None]
    assert len(ringing) == len(set(ringing)) == min(staff_count, 12)
    waiting = [a for a in answers if a.find("Dial") is None
               and a.find("Redirect").text.endswith("/twilio/queue-wait")]
    assert len(waiting) == 12 - len(ringing)
    async with sessions() as session:
        legs = (await session.execute(select(Leg.staff_id, Call.sid)
                                      .join(Call, Call.id == Leg.call_id))).all()
    assert len(legs) == len({staff_id for staff_id, _ in legs}) == len(ringing)
