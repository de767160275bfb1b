"""Server-sent events for the live pages (the wallboard, the staff desk): one loop for both.

Every `IVR_WALL_POLL_SECONDS` the snapshot is read from the database and sent when anything
on it changed, so a webhook handled by any process shows within a second. The browser's
EventSource reconnects by itself after a restart (the stream asks it to retry after a
second). A server shutting down ends its streams at once (`end_streams`): aiohttp
waits up to a minute for open handlers, and a restart must not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Awaitable, Callable

from aiohttp import web
from aiohttp_sse import sse_response

from ivr.platform.resources import SETTINGS

RETRY_MS = 1000
# Set when the server shuts down: every open stream ends (the browser reconnects to the next).
ENDING = web.AppKey("live_streams_ending", asyncio.Event)


def end_streams_on_shutdown(app: web.Application) -> None:
    app[ENDING] = asyncio.Event()

    async def end_streams(app: web.Application) -> None:
        app[ENDING].set()

    app.on_shutdown.append(end_streams)


async def push(request: web.Request, *, event: str,
               snapshot: Callable[[], Awaitable[dict]]) -> web.StreamResponse:
    """Send `snapshot()` as `event` whenever it changes (its `at` moment aside)."""
    settings = request.app[SETTINGS]
    ending = request.app[ENDING]
    async with sse_response(request) as stream:
        last = None
        while stream.is_connected() and not ending.is_set():
            board = await snapshot()
            seen = json.dumps({k: v for k, v in board.items() if k != "at"}, ensure_ascii=False,
                              sort_keys=True)
            if seen != last:
                await stream.send(json.dumps(board, ensure_ascii=False), event=event,
                                  retry=RETRY_MS)
                last = seen
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ending.wait(), settings.wall_poll_seconds)
    return stream
