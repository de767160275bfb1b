"""签入/签出 by keypad: a staff member who calls the hotline from their registered phone
hears a short staff menu instead of the residents' greeting.

`1` signs in, `2` signs out, `0` (or no key) goes on to the residents' menu, so staff can
still try the line as a resident would. The call is kept, with the outcome `staff`, and
is not counted among the residents' inbound calls.
"""

from __future__ import annotations

from typing import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from ivr.people import sign_ins
from ivr.platform.hotline import Hotline
from models import Call, Staff

SIGN_IN_KEY = "1"
SIGN_OUT_KEY = "2"
OUTCOME = "staff"


async def staff_calling(session: AsyncSession, *, call: Call) -> Staff | None:
    """The staff member whose registered phone this inbound call comes from."""
    if call.direction != "inbound" or not call.from_number:
        return None
    return await session.scalar(select(Staff).where(Staff.phone == call.from_number))


async def staff_menu(session: AsyncSession, hotline: Hotline, *, call: Call,
                     staff: Staff) -> VoiceResponse:
    """The staff menu, with whether they are signed in now."""
    call.outcome = OUTCOME
    last = await sign_ins.latest(session, staff_ids=[staff.id], now=hotline.now)
    now_in = sign_ins.attendance(staff, last.get(staff.id), settings=hotline.settings,
                                 now=hotline.now).signed_in
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=hotline.url("/twilio/staff-menu"),
                             method="POST", timeout=hotline.settings.gather_timeout_seconds,
                             action_on_empty_result=True, input="dtmf")
    hotline.speaker(call.language).say(gather, "staff_menu", staff_name=staff.name,
                                       company=hotline.settings.company_name,
                                       signed_in=now_in)
    return response


async def staff_key(session: AsyncSession, hotline: Hotline, *, call: Call,
                    form: Mapping[str, str]) -> VoiceResponse | None:
    """`POST /twilio/staff-menu`: 1 signs in, 2 signs out; None: on to the residents' menu."""
    staff = await staff_calling(session, call=call)
    digits = (form.get("Digits") or "").strip()
    if staff is None or digits not in (SIGN_IN_KEY, SIGN_OUT_KEY):
        return None
    signed_in = digits == SIGN_IN_KEY
    await sign_ins.record(session, staff=staff, signed_in=signed_in, now=hotline.now,
                          source="keypad", actor=staff.name)
    response = VoiceResponse()
    hotline.speaker(call.language).say(
        response, "staff_signed_in" if signed_in else "staff_signed_out")
    response.hangup()
    return response
