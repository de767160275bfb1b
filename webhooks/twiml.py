"""The shared shape of a Twilio webhook: one transaction, replay on retry, never a 500.

Each step is a call-flow function; this module only turns HTTP into its arguments and
its result into a response. The event is stored in the same transaction as the step's
changes, so a webhook that got a 200 is in the database.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, Mapping

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from ivr.callflow import Hotline, apology
from ivr.calls import record_event, stored_response
from ivr.phones import mask
from ivr.resources import CLOCK, SCRIPTS, SESSIONS, SETTINGS

log = logging.getLogger(__name__)

Step = Callable[[AsyncSession, Hotline, web.Request, Mapping[str, str]], Awaitable[VoiceResponse | None]]
MAX_FIELD = 2000


def hotline_for(request: web.Request) -> Hotline:
    app = request.app
    return Hotline(settings=app[SETTINGS], scripts=app[SCRIPTS], now=app[CLOCK]())


def xml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml", charset="utf-8")


async def read_form(request: web.Request) -> dict[str, str]:
    """The webhook's fields, or 400 for something Twilio would never send."""
    if request.method != "POST":
        raise web.HTTPMethodNotAllowed(request.method, ["POST"])
    try:
        form = await request.post()
    except (ValueError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(text=f"unreadable form: {exc}") from exc
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    sid = fields.get("CallSid", "")
    if not sid or len(sid) > 64 or not sid.isascii():
        raise web.HTTPBadRequest(text="CallSid missing or malformed")
    if any(len(v) > MAX_FIELD for v in fields.values()):
        raise web.HTTPBadRequest(text="field too long")
    return fields


def event_kind(request: web.Request) -> str:
    return request.path.removeprefix("/twilio/")[:40] or "twilio"


def twiml_webhook(step: Step, *, dedupe: Callable[[web.Request, Mapping[str, str]], str | None] | None = None,
                  on_error: Callable[[Hotline], VoiceResponse] = apology):
    """Wrap a call-flow step as a handler that answers TwiML whatever happens.

    `dedupe` names a natural key for callbacks that come without an idempotency token;
    `on_error` is what to answer if the step fails (the caller's apology by default).
    """

    async def handler(request: web.Request) -> web.Response:
        form = await read_form(request)
        hotline = hotline_for(request)
        token = request.headers.get("I-Twilio-Idempotency-Token")
        key = f"idem:{token}" if token else (dedupe(request, form) if dedupe else None)
        call_sid = form["CallSid"]
        try:
            async with request.app[SESSIONS]() as session, session.begin():
                prior = await stored_response(session, key)
                if prior is not None:
                    return xml(prior.response or str(VoiceResponse()))
                result = await step(session, hotline, request, form)
                body = str(result if result is not None else VoiceResponse())
                await record_event(session, call_sid=call_sid, kind=event_kind(request),
                                   form=form, now=hotline.now, dedupe_key=key, response=body)
            return xml(body)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("webhook %s failed for call %s from %s", request.path, call_sid,
                          mask(form.get("From")))
            return xml(str(on_error(hotline)))

    return handler
