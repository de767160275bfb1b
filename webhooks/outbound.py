"""Handlers for the calls the dialer places (`?job=ID&n=ATTEMPT` on every URL).

Their status callbacks come to `/twilio/status?job=…` (the contract's URL for every
outbound call), which hands them to `ivr.outbound.answered.status`.
"""

from __future__ import annotations

from typing import Mapping

from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from ivr.outbound import answered
from ivr.platform.hotline import Hotline

from .twiml import twiml_webhook

Fields = Mapping[str, str]


def hang_up(hotline: Hotline, *_args) -> VoiceResponse:
    """Without the database the flow cannot know what to say: hang up; the attempt is
    settled from Twilio's records later and the job tried again."""
    response = VoiceResponse()
    response.hangup()
    return response


def nothing(hotline: Hotline, *_args) -> VoiceResponse:
    return VoiceResponse()


def greeting_only(hotline: Hotline, *_args) -> VoiceResponse:
    response = VoiceResponse()
    hotline.speaker("zh").say(response, "outbound_callback_greeting",
                              company=hotline.settings.company_name)
    return response


async def _answer(session: AsyncSession, hotline: Hotline, query: Fields, form: Fields):
    return await answered.answer(session, hotline, query=query, form=form)


async def _key(session, hotline, query, form):
    return await answered.key(session, hotline, query=query, form=form)


async def _greet(session, hotline, query, form):
    return await answered.greet(session, hotline, query=query, form=form)


async def _dial_result(session, hotline, query, form):
    return await answered.dial_result(session, hotline, query=query, form=form)


answer = twiml_webhook(_answer, fallback=hang_up, on_error=hang_up)
key = twiml_webhook(_key, fallback=hang_up, on_error=hang_up)
greet = twiml_webhook(_greet, fallback=greeting_only, on_error=greeting_only)
dial_result = twiml_webhook(_dial_result, fallback=hang_up, on_error=hang_up)
