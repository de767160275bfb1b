"""Every URL of the server, in one place."""

from __future__ import annotations

from aiohttp import web

import api.calls
import api.openapi
import api.tickets
import pages.admin
import pages.calls
import pages.campaigns
import pages.dashboard
import pages.desk
import pages.favicon
import pages.login
import pages.notices
import pages.render
import pages.reports
import pages.staff
import pages.tickets
import pages.wall
import webhooks.followup as followup
import webhooks.outbound as outbound
import webhooks.voice as voice
from api import health


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/favicon.ico", pages.favicon.favicon)

    # Twilio: the number's Voice URL and Status Callback URL, then URLs our TwiML names.
    app.router.add_post("/twilio/voice", voice.voice)
    app.router.add_post("/twilio/status", voice.status)
    app.router.add_post("/twilio/menu", voice.menu)
    app.router.add_post("/twilio/notice", voice.notice)
    app.router.add_post("/twilio/staff-menu", voice.staff_menu)
    app.router.add_post("/twilio/repair", voice.repair)
    app.router.add_post("/twilio/fees", voice.fees)
    app.router.add_post("/twilio/dial-result", voice.dial_result)
    app.router.add_post("/twilio/screen", voice.screen)
    app.router.add_post("/twilio/screen-answer", voice.screen_answer)
    app.router.add_post("/twilio/leg-status", voice.leg_status)
    app.router.add_post("/twilio/message", voice.message)
    app.router.add_post("/twilio/queue-wait", voice.queue_wait)
    app.router.add_post("/twilio/queue-key", voice.queue_key)
    app.router.add_post("/twilio/queue-connect", voice.queue_connect)
    app.router.add_post("/twilio/follow-up-answer", followup.answer)
    # Calls the dialer places (callbacks, reminders, follow-ups, escalations).
    app.router.add_post("/twilio/outbound", outbound.answer)
    app.router.add_post("/twilio/outbound-key", outbound.key)
    app.router.add_post("/twilio/outbound-greet", outbound.greet)
    app.router.add_post("/twilio/outbound-dial", outbound.dial_result)

    # Supervisors' tools.
    app.router.add_get("/api/calls", api.calls.calls)
    app.router.add_get("/api/stats", api.calls.call_stats)
    app.router.add_get("/api/live", api.calls.live_view)
    app.router.add_get("/api/tickets", api.tickets.list_tickets)
    app.router.add_post("/api/tickets", api.tickets.create)
    app.router.add_post(r"/api/tickets/{id:\d+}/resolve", api.tickets.resolve)
    app.router.add_get("/api/openapi.json", api.openapi.openapi)

    # People: the supervisors' pages (pages/), Chinese first.
    app.router.add_get("/login", pages.login.login_form)
    app.router.add_post("/login", pages.login.login)
    app.router.add_post("/logout", pages.login.logout)
    app.router.add_get("/lang/{lang}", pages.login.switch_language)
    app.router.add_get("/", pages.dashboard.home)
    app.router.add_get("/calls", pages.calls.call_log)
    app.router.add_get("/calls/{sid}", pages.calls.call_page)
    app.router.add_get(r"/exports/{what}.{fmt:csv|xlsx}", pages.calls.export)
    app.router.add_get("/reports", pages.reports.reports_page)
    app.router.add_get(r"/reports/monthly.{fmt:csv|xlsx}", pages.calls.monthly_report)
    app.router.add_get("/tickets", pages.tickets.ticket_list)
    app.router.add_get(r"/tickets/{id:\d+}", pages.tickets.ticket_page)
    app.router.add_post(r"/tickets/{id:\d+}/{action}", pages.tickets.ticket_change)
    app.router.add_get("/desk", pages.desk.desk_page)
    app.router.add_get("/desk/events", pages.desk.desk_events)
    app.router.add_post("/desk/tickets", pages.tickets.desk_ticket)
    app.router.add_get("/admin", pages.admin.admin)
    app.router.add_post("/admin/users", pages.admin.save_user)
    app.router.add_post(r"/admin/staff/{id:\d+}/active", pages.admin.toggle_staff)
    app.router.add_post(r"/staff/{id:\d+}/sign-in", pages.staff.sign_in_out)
    app.router.add_get("/wall", pages.wall.wall_page)
    app.router.add_get("/wall/events", pages.wall.wall_events)
    app.router.add_post("/notices", pages.notices.post_notice)
    app.router.add_post(r"/notices/{id:\d+}/close", pages.notices.close_notice)
    app.router.add_get("/campaigns", pages.campaigns.campaign_list)
    app.router.add_get("/campaigns/fee-reminder", pages.campaigns.confirm_fee_campaign)
    app.router.add_post("/campaigns/fee-reminder", pages.campaigns.start_fee_campaign)
    app.router.add_get(r"/campaigns/{id:\d+}", pages.campaigns.campaign_page)
    app.router.add_static("/static", pages.render.STATIC, append_version=True)
