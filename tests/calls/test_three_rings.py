"""Three rings: hunt the staff on duty, screen each phone, time every ring from Twilio."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.people.users import add_user, create_token
from models import Call, Leg, Staff, Ticket
from tests.conftest import local
from tests.twilio_client import StaffPhone

DAY = [("王小姐", "13800000001", "客服部", "07:00-14:00;14:00-21:00"),
       ("李先生", "13800000002", "客服部", "07:00-21:00"),
       ("赵师傅", "13800000009", "值班", "21:00-07:00")]
T0 = local(2026, 11, 23, 10, 0, 0)


@pytest.fixture
async def token(sessions, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
        return await create_token(session, name="主管", now=clock())


async def api(client, token, path):
    resp = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def ring(twilio, caller, *, rings_for: int, answer: bool, person: bool = True,
               start=T0) -> StaffPhone:
    """The phone of the current <Dial>: initiated, ringing, then answered after
    `rings_for` seconds (screened: 1 when a person), or no-answer."""
    dial, number = caller.dial()
    phone = StaffPhone(twilio, caller, dial, number)
    await phone.event("initiated", start)
    await phone.event("ringing", start + timedelta(seconds=1))
    if answer:
        await phone.event("in-progress", start + timedelta(seconds=1 + rings_for))
        await phone.pick_up_and_screen("1" if person else None)
    return phone


async def test_the_dial_is_capped_at_three_rings_and_screens_every_phone(twilio, caller, seed):
    await seed.staff(DAY)
    await caller.dial_in()
    twiml = await caller.press("0")
    assert "请稍等" in twiml.spoken
    dial, number = caller.dial()
    assert int(dial.get("timeout")) == 18  # 3 rings x 5 s, plus 3 s of set-up
    assert number.text == "+8613800000001"
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"
    assert number.get("url").startswith("https://hotline.example.com/twilio/screen?leg=")
    assert number.get("statusCallback").startswith("https://hotline.example.com/twilio/leg-status?leg=")
    assert dial.get("action").startswith("https://hotline.example.com/twilio/dial-result?leg=")


async def test_the_dial_timeout_is_configurable(client, settings, clock, aiohttp_client, seed):
    from ivr.app import create_app
    from tests.twilio_client import Caller, Twilio

    await seed.staff(DAY)
    tuned = settings.model_copy(update={"dial_timeout_buffer_seconds": 2, "ring_seconds": 6})
    caller = Caller(Twilio(await aiohttp_client(create_app(tuned, clock=clock))))
    await caller.dial_in()
    await caller.press("0")
    assert caller.dial()[0].get("timeout") == "20"
    direct = settings.model_copy(update={"dial_timeout_seconds": 25})
    caller = Caller(Twilio(await aiohttp_client(create_app(direct, clock=clock))),
                    from_number="+8613900000002")
    await caller.dial_in()
    await caller.press("0")
    assert caller.dial()[0].get("timeout") == "25"


async def test_screening_tells_staff_who_is_calling_and_gives_the_greeting(twilio, caller, seed):
    await seed.staff(DAY)
    await seed.residents([("李阿姨", "13900000001", "3栋2单元501", "0")])
    await caller.dial_in()
    await caller.press("2")
    dial, number = caller.dial()
    phone = StaffPhone(twilio, caller, dial, number)
    screen = await phone.pick_up_and_screen(None)
    assert "3栋2单元501" in screen.spoken and "投诉" in screen.spoken and "接听请按1" in screen.spoken
    assert screen.find("Hangup") is not None  # no key: the leg hangs up
    accepted = await phone.pick_up_and_screen("1")
    assert "您好，阳光花园物业客服中心，我姓" in accepted.spoken
    assert accepted.find("Hangup") is None  # the bridge follows
    refused = await phone.pick_up_and_screen("5")
    assert refused.find("Hangup") is not None


async def test_first_person_answers_within_three_rings(client, twilio, caller, seed, token, sessions):
    await seed.staff(DAY)
    await caller.dial_in()
    await caller.press("0")
    phone = await ring(twilio, caller, rings_for=7, answer=True)
    twiml = await phone.dial_result("completed", bridged=True)
    assert twiml.find("Dial") is None
    await phone.event("completed", T0 + timedelta(seconds=95), CallDuration=87)
    await caller.hangup(at=T0 + timedelta(seconds=100), duration=120)

    calls = (await api(client, token, "/api/calls?from=2026-11-23&to=2026-11-23"))["calls"]
    assert len(calls) == 1
    call = calls[0]
    assert call["sid"] == caller.sid and call["menu_choice"] == "person"
    assert call["ended_at"] == "2026-11-23T10:01:40+08:00"
    [leg] = call["legs"]
    assert leg["staff"] == "王小姐" and leg["phone"] == "+8613800000001"
    assert leg["ring_seconds"] == 7 and leg["rings"] == 2
    assert leg["answered"] is True and leg["within_three_rings"] is True
    stats = await api(client, token, "/api/stats?from=2026-11-23&to=2026-11-23")
    assert stats["inbound_calls"] == 1 and stats["transfers_offered"] == 1
    assert stats["transfers_answered"] == 1 and stats["answered_within_three_rings"] == 1
    assert stats["three_ring_rate"] == 1.0 and stats["average_ring_seconds"] == 7
    assert stats["abandoned_calls"] == 0 and stats["tickets_created"] == 0


async def test_first_misses_and_the_second_answers(client, twilio, caller, seed, token):
    await seed.staff(DAY)
    await caller.dial_in()
    await caller.press("0")
    first = await ring(twilio, caller, rings_for=0, answer=False)
    await first.event("no-answer", T0 + timedelta(seconds=16))
    twiml = await first.dial_result("no-answer")
    assert "对不起，让您久等了" in twiml.spoken
    assert caller.dial()[1].text == "+8613800000002"
    second = await ring(twilio, caller, rings_for=16, answer=True, start=T0 + timedelta(seconds=17))
    await second.dial_result("completed", bridged=True)
    await caller.hangup(at=T0 + timedelta(seconds=200), duration=200)

    [call] = (await api(client, token, "/api/calls?from=2026-11-23&to=2026-11-23"))["calls"]
    missed, answered = call["legs"]
    assert missed["staff"] == "王小姐" and missed["answered"] is False
    assert missed["ring_seconds"] is None and missed["within_three_rings"] is False
    assert answered["staff"] == "李先生" and answered["ring_seconds"] == 16
    assert answered["rings"] == 4 and answered["within_three_rings"] is False
    stats = await api(client, token, "/api/stats?from=2026-11-23&to=2026-11-23")
    assert stats["transfers_offered"] == 2 and stats["transfers_answered"] == 1
    assert stats["answered_within_three_rings"] == 0 and stats["three_ring_rate"] == 0.0
    per = {p["staff"]: p for p in stats["per_staff"]}
    assert per["王小姐"]["offered"] == 1 and per["王小姐"]["answered"] == 0
    assert per["李先生"]["answered"] == 1 and per["李先生"]["within_three_rings"] == 0


async def test_all_miss_and_a_message_is_left(client, twilio, caller, seed, token, sessions):
    await seed.staff(DAY)
    await caller.dial_in()
    await caller.press("0")
    for number in ("+8613800000001", "+8613800000002"):
        assert caller.dial()[1].text == number
        phone = await ring(twilio, caller, rings_for=0, answer=False)
        await phone.event("no-answer", T0 + timedelta(seconds=16))
        twiml = await phone.dial_result("no-answer")
    assert twiml.find("Dial") is None and twiml.find("Record") is not None
    record = twiml.find("Record")
    assert record.get("finishOnKey") == "#" and int(record.get("maxLength")) > 0
    done = await twilio.follow(record.get("action"), caller.params(
        RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1",
        RecordingDuration="23", Digits="#"))
    assert "您的留言已记录" in done.spoken and done.find("Hangup") is not None
    await caller.hangup(at=T0 + timedelta(seconds=90), duration=90)

    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        tickets = (await session.scalars(select(Ticket).where(Ticket.call_id == call.id))).all()
    assert call.outcome == "message"
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket.category == "callback" and ticket.recording_url.endswith("RE1")
    assert ticket.number == "20261123-0001"
    assert ticket.due_at - ticket.created_at == timedelta(hours=1)  # office hours: within the hour
    [api_call] = (await api(client, token, "/api/calls?from=2026-11-23&to=2026-11-23"))["calls"]
    assert api_call["ticket_ids"] == [ticket.id]


async def test_a_message_left_at_night_is_due_an_hour_after_the_office_opens(twilio, caller, seed, clock, sessions):
    clock.set(local(2026, 11, 23, 23, 30))
    await caller.dial_in()
    twiml = await caller.press("0")  # nobody at all on duty
    assert twiml.find("Record") is not None
    await twilio.follow(twiml.find("Record").get("action"), caller.params(
        RecordingUrl="https://api.twilio.com/rec/RE2", RecordingDuration="12"))
    async with sessions() as session:
        ticket = await session.scalar(select(Ticket))
    assert ticket.due_at == local(2026, 11, 24, 9, 0)


async def test_a_voicemail_that_picks_up_is_screened_out_and_the_next_person_rings(client, twilio, caller, seed, token):
    await seed.staff(DAY)
    await caller.dial_in()
    await caller.press("0")
    voicemail = await ring(twilio, caller, rings_for=14, answer=True, person=False)
    await voicemail.event("completed", T0 + timedelta(seconds=30))
    twiml = await voicemail.dial_result("completed")  # the whisper hung up: never bridged
    assert caller.dial()[1].text == "+8613800000002"
    assert "对不起，让您久等了" in twiml.spoken
    [call] = (await api(client, token, "/api/calls?from=2026-11-23&to=2026-11-23"))["calls"]
    assert call["legs"][0]["answered"] is False
    assert call["legs"][0]["within_three_rings"] is False


async def test_the_caller_abandons_mid_ring(client, twilio, caller, seed, token, sessions):
    await seed.staff(DAY)
    await caller.dial_in()
    await caller.press("0")
    phone = await ring(twilio, caller, rings_for=0, answer=False)
    await phone.event("canceled", T0 + timedelta(seconds=9))
    await caller.hangup(at=T0 + timedelta(seconds=9), duration=40)
    twiml = await phone.dial_result("canceled", CallStatus="completed")
    assert twiml.status == 200 and twiml.find("Dial") is None

    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        tickets = (await session.scalars(select(Ticket).where(Ticket.call_id == call.id))).all()
    assert call.outcome == "abandoned" and call.waited_seconds == 9
    assert [t.category for t in tickets] == ["callback"]
    stats = await api(client, token, "/api/stats?from=2026-11-23&to=2026-11-23")
    assert stats["abandoned_calls"] == 1 and stats["three_ring_rate"] == 0.0


async def test_callbacks_duplicated_and_reordered_give_the_same_leg(client, twilio, caller, seed, token, sessions):
    await seed.staff(DAY)
    await caller.dial_in()
    await caller.press("0")
    dial, number = caller.dial()
    phone = StaffPhone(twilio, caller, dial, number)
    events = [("initiated", T0, 1), ("ringing", T0 + timedelta(seconds=2), 2),
              ("in-progress", T0 + timedelta(seconds=12), 3),
              ("completed", T0 + timedelta(seconds=80), 4)]
    for status, at, seq in [events[3], events[1], events[3], events[2], events[0], events[2], events[1]]:
        assert (await phone.event(status, at, seq)).status == 200
    await phone.pick_up_and_screen("1")  # the accept arrives after the answered event
    await phone.dial_result("completed", bridged=True)
    await caller.hangup(at=T0 + timedelta(seconds=85), duration=85)
    async with sessions() as session:
        leg = await session.scalar(select(Leg))
    assert leg.status == "completed" and leg.ring_seconds == 10
    assert leg.initiated_at == T0 and leg.completed_at == T0 + timedelta(seconds=80)
    [call] = (await api(client, token, "/api/calls?from=2026-11-23&to=2026-11-23"))["calls"]
    assert call["legs"][0]["within_three_rings"] is True and call["legs"][0]["rings"] == 2


async def test_the_screening_accept_may_come_before_the_answered_event(client, twilio, caller, seed, token):
    await seed.staff(DAY)
    await caller.dial_in()
    await caller.press("0")
    dial, number = caller.dial()
    phone = StaffPhone(twilio, caller, dial, number)
    await phone.pick_up_and_screen("1")
    await phone.event("ringing", T0 + timedelta(seconds=1), 2)
    await phone.event("in-progress", T0 + timedelta(seconds=5), 3)
    await phone.dial_result("completed", bridged=True)
    [call] = (await api(client, token, "/api/calls?from=2026-11-23&to=2026-11-23"))["calls"]
    assert call["legs"][0]["ring_seconds"] == 4 and call["legs"][0]["answered"] is True


async def test_a_shift_crossing_midnight_rings_the_night_duty(twilio, caller, seed, clock):
    await seed.staff(DAY)
    for moment in (local(2026, 11, 23, 23, 40), local(2026, 11, 24, 3, 0)):
        clock.set(moment)
        from tests.twilio_client import Caller
        night = Caller(twilio, from_number="+8613900000055")
        await night.dial_in()
        await night.press("0")
        assert night.dial()[1].text == "+8613800000009"


async def test_day_shift_staff_ring_in_file_order_and_not_the_night_duty(seed, clock, settings,
                                                                        aiohttp_client):
    from ivr.app import create_app
    from tests.twilio_client import Caller, Twilio

    await seed.staff(DAY)
    clock.set(local(2026, 11, 23, 15, 0))
    in_order = settings.model_copy(update={"hunt_strategy": "order"})
    caller = Caller(Twilio(await aiohttp_client(create_app(in_order, clock=clock))))
    await caller.dial_in()
    await caller.press("0")
    assert caller.dial()[1].text == "+8613800000001"


async def test_by_default_the_person_idle_longest_rings_first(twilio, caller, seed, clock):
    """15:00, nobody has taken a call: 李先生 has been waiting since 07:00, 王小姐 since
    her 14:00 shift began."""
    await seed.staff(DAY)
    clock.set(local(2026, 11, 23, 15, 0))
    await caller.dial_in()
    await caller.press("0")
    assert caller.dial()[1].text == "+8613800000002"


async def test_nobody_on_duty_takes_a_message_at_once(twilio, caller, seed, clock, sessions):
    await seed.staff([("王小姐", "13800000001", "客服部", "07:00-14:00")])
    clock.set(local(2026, 11, 23, 16, 0))
    await caller.dial_in()
    twiml = await caller.press("0")
    assert twiml.find("Dial") is None and twiml.find("Record") is not None
    # the caller says nothing: Twilio goes on to the <Redirect>
    redirect = twiml.find("Redirect")
    done = await twilio.follow(redirect.text, caller.params())
    assert "我们已记录您的来电" in done.spoken
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        ticket = await session.scalar(select(Ticket).where(Ticket.call_id == call.id))
    assert call.outcome == "missed" and ticket.category == "callback"


async def test_a_staff_token_sees_only_the_calls_that_rang_them_and_no_statistics(client, twilio, seed, sessions, clock):
    from tests.twilio_client import Caller

    await seed.staff(DAY)
    for from_number in ("+8613900000001", "+8613900000002"):
        caller = Caller(twilio, from_number=from_number)
        await caller.dial_in()
        await caller.press("0")
        first = await ring(twilio, caller, rings_for=0, answer=False)
        if from_number.endswith("1"):  # this caller gives up while the first phone rings
            await caller.hangup(at=T0 + timedelta(seconds=8), duration=30)
            continue
        await first.event("no-answer", T0 + timedelta(seconds=16))
        await first.dial_result("no-answer")  # the hunt goes on to 李先生
        second = await ring(twilio, caller, rings_for=3, answer=True)
        await second.dial_result("completed", bridged=True)
    async with sessions() as session, session.begin():
        li = await session.scalar(select(Staff).where(Staff.name == "李先生"))
        user = await add_user(session, name="li", role="staff", password="pw-123456", now=clock())
        user.staff_id = li.id
        token = await create_token(session, name="li", now=clock())
    calls = (await api(client, token, "/api/calls?from=2026-11-23&to=2026-11-23"))["calls"]
    assert [c["from"] for c in calls] == ["+8613900000002"]
    resp = await client.get("/api/stats", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 403 and (await resp.json())["error"]


async def test_a_later_event_of_the_same_kind_leaves_the_first_time_and_the_ring_count(
        twilio, caller, seed, sessions):
    """`answered` and a later `in-progress` both mean answered: the first stamp counts,
    and a late, out-of-order `ringing` neither moves the ring time nor the status back."""
    await seed.staff(DAY)
    await caller.dial_in()
    await caller.press("0")
    phone = await ring(twilio, caller, rings_for=7, answer=True)
    await phone.event("in-progress", T0 + timedelta(seconds=40))
    await phone.event("ringing", T0 + timedelta(seconds=30), seq=2)
    async with sessions() as session:
        leg = await session.scalar(select(Leg))
    assert leg.answered_at == T0 + timedelta(seconds=8) and leg.ringing_at == T0 + timedelta(seconds=1)
    assert leg.ring_seconds == 7 and leg.status == "in-progress"
