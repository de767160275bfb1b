"""`POST /twilio/follow-up-answer?job=ID`: the resident's key on a follow-up call (回访)."""

from __future__ import annotations

from typing import Mapping

from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from ivr.platform.clock import parse_int
from ivr.platform.hotline import Hotline
from ivr.tickets import followup, survey
from models import OutboundJob

from .twiml import twiml_webhook

Fields = Mapping[str, str]


def answer_key(path: str, query: Fields, form: Fields) -> str | None:
    """A retried answer (same job, call and key) is replayed, not recorded twice.

    Invalid or missing keys are not deduplicated: each one counts as a new prompt."""
    digits = (form.get("Digits") or "").strip()
    if digits not in followup.SATISFACTION_KEYS:
        return None
    return f"{path}:{query.get('job', '')}:{form['CallSid']}:{digits}"[:200]


def goodbye(hotline: Hotline) -> VoiceResponse:
    response = VoiceResponse()
    hotline.speaker("zh").say(response, "follow_up_goodbye")
    response.hangup()
    return response


def saved_for_later(hotline: Hotline, _roster, _query: Fields, form: Fields) -> VoiceResponse:
    """Database unreachable: the answer is journaled and recorded when it is back."""
    response = VoiceResponse()
    speaker = hotline.speaker("zh")
    if (form.get("Digits") or "").strip() in followup.SATISFACTION_KEYS:
        speaker.say(response, "follow_up_thanks")
    speaker.say(response, "follow_up_goodbye")
    response.hangup()
    return response


async def _answer(session: AsyncSession, hotline: Hotline, query: Fields, form: Fields):
    job_id = parse_int(query.get("job"))
    job = await session.get(OutboundJob, job_id) if job_id is not None and 0 < job_id < 2**31 else None
    return await survey.answer(session, hotline, job=job, form=form)


answer = twiml_webhook(_answer, dedupe=answer_key, fallback=saved_for_later, on_error=goodbye)
