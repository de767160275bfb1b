"""The shared shape of a Twilio webhook: one transaction, replay on retry, never a 500.

Each step is a call-flow function; this module only turns HTTP into its arguments and
its result into a response. The event is stored in the same transaction as the step's
changes, so a webhook that got a 200 is in the database — or, when the database cannot
be reached, in the local journal (fsync'd) with a degraded answer that still gets the
caller to a person.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Mapping

from aiohttp import web
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.twiml.voice_response import VoiceResponse

from ivr.calls import degraded
from ivr.calls.records import record_event, stored_response
from ivr.people.roster import ROSTER
from ivr.platform.hotline import Hotline, apology
from ivr.platform.journal import DatabaseUnavailable, Entry
from ivr.platform.phones import mask
from ivr.platform.resources import CLOCK, JOURNAL, SCRIPTS, SETTINGS, WRITER
from ivr.platform.storable import storable
from models.writer import Writer

log = logging.getLogger(__name__)

Step = Callable[[AsyncSession, Hotline, Mapping[str, str], Mapping[str, str]],
                Awaitable[VoiceResponse | None]]
Dedupe = Callable[[str, Mapping[str, str], Mapping[str, str]], str | None]
Fallback = Callable[..., VoiceResponse]
MAX_FIELD = 4000
UNREACHABLE = (OperationalError, InterfaceError, OSError, ConnectionError, asyncio.TimeoutError)


def database_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, UNREACHABLE + (DatabaseUnavailable,))


def hotline_for(request: web.Request) -> Hotline:
    app = request.app
    return Hotline(settings=app[SETTINGS], scripts=app[SCRIPTS], now=app[CLOCK]())


def xml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml", charset="utf-8")


async def read_form(request: web.Request) -> dict[str, str]:
    """The webhook's fields, or 400 for something Twilio would never send."""
    try:
        form = await request.post()
    except (ValueError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(text=f"unreadable form: {exc}") from exc
    # PostgreSQL cannot store a NUL: cleaned here, so the step and its journal entry agree.
    fields = {storable(k): storable(v) for k, v in form.items() if isinstance(v, str)}
    sid = fields.get("CallSid", "")
    if not sid or len(sid) > 64 or not sid.isascii() or not sid.isalnum():
        raise web.HTTPBadRequest(text="CallSid missing or malformed")
    if any(len(v) > MAX_FIELD for v in fields.values()):
        raise web.HTTPBadRequest(text="field too long")
    return fields


def event_kind(path: str) -> str:
    return path.removeprefix("/twilio/")[:40] or "twilio"


class Repeated(Exception):
    """The event's key was already stored: the step is undone and its first answer given."""


async def first_answer(sessions: async_sessionmaker[AsyncSession], key: str) -> str | None:
    async with sessions() as session:
        prior = await stored_response(session, key)
    return None if prior is None else (prior or str(VoiceResponse()))


async def run_step(writer: Writer, step: Step, hotline: Hotline, *,
                   path: str, query: Mapping[str, str], form: Mapping[str, str],
                   key: str | None) -> str:
    """The step and its event in one transaction; a repeated key gets its first answer.

    The event's own insert is the check for a repeat (its key is unique), so a new
    webhook, nearly every one, costs no lookup; a repeat runs its step against the
    current state, finds its key taken and is rolled back. Two deliveries at once on
    PostgreSQL end the same way: the second waits on the first's key and rolls back."""

    async def transaction(sessions: async_sessionmaker[AsyncSession]) -> str:
        try:
            async with sessions() as session, session.begin():
                result = await step(session, hotline, query, form)
                body = str(result if result is not None else VoiceResponse())
                if not await record_event(session, call_sid=form["CallSid"],
                                          kind=event_kind(path), form=form, now=hotline.now,
                                          dedupe_key=key, response=body):
                    raise Repeated(key)
            return body
        except Exception as exc:
            # A repeat whose step now fails (the state moved on) still gets its first answer.
            if key is None or database_unreachable(exc):
                raise
            prior = await first_answer(sessions, key)
            if prior is None:
                raise
            return prior

    return await writer.run(transaction, together=True)


def twiml_webhook(step: Step, *, dedupe: Dedupe | None = None,
                  fallback: Fallback = degraded.to_person,
                  on_error: Callable[[Hotline], VoiceResponse] = apology):
    """Wrap a call-flow step as a handler that answers TwiML whatever happens.

    `dedupe` names a natural key for callbacks that come without an idempotency token;
    `fallback` answers when the database is unreachable (the request is journaled);
    `on_error` answers when the step itself failed (the caller's apology by default).
    """

    async def handler(request: web.Request) -> web.Response:
        form = await read_form(request)
        query = dict(request.query)
        hotline = hotline_for(request)
        token = request.headers.get("I-Twilio-Idempotency-Token")
        key = f"idem:{token}" if token else (dedupe(request.path, query, form) if dedupe else None)
        try:
            return xml(await asyncio.wait_for(
                run_step(request.app[WRITER], step, hotline, path=request.path, query=query,
                         form=form, key=key),
                request.app[SETTINGS].webhook_database_seconds))
        except web.HTTPException:
            raise
        except Exception as exc:
            entry = Entry(path=request.path, query=query, form=form, token=key,
                          received_at=hotline.now.isoformat())
            await request.app[JOURNAL].append(entry)
            if database_unreachable(exc):
                log.warning("database unreachable on %s for call %s: journaled, degraded answer",
                            request.path, form["CallSid"])
                return xml(str(fallback(hotline, request.app[ROSTER], query, form)))
            log.exception("webhook %s failed for call %s from %s", request.path, form["CallSid"],
                          mask(form.get("From")))
            return xml(str(on_error(hotline)))

    handler.step = step  # type: ignore[attr-defined]
    handler.dedupe = dedupe  # type: ignore[attr-defined]
    return handler
