"""Time. Ring and talk times come from Twilio's `Timestamp`; this is only for the rest."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_twilio_timestamp(value: str | None) -> datetime | None:
    """Twilio's `Timestamp` is RFC 2822 in UTC (`Mon, 23 Nov 2026 13:10:05 +0000`)."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


INT_MAX = 2**31 - 1


def parse_int(value: str | None) -> int | None:
    """An integer field of a webhook, or None if absent or not a sane 32-bit integer."""
    try:
        number = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is None or -INT_MAX <= number <= INT_MAX else None
