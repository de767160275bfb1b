"""Time. Ring and talk times come from Twilio's `Timestamp`; this is only for the rest."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from typing import Callable

from ivr.platform.refusals import Refusal

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


# The days a supervisor may ask about. Beyond them, day arithmetic and the step from
# local midnight to UTC overflow (year 1 in +08:00 is year 0 in UTC).
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2999, 12, 31)


def parse_day(text: str) -> date:
    """A `YYYY-MM-DD` date of a query or an option; ValueError names what is accepted."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("expected YYYY-MM-DD") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"expected a day between {FIRST_DAY} and {LAST_DAY}")
    return day


def parse_local_moment(text: str, *, tz: tzinfo, now: datetime) -> datetime:
    """`YYYY-MM-DD HH:MM`, or `HH:MM` (the next such moment), in the centre's time zone."""
    text = (text or "").strip().replace("T", " ")
    try:
        if len(text) <= 5:
            clock = time.fromisoformat(text)
            local = now.astimezone(tz)
            moment = local.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
            return moment if moment > local else moment + timedelta(days=1)
        return datetime.fromisoformat(text).replace(tzinfo=tz)
    except ValueError:
        raise Refusal(f"{text!r}: expected 'YYYY-MM-DD HH:MM' or 'HH:MM'",
                      zh=f"时间“{text}”格式不正确，请写成 2026-11-23 18:00 或 18:00") from None
