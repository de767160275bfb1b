"""The menu's finer rules a caller notices: silence at the repair question, the fee menu's keys."""

from __future__ import annotations

from sqlalchemy import select

from models import Call
from tests.conftest import local

STAFF = [("王小明", "13800010001", "客服", "00:00-24:00"),
         ("赵师傅", "13800010002", "值班", "00:00-24:00")]
RESIDENT = ("李阿姨", "13900000001", "3栋2单元501", "1280.50")


async def the_call(sessions, caller) -> Call:
    async with sessions() as session:
        return await session.scalar(select(Call).where(Call.sid == caller.sid))


async def test_silence_at_the_repair_question_is_a_general_repair_and_keeps_the_words_heard(
        caller, seed, sessions, clock):
    """Nothing said, nothing pressed: a person for a repair (not the duty phone), and the
    call page still shows what the caller said at the menu."""
    clock.set(local(2026, 11, 23, 10, 30))
    await seed.staff(STAFF)
    await caller.dial_in()
    twiml = await caller.say("马桶堵了")
    gather = twiml.find("Gather")
    assert gather.get("actionOnEmptyResult") == "true"
    caller.last = await caller.twilio.follow(gather.get("action"), caller.params())  # silence
    assert caller.last.find("Dial") is not None
    call = await the_call(sessions, caller)
    assert call.menu_choice == "repair"
    assert (call.speech_text, call.speech_choice) == ("马桶堵了", "repair")


async def test_the_fee_menu_takes_one_key_at_once(caller, seed):
    """One key press acts at once: the caller is not left waiting for the timeout or #;
    and a caller slow to press is given as long as at the main menu."""
    await seed.residents([RESIDENT])
    greeting = await caller.dial_in()
    gather = (await caller.press("3")).find("Gather")
    assert gather.get("timeout") == greeting.find("Gather").get("timeout") == "6"
    assert gather.get("numDigits") == "1"
    assert gather.get("input") in (None, "dtmf")  # keys only: Twilio's default is dtmf
    assert gather.get("action").endswith("/twilio/fees")


async def test_star_says_the_menu_again(caller, seed):
    """A caller who missed the choices presses * and hears the same menu, ready for a key."""
    await seed.staff(STAFF)
    greeting = await caller.dial_in()
    menu_words = [el.text for el in greeting.find("Gather").iter("Say")]
    again = await caller.press("*")
    gather = again.find("Gather")
    assert gather is not None and gather.get("action").endswith("/twilio/menu")
    assert [el.text for el in gather.iter("Say")][:len(menu_words) - 1] == menu_words[:-1]
    assert again.find("Dial") is None


async def test_the_fee_menu_is_logged_as_a_fee_call(caller, seed, sessions):
    """Self-service calls count too: the call log and the dashboard's calls by menu choice
    show a resident who only asked about fees."""
    await seed.residents([RESIDENT])
    await caller.dial_in()
    await caller.press("3")
    assert (await the_call(sessions, caller)).menu_choice == "fees"


async def test_a_caller_who_keeps_pressing_wrong_keys_is_logged_as_asking_for_a_person(
        caller, seed, sessions):
    """After the retries a person takes the call, and the log says why the call went to one."""
    await seed.staff(STAFF)
    await caller.dial_in()
    for _ in range(4):
        twiml = await caller.press("7")
    assert twiml.find("Dial") is not None
    assert (await the_call(sessions, caller)).menu_choice == "person"
