"""Fee-reminder campaigns (催缴) on the dashboard: the list, a confirmation that says whom
and how much before anything is queued, the start, and each campaign's report.

Times are shown in `IVR_TIMEZONE`. Without Twilio credentials (demo mode) no call can be
placed: the pages say so instead of showing households as 进行中 for ever.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from ivr.outbound import campaigns
from ivr.people import sessions
from ivr.platform import twilio_rest
from ivr.platform.resources import CLOCK, SESSIONS, SETTINGS

from .access import MANAGERS, page, user_of
from .render import path_id, render


def calls_disabled(request: web.Request) -> str:
    """The settings missing for placing calls ("" when calls can be placed)."""
    return ", ".join(twilio_rest.missing_settings(request.app[SETTINGS]))


def local(request: web.Request, moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(request.app[SETTINGS].tz)


@page(*MANAGERS)
async def campaign_list(request: web.Request) -> web.Response:
    """`GET /campaigns`: the latest campaigns, newest first, and how far each has come."""
    async with request.app[SESSIONS]() as session:
        rows = await campaigns.overview(session)
    for row in rows:
        row["created_at"] = local(request, row["created_at"])
    return render(request, "campaigns.html", campaigns=rows, disabled=calls_disabled(request))


async def confirmation(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    async with request.app[SESSIONS]() as session:
        preview = await campaigns.preview(session)
    return render(request, "campaign_confirm.html", status=status, preview=preview, error=error,
                  disabled=calls_disabled(request))


@page(*MANAGERS)
async def confirm_fee_campaign(request: web.Request) -> web.Response:
    """`GET /campaigns/fee-reminder`: how many households and how much they owe, to confirm."""
    return await confirmation(request)


@page(*MANAGERS)
async def start_fee_campaign(request: web.Request) -> web.Response:
    """`POST /campaigns/fee-reminder`: every household in arrears queued for a call; refused,
    with the reason on the confirmation page, when there is nobody to call."""
    user = user_of(request)
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                campaign = await campaigns.start(session, settings=request.app[SETTINGS],
                                                 now=now, created_by=user.name)
                sessions.audit(session, now=now, user_name=user.name, action="fee_campaign",
                               subject=f"#{campaign.id}: {campaign.households}")
        except campaigns.CampaignError as exc:
            return await confirmation(request, error=str(exc), status=409)
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}")


@page(*MANAGERS)
async def campaign_page(request: web.Request) -> web.Response:
    campaign_id = path_id(request)
    async with request.app[SESSIONS]() as session:
        try:
            if campaign_id is None:
                raise campaigns.CampaignError("no such campaign")
            report = await campaigns.report(session, campaign_id=campaign_id)
        except campaigns.CampaignError:
            return render(request, "error.html", status=404, code=404, message_key="not_found")
    report["created_at"] = local(request, report["created_at"])
    return render(request, "campaign.html", report=report, disabled=calls_disabled(request))
