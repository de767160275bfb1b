"""Every `/twilio/*` request must carry Twilio's signature for the URL Twilio requested.

The URL is rebuilt on `PUBLIC_BASE_URL` with the raw path and query, so it holds behind a
TLS-terminating proxy; the algorithm is the one `X-Twilio-Webhooks-Signature-Settings`
names. A request that fails gets 403 and reaches no handler.
"""

from __future__ import annotations

import logging

from aiohttp import web
from twilio.request_validator import RequestValidator, get_signature_algorithm

from ivr.platform.resources import SETTINGS

log = logging.getLogger(__name__)

PREFIX = "/twilio/"


def requested_url(request: web.Request) -> str:
    settings = request.app[SETTINGS]
    if settings.public_base_url:
        return settings.public_url(request.raw_path)
    return f"{request.scheme}://{request.host}{request.raw_path}"


@web.middleware
async def require_twilio_signature(request: web.Request, handler):
    await check_signature(request)
    return await handler(request)


async def check_signature(request: web.Request) -> None:
    """Raise 403 unless a `/twilio/*` request is signed by Twilio for the URL it requested.

    A plain function beside the middleware so that mutation testing (TESTING.md), which
    leaves decorated functions alone, reaches the rule itself."""
    if not request.path.startswith(PREFIX):
        return
    settings = request.app[SETTINGS]
    if settings.insecure_dev and not settings.twilio_auth_token:
        return
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        raise web.HTTPForbidden(text="missing X-Twilio-Signature")
    if request.method == "POST":
        if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise web.HTTPForbidden(text="Twilio posts forms")
        params = await request.post()
    else:
        params = {}
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    validator = RequestValidator(settings.twilio_auth_token)
    try:
        valid = validator.validate(requested_url(request), params, signature, algorithm)
    except (ValueError, TypeError):
        valid = False
    if not valid:
        log.warning("rejected unsigned or forged request to %s", request.path)
        raise web.HTTPForbidden(text="invalid X-Twilio-Signature")
