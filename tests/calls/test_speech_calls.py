"""Speak, don't press: the menu hears Mandarin words as Twilio posts them (SpeechResult)."""

from __future__ import annotations

from sqlalchemy import select

from models import Call, Leg
from tests.conftest import local

STAFF = [("王小明", "13800010001", "客服", "00:00-24:00"),
         ("赵师傅", "13800010002", "值班", "00:00-24:00")]


async def the_call(sessions, caller) -> Call:
    async with sessions() as session:
        return await session.scalar(select(Call).where(Call.sid == caller.sid))


async def test_the_menu_listens_for_mandarin_words_as_well_as_keys(caller):
    twiml = await caller.dial_in()
    gather = twiml.find("Gather")
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == "cmn-Hans-CN"
    assert gather.get("speechTimeout") == "auto"
    assert "报修" in gather.get("hints") and "投诉" in gather.get("hints")
    assert "您可以直接说出您的需求，例如“报修”或“投诉”，也可以按键选择" in gather.find("Say").text


async def test_with_speech_off_the_menu_takes_keys_only(caller, settings):
    settings.speech = False
    gather = (await caller.dial_in()).find("Gather")
    assert gather.get("input") == "dtmf" and gather.get("hints") is None
    assert "说出您的需求" not in gather.find("Say").text


async def test_a_spoken_complaint_is_put_through_as_the_complaint_key_and_kept_on_the_call(
        caller, seed, sessions):
    await seed.staff(STAFF)
    await caller.dial_in()
    twiml = await caller.say("楼上装修太吵了，晚上十点还在敲", confidence="0.87")
    assert twiml.find("Dial") is not None
    assert "谢谢您的批评指正" in twiml.spoken  # what the complaint key says
    call = await the_call(sessions, caller)
    assert (call.menu_choice, call.speech_choice) == ("complaint", "complaint")
    assert call.speech_text == "楼上装修太吵了，晚上十点还在敲"
    assert call.speech_confidence == 0.87


async def test_an_emergency_in_words_goes_straight_to_the_emergency_route(caller, seed, sessions, clock):
    clock.set(local(2026, 11, 23, 2, 30))  # the night: the duty phone
    await seed.staff(STAFF)
    await caller.dial_in()
    twiml = await caller.say("家里漏水了，水一直往下流")
    dial, number = caller.dial()
    assert number.text == "+8613800010002"
    assert "一般维修请按2" not in twiml.spoken  # never a second question
    assert "紧急维修，我们立即为您转接工作人员" in twiml.spoken  # told it is taken as urgent
    assert (await the_call(sessions, caller)).menu_choice == "emergency"


async def test_noise_or_an_unsure_recogniser_is_asked_again_never_guessed(caller, sessions):
    await caller.dial_in()
    twiml = await caller.say("喂？")
    assert "我没有听清您的需求" in twiml.spoken and twiml.find("Gather") is not None
    twiml = await caller.say("厨房着火了", confidence="0.08")
    assert "我没有听清您的需求" in twiml.spoken and twiml.find("Dial") is None
    call = await the_call(sessions, caller)
    assert call.menu_choice is None and call.speech_choice is None
    assert call.speech_text == "厨房着火了"


async def test_words_that_keep_meaning_nothing_reach_a_person_like_wrong_keys(caller, seed):
    await seed.staff(STAFF)
    await caller.dial_in()
    for _ in range(3):
        assert (await caller.say("嗯")).find("Dial") is None
    assert (await caller.say("嗯")).find("Dial") is not None


async def test_the_repair_question_hears_words_too(caller, seed, sessions, clock):
    clock.set(local(2026, 11, 23, 2, 30))
    await seed.staff(STAFF)
    await caller.dial_in()
    twiml = await caller.say("马桶堵了")
    assert "紧急维修请按1" in twiml.spoken and twiml.find("Dial") is None
    twiml = await caller.say("不对，是水管爆了")
    assert "紧急维修，我们立即为您转接工作人员" in twiml.spoken
    assert caller.dial()[1].text == "+8613800010002"
    assert (await the_call(sessions, caller)).menu_choice == "emergency"
