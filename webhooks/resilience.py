"""Keeping the hotline answering without its database: the roster cache and the journal.

A background task refreshes the cached duty roster and replays the journal into the
database whenever it answers again.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web

from ivr.people.roster import ROSTER, RosterCache
from ivr.platform.hotline import Hotline
from ivr.platform.journal import DatabaseUnavailable, Entry, Journal
from ivr.platform.resources import JOURNAL, SCRIPTS, SESSIONS, SETTINGS, WRITER

log = logging.getLogger(__name__)


def step_for(app: web.Application, path: str):
    for resource in app.router.resources():
        if resource.get_info().get("path") == path:
            for route in resource:
                step = getattr(route.handler, "step", None)
                if step is not None:
                    return step
    return None


async def apply_entry(app: web.Application, entry: Entry) -> None:
    """Feed one journaled webhook through its step, at the moment it first arrived."""
    from webhooks.twiml import database_unreachable, run_step

    step = step_for(app, entry.path)
    if step is None:
        raise LookupError(f"no webhook step for {entry.path}")
    hotline = Hotline(settings=app[SETTINGS], scripts=app[SCRIPTS], now=entry.received)
    try:
        await run_step(app[WRITER], step, hotline, path=entry.path, query=entry.query,
                       form=entry.form, key=entry.token)
    except Exception as exc:
        if database_unreachable(exc):
            raise DatabaseUnavailable(str(exc)) from exc
        raise


async def catch_up(app: web.Application) -> int:
    """Refresh the roster cache and replay the journal; the number of entries replayed."""
    try:
        async with app[SESSIONS]() as session:
            await app[ROSTER].refresh(session)
    except Exception as exc:  # the database is away: keep the last good roster
        log.debug("roster refresh failed: %s", exc)
        return 0
    replayed = await app[JOURNAL].replay(lambda entry: apply_entry(app, entry))
    if replayed:
        log.info("replayed %d journaled webhooks into the database", replayed)
    return replayed


async def _loop(app: web.Application) -> None:
    while True:
        await asyncio.sleep(app[SETTINGS].journal_replay_seconds)
        try:
            await catch_up(app)
        except Exception:
            log.exception("journal replay pass failed")


async def journal_and_roster(app: web.Application):
    directory = Path(app[SETTINGS].journal_dir)
    app[JOURNAL] = Journal(directory)
    app[ROSTER] = RosterCache(directory / "roster.json")
    await catch_up(app)
    task = asyncio.create_task(_loop(app))
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    try:
        await catch_up(app)
    finally:
        app[JOURNAL].close()
