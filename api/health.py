"""`GET /healthz`: 200 when the database answers."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import text

from ivr.platform.resources import READER

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[READER]() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database is "unhealthy"
        log.warning("health check failed: %s", exc)
        return web.json_response({"status": "database unavailable"}, status=503)
    return web.json_response({"status": "ok"})
