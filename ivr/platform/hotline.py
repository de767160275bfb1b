"""`Hotline`: what every step of a call needs, inbound or outbound, and what any step may say.

It lives below the call flows so the inbound menu, the transfer, the follow-up survey and
the dialer's calls can all take it without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from twilio.twiml.voice_response import VoiceResponse

from ivr.platform.config import Settings
from ivr.platform.scripts import CallScripts, Speaker, Voice


@dataclass
class Hotline:
    """What every step of a call needs: settings, scripts and the moment it happens."""

    settings: Settings
    scripts: CallScripts
    now: datetime

    def speaker(self, language: str) -> Speaker:
        s = self.settings
        voice = Voice(s.voice_en, s.language_en) if language == "en" else Voice(s.voice_zh, s.language_zh)
        return Speaker(self.scripts, voice, language)

    def url(self, path: str) -> str:
        return self.settings.public_url(path)


def yuan(amount: Decimal) -> str:
    text = f"{amount:.2f}"
    return text[:-3] if text.endswith(".00") else text


def apology(hotline: Hotline, language: str = "zh") -> VoiceResponse:
    """What a caller hears when something broke: an apology and a way to leave a message.

    Touches no database, so it works when the database does not."""
    speaker = hotline.speaker(language)
    response = VoiceResponse()
    speaker.say(response, "error")
    response.record(
        action=hotline.url("/twilio/message"), method="POST",
        max_length=hotline.settings.message_max_seconds, finish_on_key="#", play_beep=True,
    )
    speaker.say(response, "goodbye")
    response.hangup()
    return response

