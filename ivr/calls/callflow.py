"""The inbound call: greeting, keypad menu and what each key does.

Plain functions over a database session: each takes the webhook's form and returns the
TwiML to speak. The webhook handlers only translate HTTP.
"""

from __future__ import annotations

from typing import Mapping

from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from ivr.calls import notices, speech, staff_line, transfer
from ivr.calls.records import create_or_get_call, get_or_create_call
from ivr.calls.speech import HINTS
from ivr.platform.hotline import Hotline, yuan
from models import Call, Resident

MENU_KEYS = {"0": "person", "1": "repair", "2": "complaint", "3": "fees", "4": "inquiry"}
LANGUAGE_KEY = "9"
REPEAT_KEY = "*"
MENU_RETRIES = 3  # an invalid key re-offers the menu at most this many times
# What was said, as the key that means it; an emergency has no key of its own on the menu.
SPOKEN_KEYS = {choice: key for key, choice in MENU_KEYS.items()} | {"emergency": "emergency"}
SPOKEN_ONLY = {"emergency": "emergency"}
UNCLEAR = "?"  # speech that meant nothing on the menu: handled as an invalid key


def listen(hotline: Hotline, call: Call, form: Mapping[str, str]) -> speech.Understanding:
    """What the caller said, kept on the call (the call page shows it) and understood."""
    settings = hotline.settings
    heard = speech.understand(form.get("SpeechResult"), confidence=form.get("Confidence"),
                              lexicon=speech.lexicon_in(hotline.scripts.directory),
                              min_confidence=settings.speech_min_confidence)
    call.speech_text = heard.heard[:500] or None
    try:
        call.speech_confidence = float(form.get("Confidence") or "") if form.get("Confidence") else None
    except ValueError:
        call.speech_confidence = None
    call.speech_choice = heard.choice
    return heard


def time_of_day_key(hotline: Hotline) -> str:
    hour = hotline.now.astimezone(hotline.settings.tz).hour
    if 5 <= hour < 12:
        return "tod_morning"
    if 12 <= hour < 18:
        return "tod_afternoon"
    return "tod_evening"


def resident_view(resident: Resident | None) -> dict | None:
    if resident is None:
        return None
    return {"name": resident.name, "address": resident.address}


def ask(hotline: Hotline, response: VoiceResponse, call: Call, path: str, on_empty: bool = True):
    """A `<Gather>` for one key, or, unless `IVR_SPEECH=off`, the caller's own words.

    With `on_empty=False` silence falls through to the next verb instead of the action."""
    settings = hotline.settings
    speech = {}
    if settings.speech:
        speech = dict(
            input="dtmf speech", hints=HINTS, speech_timeout="auto",
            language=settings.speech_language_en if call.language == "en" else settings.speech_language_zh,
        )
    return response.gather(
        num_digits=1, action=hotline.url(path), method="POST",
        timeout=settings.gather_timeout_seconds, action_on_empty_result=on_empty,
        **(speech or {"input": "dtmf"}),
    )


def menu_gather(hotline: Hotline, response: VoiceResponse, call: Call) -> None:
    speaker = hotline.speaker(call.language)
    gather = ask(hotline, response, call, "/twilio/menu")
    speaker.say(gather, "menu", speech=hotline.settings.speech)
    if call.menu_choice is None:
        other = "zh" if call.language == "en" else "en"
        hotline.speaker(other).say(gather, "other_language")


