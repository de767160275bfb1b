"""`POST /twilio/follow-up-answer?job=ID`: the resident's key on a follow-up call (回访)."""

from __future__ import annotations

from typing import Mapping

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from ivr import followup
from ivr.callflow import Hotline
from ivr.clock import parse_int
from models import OutboundJob

from .twiml import twiml_webhook


def answer_key(request: web.Request, form: Mapping[str, str]) -> str | None:
    """A retried answer (same job, call and key) is replayed, not recorded twice.

    Invalid or missing keys are not deduplicated: each one counts as a new prompt."""
    digits = (form.get("Digits") or "").strip()
    if digits not in followup.SATISFACTION_KEYS:
        return None
    return f"{request.path}:{request.query.get('job', '')}:{form['CallSid']}:{digits}"[:200]


def goodbye(hotline: Hotline) -> VoiceResponse:
    response = VoiceResponse()
    hotline.speaker("zh").say(response, "follow_up_goodbye")
    response.hangup()
    return response


async def _answer(session: AsyncSession, hotline: Hotline, request: web.Request, form):
    job_id = parse_int(request.query.get("job"))
    job = await session.get(OutboundJob, job_id) if job_id is not None else None
    return await followup.answer(session, hotline, job=job, form=form)


answer = twiml_webhook(_answer, dedupe=answer_key, on_error=goodbye)
