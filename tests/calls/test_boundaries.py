"""The switchboard's edges: how many phones one call rings, and the minute a shift ends.

A shift is half-open, `[start, end)`: `08:00-18:00` covers 17:59:59 and not 18:00, which
is the first minute of the shift that follows (DOMAIN.md's 7:00–14:00 and 14:00–21:00
shifts meet at 14:00; one person, not both, is on at 14:00).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ivr.app import create_app
from tests.conftest import local
from tests.twilio_client import Caller, StaffPhone, Twilio

FOUR_ON_SHIFT = [(f"客服{n}", f"1380000001{n}", "客服部", "07:00-21:00") for n in range(1, 5)]
DAY_AND_NIGHT = [("白班", "13800000021", "客服部", "08:00-18:00"),
                 ("夜班", "13800000022", "值班", "18:00-08:00")]


async def hunt(twilio: Twilio, clock) -> tuple[list[str], Caller]:
    """A caller asks for a person (0) and no phone answers: the numbers rung, in order."""
    caller = Caller(twilio)
    await caller.dial_in()
    await caller.press("0")
    rung = []
    for _ in range(10):
        if caller.last.find("Dial") is None:
            break
        dial, number = caller.dial()
        rung.append(number.text)
        phone = StaffPhone(twilio, caller, dial, number)
        await phone.event("initiated", clock())
        await phone.event("ringing", clock() + timedelta(seconds=1))
        await phone.event("no-answer", clock() + timedelta(seconds=18))
        await phone.dial_result("no-answer")
    return rung, caller


@pytest.mark.parametrize("max_hunt", [2, 3])
async def test_a_call_rings_at_most_ivr_max_hunt_phones_then_takes_a_message(
        aiohttp_client, settings, clock, seed, max_hunt):
    await seed.staff(FOUR_ON_SHIFT)
    app = create_app(settings.model_copy(update={"max_hunt": max_hunt}), clock=clock)
    twilio = Twilio(await aiohttp_client(app))
    rung, caller = await hunt(twilio, clock)
    assert len(rung) == max_hunt and len(set(rung)) == max_hunt  # four were free
    assert caller.last.find("Record") is not None                # then a message


@pytest.mark.parametrize(("moment", "rings"), [
    (local(2026, 11, 23, 17, 59, 59), "+8613800000021"),  # the day shift's last second
    (local(2026, 11, 23, 18, 0, 0), "+8613800000022"),    # 18:00 is the night's, not the day's
    (local(2026, 11, 24, 7, 59, 59), "+8613800000022"),   # across midnight: still the night's
    (local(2026, 11, 24, 8, 0, 0), "+8613800000021"),     # 08:00 is the day's again
])
async def test_the_minute_a_shift_ends_belongs_to_the_next_shift(twilio, clock, seed, moment, rings):
    await seed.staff(DAY_AND_NIGHT)
    clock.set(moment)
    rung, _ = await hunt(twilio, clock)
    assert rung == [rings]
