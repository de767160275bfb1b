"""Phone numbers in E.164, the one form the database and Twilio agree on."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "CN"


class InvalidPhone(ValueError):
    pass


def normalise(raw: str, region: str = DEFAULT_REGION) -> str:
    """`13800138000` -> `+8613800138000`; numbers without a country code are mainland."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("empty phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_or_none(raw: str | None) -> str | None:
    try:
        return normalise(raw or "")
    except InvalidPhone:
        return None


def as_stored(raw: str | None) -> str:
    """What a call or leg row keeps: the number in E.164 when it is one, else what Twilio
    sent as it came (`anonymous`, a SIP address), never nothing."""
    return normalise_or_none(raw) or raw or ""


def mask(phone: str | None) -> str:
    """For logs: keep the country code and the last four digits."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
