"""The hotline answers: greeting by time of day, the menu, each key, bad and missing input."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from models import Call, CallEvent, Leg
from tests.conftest import local
from tests.twilio_client import Caller

RESIDENT = ("李阿姨", "13900000001", "3栋2单元501", "1280.50")


@pytest.mark.parametrize("hour,greeting", [(8, "上午好"), (11, "上午好"), (12, "下午好"),
                                           (17, "下午好"), (19, "晚上好"), (2, "晚上好")])
async def test_greeting_follows_the_time_of_day_in_the_centres_zone(caller, clock, hour, greeting):
    clock.set(local(2026, 11, 23, hour, 30))
    twiml = await caller.dial_in()
    assert twiml.status == 200
    assert twiml.says()[0].startswith(greeting)
    assert "您好，阳光花园物业客服中心" in twiml.says()[0]


async def test_menu_is_a_mandarin_gather_offering_every_key_and_english(caller):
    twiml = await caller.dial_in()
    gather = twiml.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    assert gather.get("action") == "https://hotline.example.com/twilio/menu"
    say, offer = gather.findall("Say")
    assert say.get("voice") == "Polly.Zhiyu" and say.get("language") == "cmn-CN"
    for words in ("人工客服请按0", "维修请按1", "投诉请按2", "物业费请按3", "其他咨询请按4"):
        assert words in say.text
    assert offer.text == "For English, press 9." and offer.get("language") == "en-US"


async def test_twiml_is_served_as_utf8_xml(client, twilio, caller):
    resp = await client.post("/twilio/voice", data=caller.params(),
                             headers={"X-Twilio-Signature": twilio.sign("/twilio/voice", caller.params())})
    assert resp.headers["Content-Type"] == "text/xml; charset=utf-8"


async def test_a_known_caller_is_recognised_and_not_asked_for_the_address(caller, seed, sessions):
    await seed.residents([RESIDENT])
    twiml = await caller.dial_in()
    assert "3栋2单元501" in twiml.says()[0]
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        assert call.resident_id is not None
    twiml = await caller.press("1")
    assert "我们已记录您的地址：3栋2单元501" in twiml.spoken
    assert "地址" not in twiml.find("Gather").find("Say").text.replace("我们已记录您的地址：3栋2单元501", "")


async def test_an_unknown_caller_is_greeted_without_an_address(caller):
    twiml = await caller.dial_in()
    assert "查到您的房屋" not in twiml.says()[0]


async def test_nine_switches_to_english_and_back(caller):
    await caller.dial_in()
    twiml = await caller.press("9")
    say, offer = twiml.find("Gather").findall("Say")
    assert say.get("language") == "en-US" and "For repairs, press 1" in say.text
    assert offer.get("language") == "cmn-CN" and "普通话服务请按9" in offer.text
    twiml = await caller.press("9")
    assert "维修请按1" in twiml.find("Gather").find("Say").text


async def test_an_invalid_key_is_explained_and_the_menu_offered_three_times_then_a_person(caller, seed):
    await seed.staff([("王小姐", "13800000001", "客服部", "00:00-24:00")])
    await caller.dial_in()
    for _ in range(3):
        twiml = await caller.press("7")
        assert "您按的键不在菜单中" in twiml.spoken
        assert twiml.find("Gather") is not None
        assert twiml.find("Dial") is None
    twiml = await caller.press("7")
    assert twiml.find("Dial") is not None
    assert twiml.find("Dial").find("Number").text == "+8613800000001"


async def test_no_input_offers_the_menu_once_more_then_a_person(caller, seed):
    await seed.staff([("王小姐", "13800000001", "客服部", "00:00-24:00")])
    await caller.dial_in()
    twiml = await caller.press("")
    assert "没有收到您的按键" in twiml.spoken and twiml.find("Gather") is not None
    twiml = await caller.press("")
    assert twiml.find("Dial") is not None


async def test_no_input_and_nobody_on_duty_takes_a_message(caller):
    await caller.dial_in()
    await caller.press("")
    twiml = await caller.press("")
    assert twiml.find("Dial") is None
    assert twiml.find("Record") is not None
    assert "留下您的姓名、电话号码" in twiml.spoken


@pytest.mark.parametrize("key,choice,heard", [
    ("0", "person", "请稍等"),
    ("2", "complaint", "谢谢您的批评指正"),
    ("4", "inquiry", "咨询装修手续"),
])
async def test_keys_that_go_to_a_person(caller, seed, sessions, key, choice, heard):
    await seed.staff([("王小姐", "13800000001", "客服部", "00:00-24:00")])
    await caller.dial_in()
    twiml = await caller.press(key)
    assert heard in twiml.spoken
    assert twiml.find("Dial") is not None
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        assert call.menu_choice == choice


async def test_repairs_offer_an_emergency_key_and_general_repairs_go_to_a_person(caller, seed, sessions):
    await seed.staff([("王小姐", "13800000001", "客服部", "00:00-24:00")])
    await caller.dial_in()
    twiml = await caller.press("1")
    assert "紧急维修请按1" in twiml.spoken
    twiml = await caller.press("2")
    assert twiml.find("Dial").find("Number").text == "+8613800000001"
    async with sessions() as session:
        assert (await session.scalar(select(Call.menu_choice).where(Call.sid == caller.sid))) == "repair"


async def test_emergency_repair_rings_the_duty_phone_at_once(caller, seed):
    await seed.staff([("王小姐", "13800000001", "客服部", "00:00-24:00"),
                      ("夜班老赵", "13800000009", "值班", "00:00-24:00")])
    await caller.dial_in()
    await caller.press("1")
    twiml = await caller.press("1")
    assert "立即为您转接工作人员" in twiml.spoken
    assert twiml.spoken.count("请稍等") == 1  # said once, not by the intro and again
    assert twiml.find("Dial").find("Number").text == "+8613800000009"


async def test_by_day_the_emergency_route_rings_staff_on_shift_and_does_not_call_them_duty(caller, seed):
    await seed.staff([("王小姐", "13800000001", "客服部", "07:00-21:00"),
                      ("夜班老赵", "13800000009", "值班", "21:00-07:00")])
    await caller.dial_in()
    await caller.press("1")
    twiml = await caller.press("1")
    assert twiml.find("Dial").find("Number").text == "+8613800000001"
    assert "值班人员" not in twiml.spoken and twiml.spoken.count("请稍等") == 1


async def test_fees_tell_a_known_resident_the_arrears_and_offer_a_person(caller, seed):
    await seed.residents([RESIDENT])
    await seed.staff([("王小姐", "13800000001", "客服部", "00:00-24:00")])
    await caller.dial_in()
    twiml = await caller.press("3")
    assert "目前欠缴物业费1280.50元" in twiml.spoken
    assert twiml.find("Dial") is None
    twiml = await caller.press("1")
    assert "1280.50元" in twiml.spoken
    twiml = await caller.press("0")
    assert twiml.find("Dial") is not None


async def test_fees_for_an_unknown_caller_go_to_a_person(caller, seed):
    await seed.staff([("王小姐", "13800000001", "客服部", "00:00-24:00")])
    await caller.dial_in()
    twiml = await caller.press("3")
    assert "为您查询" in twiml.spoken and twiml.find("Dial") is not None


async def test_every_webhook_is_kept_as_an_event(caller, sessions):
    await caller.dial_in()
    await caller.press("5")
    async with sessions() as session:
        kinds = (await session.scalars(
            select(CallEvent.kind).where(CallEvent.call_sid == caller.sid).order_by(CallEvent.id))).all()
    assert kinds == ["voice", "menu"]


async def test_a_retried_webhook_gets_the_same_answer_and_changes_nothing(caller, twilio, sessions):
    await caller.dial_in()
    headers = {"I-Twilio-Idempotency-Token": "retry-token-1"}
    first = await twilio.post("/twilio/menu", caller.params(Digits="7"), headers=headers)
    second = await twilio.post("/twilio/menu", caller.params(Digits="7"), headers=headers)
    assert first.text == second.text
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        assert call.invalid_inputs == 1


async def test_a_retried_transfer_rings_nobody_twice(caller, twilio, sessions, seed):
    """The retry runs against a call that already has its leg; it must not add another,
    and must hear the very same <Dial> (the same leg's URLs)."""
    await seed.staff([("王小姐", "13800000001", "客服部", "00:00-24:00"),
                      ("李先生", "13800000002", "客服部", "00:00-24:00")])
    await caller.dial_in()
    headers = {"I-Twilio-Idempotency-Token": "retry-token-2"}
    first = await twilio.post("/twilio/menu", caller.params(Digits="0"), headers=headers)
    second = await twilio.post("/twilio/menu", caller.params(Digits="0"), headers=headers)
    assert first.find("Number").text == "+8613800000001"
    assert second.text == first.text
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        legs = (await session.scalars(select(Leg).where(Leg.call_id == call.id))).all()
        events = (await session.scalars(select(CallEvent.kind).where(
            CallEvent.call_sid == caller.sid))).all()
    assert [leg.phone for leg in legs] == ["+8613800000001"]
    assert sorted(events) == ["menu", "voice"]


async def test_two_deliveries_of_one_webhook_at_once_are_applied_once(caller, twilio, sessions,
                                                                       seed):
    """Twilio retries when an answer is slow, so the retry can arrive while the first is
    still being handled (on PostgreSQL the two run at once)."""
    await seed.staff([("王小姐", "13800000001", "客服部", "00:00-24:00"),
                      ("李先生", "13800000002", "客服部", "00:00-24:00")])
    await caller.dial_in()
    headers = {"I-Twilio-Idempotency-Token": "retry-token-3"}
    answers = await asyncio.gather(*(
        twilio.post("/twilio/menu", caller.params(Digits="0"), headers=headers)
        for _ in range(3)))
    assert {a.status for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        legs = (await session.scalars(select(Leg).where(Leg.call_id == call.id))).all()
    assert len(legs) == 1


async def test_a_retried_greeting_makes_one_call(twilio, sessions):
    caller = Caller(twilio)
    headers = {"I-Twilio-Idempotency-Token": "retry-token-4"}
    first = await twilio.post("/twilio/voice", caller.params(CallStatus="ringing"), headers=headers)
    second = await twilio.post("/twilio/voice", caller.params(CallStatus="ringing"), headers=headers)
    assert first.find("Gather") is not None and second.text == first.text
    async with sessions() as session:
        calls = (await session.scalars(select(Call).where(Call.sid == caller.sid))).all()
        events = (await session.scalars(select(CallEvent).where(
            CallEvent.call_sid == caller.sid))).all()
    assert len(calls) == 1 and len(events) == 1


async def test_the_call_status_closes_the_call_with_twilios_duration(caller, clock, sessions):
    await caller.dial_in()
    end = local(2026, 11, 23, 10, 1, 30)
    twiml = await caller.hangup(at=end, duration=85)
    assert twiml.status == 200
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
    assert call.ended_at == end and call.duration_seconds == 85
    assert (call.ended_at - call.started_at).total_seconds() == 85
    assert call.status == "completed"


async def test_status_before_the_voice_webhook_still_makes_the_call_row(twilio, sessions):
    late = Caller(twilio)
    await late.hangup(at=local(2026, 11, 23, 10, 0, 40), duration=40)
    await late.dial_in()
    async with sessions() as session:
        calls = (await session.scalars(select(Call).where(Call.sid == late.sid))).all()
    assert len(calls) == 1 and calls[0].status == "completed" and calls[0].duration_seconds == 40


async def test_a_duplicate_status_callback_is_one_event(caller, sessions):
    await caller.dial_in()
    end = local(2026, 11, 23, 10, 1, 0)
    params = caller.params(CallStatus="completed", CallDuration=60, Timestamp="Mon, 23 Nov 2026 02:01:00 +0000",
                           SequenceNumber=1)
    for _ in range(2):
        assert (await caller.twilio.post("/twilio/status", params)).status == 200
    async with sessions() as session:
        events = (await session.scalars(select(CallEvent).where(
            CallEvent.call_sid == caller.sid, CallEvent.kind == "status"))).all()
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
    assert len(events) == 1 and call.ended_at == end


async def test_a_failure_inside_the_flow_still_answers_twiml_with_a_way_forward(caller, client, monkeypatch):
    from ivr.calls import callflow

    async def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(callflow, "menu", broken)
    await caller.dial_in()
    twiml = await caller.press("1")
    assert twiml.status == 200
    assert "系统暂时出现问题" in twiml.spoken
    assert twiml.find("Record") is not None


async def test_a_retry_whose_step_now_fails_still_hears_its_first_answer(caller, twilio,
                                                                          monkeypatch):
    """A retry runs its step against the state the first delivery left; if that fails,
    the caller must hear what the first delivery answered, not the apology."""
    from ivr.calls import callflow

    await caller.dial_in()
    headers = {"I-Twilio-Idempotency-Token": "retry-token-5"}
    first = await twilio.post("/twilio/menu", caller.params(Digits="7"), headers=headers)

    async def broken(*args, **kwargs):
        raise RuntimeError("the call has moved on")

    monkeypatch.setattr(callflow, "menu", broken)
    second = await twilio.post("/twilio/menu", caller.params(Digits="7"), headers=headers)
    assert "系统暂时出现问题" not in first.spoken
    assert second.status == 200 and second.text == first.text


async def test_a_request_without_callsid_is_a_400(twilio):
    twiml = await twilio.post("/twilio/voice", {"From": "+8613900000001"})
    assert twiml.status == 400


async def test_an_oversized_body_is_refused_with_413(client, twilio, caller):
    params = caller.params(Padding="x" * 300_000)
    resp = await client.post("/twilio/voice", data=params,
                             headers={"X-Twilio-Signature": twilio.sign("/twilio/voice", params)})
    assert resp.status == 413


async def test_an_overlong_field_is_a_400_not_an_error(twilio, caller):
    twiml = await twilio.post("/twilio/menu", caller.params(Digits="1" * 5000))
    assert twiml.status == 400
