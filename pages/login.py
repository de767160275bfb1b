"""`GET /login`, `POST /login` (contract: form fields `username`, `password`), logout, and
the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from ivr.people import sessions
from ivr.platform.resources import CLOCK, SESSIONS, SETTINGS

from .access import current, page
from .render import LANG_COOKIE, LANGUAGES, render


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
    form = await request.post()
    name, password = str(form.get("username", "")), str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")) or None)
    if not same_origin(request):
        return render(request, "login.html", status=403, next=target, error="csrf_refused")
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session:
        async with session.begin():
            try:
                token, _ = await sessions.log_in(session, settings=request.app[SETTINGS],
                                                 name=name, password=password, now=now)
            except sessions.LoginError as exc:
                error = "login_locked" if str(exc) == "locked" else "login_invalid"
                token = None
        if token is None:
            return render(request, "login.html", status=401 if error == "login_invalid" else 429,
                          next=target, error=error, username=name)
    response = web.HTTPFound(target)
    set_session_cookie(response, request, token)
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
