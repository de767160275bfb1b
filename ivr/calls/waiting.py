"""The caller's side of the queue: the wait loop, its keys, and the way out to a person.

`/twilio/queue-wait` is each turn of the loop. It is the fallback for the dispatcher
(`ivr/calls/dispatcher.py`): a caller whose turn has come is put through from here when
no redirect came. `/twilio/queue-connect?leg=N` is where the dispatcher redirects a
caller it gave a free person to.
"""

from __future__ import annotations

from typing import Mapping

from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from ivr.calls import queue, transfer
from ivr.calls.records import get_or_create_call
from ivr.platform.hotline import Hotline
from models import Call, Leg


def connect_leg(hotline: Hotline, *, call: Call, leg: Leg) -> VoiceResponse:
    """The reserved person's phone rings now; the offer is used up."""
    call.queue_leg_id = None
    response = VoiceResponse()
    hotline.speaker(call.language).say(response, "please_wait")
    return transfer.dial_leg(hotline, call=call, leg=leg, response=response)


def hold(hotline: Hotline) -> VoiceResponse:
    """A moment's quiet while the dispatcher's redirect arrives."""
    response = VoiceResponse()
    response.pause(length=2)
    response.redirect(hotline.url("/twilio/queue-wait"), method="POST")
    return response


async def wait(session: AsyncSession, hotline: Hotline, *, form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/queue-wait`: a person if one is free for this caller, a message past
    `IVR_QUEUE_MAX_SECONDS`, else another turn in line."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    response = VoiceResponse()
    if call.ended_at is not None:  # a turn arriving after the caller hung up: nobody to wait
        return response
    leg = await queue.offered_leg(session, call)
    if leg is not None:
        age = (hotline.now - leg.created_at).total_seconds()
        if age < queue.STALE_OFFER_SECONDS:
            return hold(hotline)
        return connect_leg(hotline, call=call, leg=leg)  # the redirect never came
    if call.queue_exit == "timeout" and not queue.is_waiting(call):
        return transfer.take_message(hotline, call=call, response=response)  # the dispatcher's
    if not queue.is_waiting(call):  # still in the loop (a late turn): back in line
        queue.join(call, now=hotline.now)
    if queue.waited(call, now=hotline.now) >= hotline.settings.queue_max_seconds:
        queue.leave(call, now=hotline.now, exit="timeout")
        return transfer.take_message(hotline, call=call, response=response)
    offers = await queue.offer_free_staff(session, settings=hotline.settings, now=hotline.now,
                                          only=call)
    if offers:
        leg = await session.get(Leg, offers[0].leg_id)
        assert leg is not None
        return connect_leg(hotline, call=call, leg=leg)
    return await queue.wait_turn(session, hotline, call=call, response=response)


async def key(session: AsyncSession, hotline: Hotline, *, form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/queue-key`: 1 leaves the line for a message and a callback."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    digits = (form.get("Digits") or "").strip()
    if digits == queue.LEAVE_KEY and queue.is_waiting(call):
        queue.leave(call, now=hotline.now, exit="message")
        return transfer.take_message(hotline, call=call, response=VoiceResponse())
    return await wait(session, hotline, form=form)


async def connect(session: AsyncSession, hotline: Hotline, *, form: Mapping[str, str],
                  leg: Leg) -> VoiceResponse:
    """`POST /twilio/queue-connect?leg=N`: the dispatcher's redirect to a free person."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    if call.queue_leg_id == leg.id and leg.completed_at is None:
        return connect_leg(hotline, call=call, leg=leg)
    # Already put through by the caller's own wait loop, or withdrawn: wait on.
    return await wait(session, hotline, form=form)
