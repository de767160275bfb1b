"""What a caller hears when the database cannot be reached: still a way to a person.

The hunt uses the duty roster cached from the last good read (`roster.RosterCache`).
Staff phones are addressed by call and attempt (`?call=SID&n=K&phone=…`) instead of a
leg row, so that when the journal is replayed the legs are rebuilt with their events.
"""

from __future__ import annotations

from typing import Mapping
from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, VoiceResponse

from ivr.people.roster import RosterCache
from ivr.platform.clock import parse_int
from ivr.platform.hotline import Hotline


def leg_url(hotline: Hotline, path: str, *, call_sid: str, attempt: int, phone: str) -> str:
    return hotline.url(f"{path}?{urlencode({'call': call_sid, 'n': attempt, 'phone': phone})}")


def ring(hotline: Hotline, *, roster: RosterCache, call_sid: str, attempt: int,
         response: VoiceResponse | None = None, language: str = "zh") -> VoiceResponse:
    """Ring the `attempt`-th person on duty by the cached roster, or take a message."""
    response = response or VoiceResponse()
    speaker = hotline.speaker(language)
    people = roster.on_duty(settings=hotline.settings, now=hotline.now)
    if attempt > len(people) or attempt > hotline.settings.max_hunt:
        speaker.say(response, "leave_message")
        response.record(action=hotline.url("/twilio/message"), method="POST",
                        max_length=hotline.settings.message_max_seconds, finish_on_key="#",
                        play_beep=True, timeout=5)
        response.redirect(hotline.url("/twilio/message"), method="POST")
        return response
    staff = people[attempt - 1]
    speaker.say(response, "please_wait" if attempt == 1 else "sorry_wait")
    dial = Dial(action=leg_url(hotline, "/twilio/dial-result", call_sid=call_sid,
                               attempt=attempt, phone=staff.phone),
                method="POST", timeout=hotline.settings.dial_timeout,
                caller_id=hotline.settings.hotline_number or None)
    dial.number(
        staff.phone,
        url=leg_url(hotline, "/twilio/screen", call_sid=call_sid, attempt=attempt, phone=staff.phone),
        method="POST",
        status_callback=leg_url(hotline, "/twilio/leg-status", call_sid=call_sid,
                                attempt=attempt, phone=staff.phone),
        status_callback_method="POST",
        status_callback_event="initiated ringing answered completed",
    )
    response.append(dial)
    return response


def to_person(hotline: Hotline, roster: RosterCache, query: Mapping[str, str],
              form: Mapping[str, str]) -> VoiceResponse:
    """Any caller-side step: straight to the first person on duty."""
    return ring(hotline, roster=roster, call_sid=form["CallSid"], attempt=1)


def after_dial(hotline: Hotline, roster: RosterCache, query: Mapping[str, str],
               form: Mapping[str, str]) -> VoiceResponse:
    response = VoiceResponse()
    if form.get("DialBridged") == "true":
        response.hangup()
        return response
    if form.get("CallStatus") in ("completed", "canceled"):
        return response
    attempt = (parse_int(query.get("n")) or 0) + 1
    return ring(hotline, roster=roster, call_sid=form["CallSid"], attempt=attempt)


def screen(hotline: Hotline, roster: RosterCache, query: Mapping[str, str],
           form: Mapping[str, str]) -> VoiceResponse:
    speaker = hotline.speaker("zh")
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=hotline.url(
        "/twilio/screen-answer?" + urlencode({k: v for k, v in query.items()})),
        method="POST", timeout=hotline.settings.gather_timeout_seconds, input="dtmf")
    speaker.say(gather, "screen_prompt", address="", choice_label=speaker.text("choice_person"))
    response.hangup()
    return response


def screen_answer(hotline: Hotline, roster: RosterCache, query: Mapping[str, str],
                  form: Mapping[str, str]) -> VoiceResponse:
    response = VoiceResponse()
    if (form.get("Digits") or "").strip() != "1":
        response.hangup()
        return response
    hotline.speaker("zh").say(response, "screen_greeting", company=hotline.settings.company_name)
    return response


def message(hotline: Hotline, roster: RosterCache, query: Mapping[str, str],
            form: Mapping[str, str]) -> VoiceResponse:
    response = VoiceResponse()
    speaker = hotline.speaker("zh")
    recorded = (parse_int(form.get("RecordingDuration")) or 0) > 0
    speaker.say(response, "message_thanks" if recorded else "no_message")
    response.hangup()
    return response


def nothing(hotline: Hotline, roster: RosterCache, query: Mapping[str, str],
            form: Mapping[str, str]) -> VoiceResponse:
    return VoiceResponse()
