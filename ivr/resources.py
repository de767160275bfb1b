"""Typed keys for what the running application shares: settings, database, scripts, clock."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from twilio.rest import Client as TwilioClient

from models.writer import Writer

from .clock import Clock
from .config import Settings
from .journal import Journal
from .roster import RosterCache
from .scripts import CallScripts

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
# Sessions for pages and figures that only read (SQLite: never waiting on the write lock).
READER = web.AppKey("reader", async_sessionmaker[AsyncSession])
WRITER = web.AppKey("writer", Writer)  # where webhook transactions run (models/writer.py)
SCRIPTS = web.AppKey("scripts", CallScripts)
CLOCK = web.AppKey("clock", Clock)
JOURNAL = web.AppKey("journal", Journal)
ROSTER = web.AppKey("roster", RosterCache)
TWILIO = web.AppKey("twilio", TwilioClient)
