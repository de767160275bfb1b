"""`GET /login`, `POST /login` (contract: form fields `username`, `password`), logout, and
the language switch."""

from __future__ import annotations

import logging
import math
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.people import sessions
from ivr.people.throttle import LOGIN_THROTTLE
from ivr.platform.resources import CLOCK, READER, SESSIONS, SETTINGS, WRITER
from models.writer import PAGE

from .access import current, form_of, page
from .render import LANG_COOKIE, LANGUAGES, render

log = logging.getLogger(__name__)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect. Judged as the browser will read
    it (WHATWG URL): tabs and newlines anywhere are dropped and a backslash is a slash, so
    `/<TAB>/evil.example` is `//evil.example`, another site; any other control character
    is refused outright."""
    if not target:
        return "/"
    seen = target.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    if (not seen.startswith("/") or seen.startswith("//")
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in seen)):
        return "/"
    parts = urlsplit(seen)
    if parts.scheme or parts.netloc:
        return "/"
    return seen


def same_origin(request: web.Request) -> bool:
    """The login form has no session yet to hold a CSRF token, so it checks the Origin
    (or, from a browser that sends none, the Referer) instead. A post from another site,
    from an opaque origin (`Origin: null`: a sandboxed frame, a data: URL) or with neither
    header is refused: every browser that can show the form sends one of them."""
    origin = request.headers.get("Origin")
    if origin is None:
        origin = request.headers.get("Referer")
    if not origin or origin == "null":
        return False
    host = urlsplit(origin).netloc
    return host == request.host or (
        request.app[SETTINGS].public_base_url
        and host == urlsplit(request.app[SETTINGS].public_base_url).netloc)


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    settings = request.app[SETTINGS]
    response.set_cookie(sessions.COOKIE, token, httponly=True, samesite="Lax", path="/",
                        secure=settings.secure_cookies,
                        max_age=int(settings.session_hours * 3600))


async def login_form(request: web.Request) -> web.Response:
    if await current(request) is not None:
        raise web.HTTPFound(safe_next(request.query.get("next")))
    return render(request, "login.html", next=safe_next(request.query.get("next")), error=None)


async def login(request: web.Request) -> web.Response:
    """Sign in. Refused at once (429) while the address or the name must wait; the
    password is checked with no transaction open; a database that cannot be written is a
    polite 503, never a 500."""
    form = await form_of(request)
    name, password = form.get("username", ""), form.get("password", "")
    target = safe_next(form.get("next") or None)
    if not same_origin(request):
        return render(request, "login.html", status=403, next=target, error="csrf_refused")
    app = request.app
    settings, now = app[SETTINGS], app[CLOCK]()
    address = request.remote or "?"

    def refused(status: int, error: str, seconds: float = 0) -> web.Response:
        return render(request, "login.html", status=status, next=target, error=error,
                      seconds=math.ceil(seconds), username=name)

    wait = app[LOGIN_THROTTLE].attempt(address, now)
    if wait:
        log.warning("sign-in refused: too many failures from one address")
        return refused(429, "login_wait", wait)
    try:
        async with app[READER]() as session:
            attempt = await sessions.begin_login(session, settings=settings, name=name, now=now)
        if attempt.wait_seconds:  # the name waits: no hash, no write, nothing to count
            app[LOGIN_THROTTLE].forgive(address, now)
            return refused(429, "login_wait", attempt.wait_seconds)
        ok = await sessions.check_password(attempt, password)

        async def record(writer_sessions: async_sessionmaker[AsyncSession]):
            async with writer_sessions() as session, session.begin():
                try:
                    return await sessions.finish_login(session, settings=settings,
                                                       attempt=attempt, ok=ok, now=now)
                except sessions.LoginError:
                    return None  # the failure's audit row is committed: it counts

        signed = await app[WRITER].run(record, priority=PAGE)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("sign-in unavailable: the database cannot be written: %s", exc)
        return refused(503, "login_unavailable")
    if signed is None:
        return refused(401, "login_invalid")
    app[LOGIN_THROTTLE].forgive(address, now)
    response = web.HTTPFound(target)
    set_session_cookie(response, request, signed[0])
    raise response


@page()
async def logout(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session, session.begin():
        await sessions.log_out(session, token=request.cookies.get(sessions.COOKIE),
                               now=request.app[CLOCK]())
    response = web.HTTPFound("/login")
    response.del_cookie(sessions.COOKIE, path="/")
    raise response


async def switch_language(request: web.Request) -> web.Response:
    """`GET /lang/{lang}`: a cookie only, harmless without a session or CSRF token."""
    lang = request.match_info["lang"]
    response = web.HTTPFound(safe_next(request.query.get("next")))
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax", path="/",
                            httponly=True, secure=request.app[SETTINGS].secure_cookies)
    raise response
