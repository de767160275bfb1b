"""aiohttp handlers for Twilio's webhooks: parse, call the call flow, return TwiML."""
