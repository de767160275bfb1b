"""Errors under `/api/` are JSON, like everything else there."""

from __future__ import annotations

import json

from aiohttp import web


@web.middleware
async def json_errors(request: web.Request, handler):
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        exc.text = json.dumps({"error": exc.reason}, ensure_ascii=False)
        exc.content_type = "application/json"
        raise
