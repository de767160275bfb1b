"""Bearer-token authentication and role checks for `/api/*`."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta

from aiohttp import web

from ivr.people.users import user_for_token
from ivr.platform.clock import parse_day
from ivr.platform.resources import CLOCK, READER, SETTINGS
from models import User

USER = "api_user"


async def api_user(request: web.Request) -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise web.HTTPUnauthorized(text='{"error": "bearer token required"}',
                                   content_type="application/json",
                                   headers={"WWW-Authenticate": "Bearer"})
    async with request.app[READER]() as session:
        user = await user_for_token(session, token.strip(), now=request.app[CLOCK]())
    if user is None:
        raise web.HTTPUnauthorized(text='{"error": "invalid, expired or revoked token"}',
                                   content_type="application/json",
                                   headers={"WWW-Authenticate": "Bearer"})
    return user


def forbidden(message: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(text=json.dumps({"error": message}, ensure_ascii=False),
                             content_type="application/json")


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=f'{{"error": "{message}"}}', content_type="application/json")


def date_range(request: web.Request) -> tuple[datetime, datetime]:
    """`from`/`to` (inclusive, YYYY-MM-DD in IVR_TIMEZONE) as a UTC half-open range; without
    them, today by the server's clock (the one the calls are stamped with)."""
    tz = request.app[SETTINGS].tz
    today = request.app[CLOCK]().astimezone(tz).date()
    try:
        start = parse_day(request.query["from"]) if "from" in request.query else today
        end = parse_day(request.query["to"]) if "to" in request.query else start
    except ValueError as exc:
        raise bad_request(f"from and to: {exc}") from None
    if end < start:
        raise bad_request("to is before from")
    return (datetime.combine(start, time(0), tz),
            datetime.combine(end + timedelta(days=1), time(0), tz))
