"""A call has at most one Dial in flight: a replayed step rings nobody new.

A captured `/twilio/menu` (or `/twilio/repair`, or a phone's `/twilio/dial-result`)
posted again with a fresh `I-Twilio-Idempotency-Token` is correctly signed and new to
the idempotency check, so only the call's own state can tell it is stale.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from models import Call, Leg
from tests.calls.test_three_rings import DAY
from tests.twilio_client import StaffPhone


async def replay(twilio, url: str, params: dict):
    """The same signed request again, as a new delivery (a fresh idempotency token)."""
    return await twilio.follow(url, params,
                               headers={"I-Twilio-Idempotency-Token": uuid.uuid4().hex})


async def state(sessions, caller) -> tuple[Call, list[Leg]]:
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        legs = (await session.scalars(select(Leg).where(Leg.call_id == call.id)
                                      .order_by(Leg.attempt))).all()
        return call, legs


async def test_a_replayed_menu_key_rings_nobody_new(twilio, caller, seed, sessions):
    await seed.staff(DAY)
    await caller.dial_in()
    menu_url = caller.last.find("Gather").get("action")
    first = await caller.press("0")
    rung = first.find("Number").text
    for digits in ("0", "0", "2", "1", "9"):
        again = await replay(twilio, menu_url, caller.params(Digits=digits))
        assert again.find("Dial") is None and again.find("Gather") is None, again.text
    call, legs = await state(sessions, caller)
    assert [leg.phone for leg in legs] == [rung]  # one leg, the first phone's
    assert (call.menu_choice, call.language) == ("person", "zh")


async def test_a_replayed_dial_result_during_the_hunt_rings_nobody_new(twilio, caller, seed,
                                                                     sessions):
    await seed.staff(DAY + [("孙小姐", "13800000003", "客服部", "07:00-21:00")])
    await caller.dial_in()
    await caller.press("0")
    dial, number = caller.dial()
    first_phone = StaffPhone(twilio, caller, dial, number)
    result = caller.params(DialCallStatus="no-answer", DialCallSid=first_phone.sid)
    second = await first_phone.dial_result("no-answer")  # nobody picked up: the next phone
    assert second.find("Number") is not None
    for _ in range(3):
        again = await replay(twilio, dial.get("action"), result)
        assert again.find("Dial") is None and again.find("Record") is None, again.text
    _, legs = await state(sessions, caller)
    assert len(legs) == 2 and legs[1].phone == second.find("Number").text
    assert legs[0].dial_status == "no-answer" and legs[1].dial_status is None


async def test_after_the_hunt_a_replayed_key_starts_no_second_hunt(twilio, caller, seed,
                                                                   sessions):
    await seed.staff(DAY[:1])
    await caller.dial_in()
    menu_url = caller.last.find("Gather").get("action")
    await caller.press("0")
    dial, number = caller.dial()
    last = await StaffPhone(twilio, caller, dial, number).dial_result("no-answer")
    assert last.find("Record") is not None  # nobody left: a message
    again = await replay(twilio, menu_url, caller.params(Digits="0"))
    assert again.find("Dial") is None and again.find("Record") is None, again.text
    _, legs = await state(sessions, caller)
    assert len(legs) == 1


async def test_a_replayed_repair_key_does_not_turn_a_repair_into_an_emergency(
        twilio, caller, seed, sessions):
    await seed.staff(DAY)
    await caller.dial_in()
    await caller.press("1")
    repair_url = caller.last.find("Gather").get("action")
    await caller.press("2")  # an ordinary repair: the customer-service staff ring
    again = await replay(twilio, repair_url, caller.params(Digits="1"))
    assert again.find("Dial") is None, again.text
    call, legs = await state(sessions, caller)
    assert call.menu_choice == "repair" and len(legs) == 1
