"""Handlers for the hotline's own call: greeting, menu, hunt, screening, message, status."""

from __future__ import annotations

from typing import Mapping

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from ivr.calls import callflow, degraded, transfer, waiting
from ivr.platform.hotline import Hotline

from .twiml import twiml_webhook

Fields = Mapping[str, str]


def hang_up(_hotline: Hotline) -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


def nothing(_hotline: Hotline) -> VoiceResponse:
    return VoiceResponse()


def callback_key(path: str, query: Fields, form: Fields) -> str:
    """Status callbacks come twice: the same call, status and sequence is one event."""
    marker = form.get("SequenceNumber") or form.get("Timestamp") or ""
    leg = query.get("leg") or f"{query.get('call', '')}#{query.get('n', '')}"
    return f"{path}:{leg}:{form['CallSid']}:{form.get('CallStatus', '')}:{marker}"[:200]


async def _answer(session: AsyncSession, hotline: Hotline, query: Fields, form: Fields):
    return await callflow.answer(session, hotline, form=form)


async def _staff_menu(session, hotline, query, form):
    return await callflow.staff_menu(session, hotline, form=form)


async def _menu(session, hotline, query, form):
    return await callflow.menu(session, hotline, form=form)


async def _notice(session, hotline, query, form):
    return await callflow.notice_key(session, hotline, form=form)


async def _repair(session, hotline, query, form):
    return await callflow.repair(session, hotline, form=form)


async def _fees(session, hotline, query, form):
    return await callflow.fees_key(session, hotline, form=form)


async def _dial_result(session, hotline, query, form):
    leg = await transfer.get_leg(session, hotline, query, form)
    if leg is None:
        raise web.HTTPBadRequest(text="unknown leg")
    return await transfer.dial_result(session, hotline, form=form, leg=leg)


async def _screen(session, hotline, query, form):
    return await transfer.screen(session, hotline, query=query, form=form)


async def _screen_answer(session, hotline, query, form):
    return await transfer.screen_answer(session, hotline, query=query, form=form)


async def _leg_status(session, hotline, query, form):
    await transfer.leg_event(session, hotline, query=query, form=form)
    return None


async def _message(session, hotline, query, form):
    return await transfer.message(session, hotline, form=form)


async def _queue_wait(session, hotline, query, form):
    return await waiting.wait(session, hotline, form=form)


async def _queue_key(session, hotline, query, form):
    return await waiting.key(session, hotline, form=form)


async def _queue_connect(session, hotline, query, form):
    leg = await transfer.get_leg(session, hotline, query, form)
    if leg is None:
        raise web.HTTPBadRequest(text="unknown leg")
    return await waiting.connect(session, hotline, form=form, leg=leg)


async def _status(session, hotline, query, form):
    if query.get("job"):  # a call the dialer placed: `?job=ID&n=ATTEMPT` (ivr/outbound/answered.py)
        from ivr.outbound import answered

        await answered.status(session, hotline, query=query, form=form)
        return None
    await transfer.call_status(session, hotline, form=form)
    return None


voice = twiml_webhook(_answer)
menu = twiml_webhook(_menu)
notice = twiml_webhook(_notice)
staff_menu = twiml_webhook(_staff_menu)
repair = twiml_webhook(_repair)
fees = twiml_webhook(_fees)
dial_result = twiml_webhook(_dial_result, fallback=degraded.after_dial)
screen = twiml_webhook(_screen, fallback=degraded.screen, on_error=hang_up)
screen_answer = twiml_webhook(_screen_answer, fallback=degraded.screen_answer, on_error=hang_up)
leg_status = twiml_webhook(_leg_status, dedupe=callback_key, fallback=degraded.nothing,
                           on_error=nothing)
message = twiml_webhook(_message, fallback=degraded.message)
queue_wait = twiml_webhook(_queue_wait)
queue_key = twiml_webhook(_queue_key)
queue_connect = twiml_webhook(_queue_connect)
status = twiml_webhook(_status, dedupe=callback_key, fallback=degraded.nothing, on_error=nothing)
