"""The application factory: builds the `web.Application` and its resources."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from api.errors import json_errors
from ivr.people.throttle import LOGIN_THROTTLE, AddressThrottle
from ivr.platform.clock import Clock, utcnow
from ivr.platform.config import Settings
from ivr.platform.resources import CLOCK, ENGINE, READER, SCRIPTS, SESSIONS, SETTINGS, WRITER
from ivr.platform.scripts import CallScripts
from ivr.reporting import rollups
from ivr.routes import setup_routes
from ivr.tickets import scheduler
from models.db import is_sqlite, make_engine, make_sessionmaker
from models.writer import open_writer
from pages.stream import end_streams_on_shutdown
from webhooks import resilience
from webhooks.signature import require_twilio_signature

MAX_BODY = 256 * 1024


async def database(app: web.Application):
    url = app[SETTINGS].database_url
    engine = make_engine(url)
    reader = make_engine(url, read_only=True) if is_sqlite(url) else engine
    app[ENGINE] = engine
    app[SESSIONS] = make_sessionmaker(engine, tz=app[SETTINGS].tz, clock=app[CLOCK])
    app[READER] = make_sessionmaker(reader)
    app[WRITER] = await open_writer(url, app[SESSIONS])
    yield
    await app[WRITER].close()
    await reader.dispose()
    await engine.dispose()


def create_app(settings: Settings | None = None, *, clock: Clock = utcnow, run_dialer: bool = False,
               scripts: CallScripts | None = None,
               run_scheduler: bool = False, run_queue: bool = False) -> web.Application:
    """Build the server. Scripts are loaded (and checked) here, so a bad one stops start.

    `run_scheduler`: the ticket escalation / daily-count loop (on in `ivr serve`; tests
    drive `scheduler.run_once` themselves with a frozen clock). `run_queue`: the queue
    dispatcher that rings waiting callers through to whoever becomes free (on in `ivr
    serve`; tests drive `dispatcher.run_once` or turn it on)."""
    settings = settings or Settings()
    app = web.Application(middlewares=[json_errors, require_twilio_signature],
                          client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[LOGIN_THROTTLE] = AddressThrottle(failures_per_minute=settings.login_failures_per_address)
    app[SCRIPTS] = scripts or CallScripts(
        Path(settings.call_scripts_dir) if settings.call_scripts_dir else None
    )
    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(resilience.journal_and_roster)
    if run_scheduler:
        app.cleanup_ctx.append(scheduler.background)
        app.cleanup_ctx.append(rollups.background)  # yesterday's statistics rolled up
    if run_dialer or run_queue:
        from ivr.platform import twilio_rest

        app.cleanup_ctx.append(twilio_rest.rest_client)
    if run_dialer:  # the outbound dialer and SMS sender (tests drive dialer.run_once)
        from ivr.outbound import dialer

        app.cleanup_ctx.append(dialer.background)
    if run_queue:
        from ivr.calls import dispatcher

        app.cleanup_ctx.append(dispatcher.background)
    end_streams_on_shutdown(app)
    setup_routes(app)
    return app
