"""A background pass run every few seconds, as the ticket scheduler, the statistics
rollups and the journal replay each need: one way to survive a failed pass, count the
passes tests wait on, and stop the task with the server, instead of a copy per loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager, suppress

from ivr.platform.passes import Passes


async def every(seconds: float, work: Callable[[], Awaitable[object]], *, what: str,
                log: logging.Logger, at_once: bool = True,
                passes: Passes | None = None) -> None:
    """Run `work` now (or, without `at_once`, after the first sleep), then every
    `seconds`, until cancelled. A failed pass is logged under `what` on the caller's
    `log` and the next one runs as planned; `passes` counts the passes ended, failed or not."""
    if not at_once:
        await asyncio.sleep(seconds)
    while True:
        try:
            await work()
        except Exception:
            log.exception("%s failed; next pass in %ss", what, seconds)
        if passes is not None:
            await passes.finished()
        await asyncio.sleep(seconds)


@asynccontextmanager
async def running(loop: Coroutine[object, object, None], *, name: str) -> AsyncIterator[None]:
    """`loop` as a task while the block runs (a cleanup_ctx's yield): cancelled and
    awaited on the way out, so nothing of it outlives the server."""
    task = asyncio.create_task(loop, name=name)
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