async def answer(session: AsyncSession, hotline: Hotline, *, form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/voice`: greet by time of day, recognise the caller, offer the menu.
    A staff member calling from their registered phone hears the staff menu (签入/签出)."""
    call = await create_or_get_call(session, form=form, now=hotline.now)
    if call.resident_id is None:
        staff = await staff_line.staff_calling(session, call=call)
        if staff is not None:
            return await staff_line.staff_menu(session, hotline, call=call, staff=staff)
    return await greet(session, hotline, call=call,
                       resident=await session.get(Resident, call.resident_id) if call.resident_id else None)


async def staff_menu(session: AsyncSession, hotline: Hotline, *,
                     form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/staff-menu`: sign in or out; else the residents' greeting and menu."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    done = await staff_line.staff_key(session, hotline, call=call, form=form)
    if done is not None:
        return done
    call.outcome = None  # trying the line as a resident: an ordinary call from here on
    return await greet(session, hotline, call=call, resident=None)


async def greet(session: AsyncSession, hotline: Hotline, *, call: Call,
                resident: Resident | None) -> VoiceResponse:
    """The greeting, an outage notice for this caller if there is one, then the menu."""
    speaker = hotline.speaker(call.language)
    response = VoiceResponse()
    speaker.say(
        response, "greeting",
        time_of_day=speaker.text(time_of_day_key(hotline)),
        company=hotline.settings.company_name,
        resident=resident_view(resident),
    )
    notice = await notices.active_for(session, address=resident.address if resident else None)
    if notice is not None:  # storm mode: the outage first, then the menu as usual
        call.notice_id = notice.id
        gather = ask(hotline, response, call, "/twilio/notice", on_empty=False)
        speaker.say(gather, "notice", where=notice.where, text=notice.text,
                    until=notice.until.astimezone(hotline.settings.tz) if notice.until else None,
                    speech=hotline.settings.speech)
    menu_gather(hotline, response, call)
    return response


async def notice_key(session: AsyncSession, hotline: Hotline, *, form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/notice`: 1 (or 短信) for an SMS when it is fixed; anything else is the menu."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    digits = (form.get("Digits") or "").strip()
    if call.notice_id is None or not notices.asks_for_sms(digits, form.get("SpeechResult") or ""):
        return await menu(session, hotline, form=form)
    await notices.subscribe(session, notice_id=call.notice_id, phone=call.from_number,
                            call_sid=call.sid, now=hotline.now)
    call.outcome = call.outcome or "self_service"
    response = VoiceResponse()
    hotline.speaker(call.language).say(response, "notice_subscribed")
    response.hangup()
    return response


async def menu(session: AsyncSession, hotline: Hotline, *, form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/menu`: the caller's key (or none). After a person was asked for, a
    key (a replayed request) changes nothing and rings nobody."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    if transfer.hunt_started(call):
        return transfer.already_hunting(hotline, call=call)
    digits = (form.get("Digits") or "").strip()
    speaker = hotline.speaker(call.language)
    response = VoiceResponse()

    if not digits and (form.get("SpeechResult") or "").strip():
        heard = listen(hotline, call, form)
        digits = SPOKEN_KEYS.get(heard.choice, UNCLEAR)
    if digits == "":
        call.empty_inputs += 1
        if call.empty_inputs >= 2:
            return await transfer.to_person(session, hotline, call=call, choice="person")
        speaker.say(response, "no_input")
        menu_gather(hotline, response, call)
        return response
    if digits == REPEAT_KEY:
        menu_gather(hotline, response, call)
        return response
    if digits == LANGUAGE_KEY:
        call.language = "en" if call.language == "zh" else "zh"
        menu_gather(hotline, response, call)
        return response

    choice = MENU_KEYS.get(digits[:1]) if len(digits) == 1 else SPOKEN_ONLY.get(digits)
    if choice is None:
        call.invalid_inputs += 1
        if call.invalid_inputs > MENU_RETRIES:
            return await transfer.to_person(session, hotline, call=call, choice="person")
        # Words not understood are said to be unclear, never routed on a guess.
        speaker.say(response, "speech_unclear" if digits == UNCLEAR else "invalid")
        menu_gather(hotline, response, call)
        return response

    call.menu_choice = choice
    if choice == "emergency":
        return await transfer.to_person(session, hotline, call=call, choice="emergency",
                                        intro="repair_emergency", duty_only=True)
    if choice == "person":
        return await transfer.to_person(session, hotline, call=call, choice="person")
    if choice == "repair":
        resident = await session.get(Resident, call.resident_id) if call.resident_id else None
        gather = ask(hotline, response, call, "/twilio/repair")
        speaker.say(gather, "repair", resident=resident_view(resident))
        return response
    if choice == "complaint":
        return await transfer.to_person(session, hotline, call=call, choice="complaint",
                                        intro="complaint")
    if choice == "fees":
        return await fees(session, hotline, call=call, response=response)
    return await transfer.to_person(session, hotline, call=call, choice="inquiry", intro="inquiry")


async def repair(session: AsyncSession, hotline: Hotline, *, form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/repair`: 1 emergency (rings the duty phone at once), else a person."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    if transfer.hunt_started(call):
        return transfer.already_hunting(hotline, call=call)
    spoken = (not (form.get("Digits") or "").strip() and (form.get("SpeechResult") or "").strip()
              and listen(hotline, call, form).choice == "emergency")
    if spoken or (form.get("Digits") or "").strip() == "1":
        call.menu_choice = "emergency"
        return await transfer.to_person(session, hotline, call=call, choice="emergency",
                                        intro="repair_emergency", duty_only=True)
    call.menu_choice = "repair"
    return await transfer.to_person(session, hotline, call=call, choice="repair", intro="to_person")


async def fees(session: AsyncSession, hotline: Hotline, *, call: Call,
               response: VoiceResponse) -> VoiceResponse:
    """Fees: a known resident hears the arrears on record; anyone else is put through."""
    resident = await session.get(Resident, call.resident_id) if call.resident_id else None
    if resident is None:
        return await transfer.to_person(session, hotline, call=call, choice="fees",
                                        intro="fees_unknown")
    speaker = hotline.speaker(call.language)
    call.outcome = call.outcome or "self_service"
    gather = response.gather(
        num_digits=1, action=hotline.url("/twilio/fees"), method="POST",
        timeout=hotline.settings.gather_timeout_seconds, input="dtmf",
    )
    speaker.say(gather, "fees_known", resident=resident_view(resident),
                arrears=resident.arrears, arrears_text=yuan(resident.arrears))
    speaker.say(response, "goodbye")
    response.hangup()
    return response


async def fees_key(session: AsyncSession, hotline: Hotline, *, form: Mapping[str, str]) -> VoiceResponse:
    """`POST /twilio/fees`: 1 hear it again, 0 a person."""
    call = await get_or_create_call(session, form=form, now=hotline.now)
    if transfer.hunt_started(call):
        return transfer.already_hunting(hotline, call=call)
    digits = (form.get("Digits") or "").strip()
    if digits == "0":
        call.outcome = None
        return await transfer.to_person(session, hotline, call=call, choice="fees")
    return await fees(session, hotline, call=call, response=VoiceResponse())


