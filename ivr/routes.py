"""Every URL of the server, in one place."""

from __future__ import annotations

from aiohttp import web

import api.calls
import api.tickets
import api.openapi
import webhooks.followup as followup
import webhooks.voice as voice

from . import health


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)

    # Twilio: the number's Voice URL and Status Callback URL, then URLs our TwiML names.
    app.router.add_post("/twilio/voice", voice.voice)
    app.router.add_post("/twilio/status", voice.status)
    app.router.add_post("/twilio/menu", voice.menu)
    app.router.add_post("/twilio/repair", voice.repair)
    app.router.add_post("/twilio/fees", voice.fees)
    app.router.add_post("/twilio/dial-result", voice.dial_result)
    app.router.add_post("/twilio/screen", voice.screen)
    app.router.add_post("/twilio/screen-answer", voice.screen_answer)
    app.router.add_post("/twilio/leg-status", voice.leg_status)
    app.router.add_post("/twilio/message", voice.message)
    app.router.add_post("/twilio/follow-up-answer", followup.answer)

    # Supervisors' tools.
    app.router.add_get("/api/calls", api.calls.calls)
    app.router.add_get("/api/stats", api.calls.call_stats)
    app.router.add_get("/api/tickets", api.tickets.list_tickets)
    app.router.add_post("/api/tickets", api.tickets.create)
    app.router.add_post(r"/api/tickets/{id:\d+}/resolve", api.tickets.resolve)
    app.router.add_get("/api/openapi.json", api.openapi.openapi)
