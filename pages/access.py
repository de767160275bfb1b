"""Who may open a page: every handler is wrapped by `page(...)`, which names the roles.

Without a session a GET goes to the login page and anything else gets 401; a role that
is not named gets 403; a POST without the session's CSRF token gets 403 and changes
nothing.
"""

from __future__ import annotations

import functools
from typing import Awaitable, Callable
from urllib.parse import quote, urlsplit

from aiohttp import web

from ivr.people import sessions
from ivr.platform.resources import CLOCK, READER
from ivr.platform.storable import storable

from .render import SIGNED_IN, render

STAFF, SUPERVISOR, ADMIN = "staff", "supervisor", "admin"
EVERYONE = (STAFF, SUPERVISOR, ADMIN)
MANAGERS = (SUPERVISOR, ADMIN)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def current(request: web.Request) -> sessions.SignedIn | None:
    """The signed-in user, read without the write lock."""
    token = request.cookies.get(sessions.COOKIE)
    if not token:
        return None
    async with request.app[READER]() as session:
        return await sessions.signed_in(session, token=token, now=request.app[CLOCK]())


def forbidden(request: web.Request) -> web.Response:
    return render(request, "error.html", status=403, code=403, message_key="forbidden")


def page(*roles: str) -> Callable[[Handler], Handler]:
    allowed = roles or EVERYONE

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            refusal = await refuse(request, allowed=allowed)
            if refusal is not None:
                return refusal
            return await handler(request)

        return checked

    return wrap


async def refuse(request: web.Request, *, allowed: tuple[str, ...]) -> web.StreamResponse | None:
    """The answer to a request that may not reach the page (None: it may), the signed-in
    user noted on the request. A function of its own, called on every request, so that
    mutation testing (TESTING.md) reaches the rule and not only the decorator's set-up."""
    signed = await current(request)
    if signed is None:
        if request.method == "GET":
            raise web.HTTPFound("/login?next=" + quote(request.path_qs, safe=""))
        # A form sent after the sign-in expired: say so in the page's words, with a way
        # back to the page the form was on, rather than a bare 401 in English.
        back = urlsplit(request.headers.get("Referer", ""))
        page_of_form = back.path + (f"?{back.query}" if back.query else "")
        login = "/login" + ("?next=" + quote(page_of_form, safe="")
                            if back.netloc == request.host and back.path else "")
        return render(request, "error.html", status=401, code=401,
                      message_key="sign_in_again", login=login)
    request[SIGNED_IN] = signed
    if signed.user.role not in allowed:
        return forbidden(request)
    if request.method not in ("GET", "HEAD"):
        form = await request.post()
        sent = form.get("csrf")
        if not sessions.csrf_ok(signed.login, sent if isinstance(sent, str) else None):
            return render(request, "error.html", status=403, code=403,
                          message_key="csrf_refused")
    return None


async def form_of(request: web.Request) -> dict[str, str]:
    """The posted form's text fields (the first of each name), made storable."""
    fields: dict[str, str] = {}
    for name, value in (await request.post()).items():
        if isinstance(value, str):
            fields.setdefault(storable(name), storable(value))
    return fields


def user_of(request: web.Request):
    return request[SIGNED_IN].user
