"""Typed keys for what the running application shares: settings, database, scripts, clock."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from twilio.rest import Client as TwilioClient

from ivr.platform.clock import Clock
from ivr.platform.config import Settings
from ivr.platform.journal import Journal
from ivr.platform.passes import Passes
from ivr.platform.scripts import CallScripts
from models.writer import Writer

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
# Sessions for pages and figures that only read (SQLite: never waiting on the write lock).
READER = web.AppKey("reader", async_sessionmaker[AsyncSession])
WRITER = web.AppKey("writer", Writer)  # where webhook transactions run (models/writer.py)
SCRIPTS = web.AppKey("scripts", CallScripts)
CLOCK = web.AppKey("clock", Clock)
JOURNAL = web.AppKey("journal", Journal)
TWILIO = web.AppKey("twilio", TwilioClient)
# The background loops' passes, present only while the loop runs (tests wait on them).
DIALER_PASSES = web.AppKey("dialer_passes", Passes)
SCHEDULER_PASSES = web.AppKey("scheduler_passes", Passes)
REPLAY_PASSES = web.AppKey("replay_passes", Passes)  # the journal's background replay
