"""`GET /favicon.ico`: browsers ask for it on every site whatever the page links, so it is
answered (the hotline's icon) rather than logged as a 404 on every first visit."""

from __future__ import annotations

from aiohttp import web

from .render import STATIC

ICON = STATIC / "favicon.ico"


async def favicon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(ICON, headers={"Content-Type": "image/x-icon",
                                           "Cache-Control": "public, max-age=86400"})
