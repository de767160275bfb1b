"""Keeping the hotline answering without its database: the roster cache and the journal.

The server listens at once; a background task then refreshes the cached duty roster and
replays the journal into the database whenever it answers again (a journal of thousands
of entries left by a dead process no longer keeps the port closed). A replay never
holds up a webhook: appends go on meanwhile (`ivr.platform.journal`).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web
from sqlalchemy.exc import DBAPIError, InterfaceError

from ivr.people.roster import ROSTER, RosterCache
from ivr.platform import periodic
from ivr.platform.health import write_problem
from ivr.platform.hotline import Hotline
from ivr.platform.journal import DatabaseUnavailable, Entry, Journal
from ivr.platform.passes import Passes
from ivr.platform.resources import JOURNAL, READER, REPLAY_PASSES, SCRIPTS, SETTINGS, WRITER
from models.db import is_read_only_error, is_sqlite, sqlite_write_problem

log = logging.getLogger(__name__)
# Listening waits at most this long for the first roster read (the cached one serves).
STARTUP_ROSTER_SECONDS = 2


def step_for(app: web.Application, path: str):
    for resource in app.router.resources():
        if resource.get_info().get("path") == path:
            for route in resource:
                step = getattr(route.handler, "step", None)
                if step is not None:
                    return step
    return None


def outage(exc: BaseException) -> bool:
    """Another writer held the database too long, a connection opened while the file
    was unwritable (reopened on the next try), or the connection itself was lost (a
    flapping database that answers again by the time we ask): not the entry's fault."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return (isinstance(exc, (asyncio.TimeoutError, TimeoutError, OSError, InterfaceError))
            or "database is locked" in str(exc) or is_read_only_error(exc))


async def apply_entry(app: web.Application, entry: Entry) -> None:
    """Feed one journaled webhook through its step, at the moment it first arrived.

    A failure that looks like an outage while the database in fact answers and can be
    written is the entry's own (a value the database refuses): it is counted against the
    entry, which goes to the dead letters after a few tries, instead of being kept for
    ever as if the database were away."""
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
            if outage(exc) or await write_problem(url=app[SETTINGS].database_url,
                                                     sessions=app[READER]) is not None:
                raise DatabaseUnavailable(str(exc)) from exc
            raise RuntimeError(f"the database refused the entry: {exc}") from exc
        raise


async def refresh_roster(app: web.Application) -> bool:
    try:
        async with app[READER]() as session:  # reads only: never waits for the write lock
            await app[ROSTER].refresh(session)
    except Exception as exc:  # the database is away: keep the last good roster
        log.debug("roster refresh failed: %s", exc)
        return False
    return True


async def catch_up(app: web.Application) -> int:
    """Refresh the roster cache and replay the journal; the number of entries replayed."""
    if not await refresh_roster(app):
        return 0
    replayed = await app[JOURNAL].replay(lambda entry: apply_entry(app, entry))
    if replayed:
        log.info("replayed %d journaled webhooks into the database", replayed)
    return replayed


async def journal_and_roster(app: web.Application):
    settings = app[SETTINGS]
    directory = Path(settings.journal_dir)
    app[JOURNAL] = Journal(directory)
    app[REPLAY_PASSES] = Passes()
    app[ROSTER] = RosterCache(directory / "roster.json")
    if is_sqlite(settings.database_url):
        problem = sqlite_write_problem(settings.database_url)
        if problem is not None:
            log.error("the database cannot be written (%s): webhooks are journaled and "
                      "/healthz answers 503 until it can; nothing to restart", problem)
    try:  # the roster for degraded answers, if the database gives it quickly
        await asyncio.wait_for(refresh_roster(app), STARTUP_ROSTER_SECONDS)
    except asyncio.TimeoutError:
        log.warning("no roster from the database at start: the cached one serves")
    backlog = await asyncio.to_thread(app[JOURNAL].pending)
    if backlog:
        log.warning("%d journaled webhooks wait: replaying them in the background", backlog)
    # A dead process's journal is caught up at once, else after the first interval.
    replay = periodic.every(settings.journal_replay_seconds, lambda: catch_up(app),
                            what="journal replay pass", log=log, at_once=backlog > 0,
                            passes=app[REPLAY_PASSES])
    async with periodic.running(replay, name="journal-replay"):
        yield
    try:
        await catch_up(app)
    finally:
        app[JOURNAL].close()
