"""One typed settings object, read from the environment (and an optional `.env`).

The names of the public contract (`DATABASE_URL`, `TWILIO_*`, `IVR_*` ...) are fixed by
`CONTRACT.md`; everything else here is ours and documented in the README.
"""

from __future__ import annotations

import math
import re
from datetime import time
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_hours(text: str) -> tuple[time, time]:
    """`09:00-20:00` -> (09:00, 20:00). `24:00` is accepted as the end of the day."""
    match = _HOURS.match(text)
    if not match:
        raise ValueError(f"expected HH:MM-HH:MM, got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
        raise ValueError(f"not a time of day in {text!r}")
    start = time(0, 0) if h1 == 24 else time(h1, m1)
    end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
    return start, end


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite+aiosqlite:///./ivr.db", alias="DATABASE_URL")
    twilio_account_sid: str = Field("", alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str = Field("", alias="TWILIO_AUTH_TOKEN")
    twilio_api_base_url: str = Field("https://api.twilio.com", alias="TWILIO_API_BASE_URL")
    public_base_url: str = Field("", alias="PUBLIC_BASE_URL")
    hotline_number: str = Field("", alias="HOTLINE_NUMBER")
    company_name: str = Field("", alias="COMPANY_NAME")
    timezone: str = Field("Asia/Shanghai", alias="IVR_TIMEZONE")
    ring_seconds: float = Field(5, alias="IVR_RING_SECONDS", gt=0)
    calling_hours: str = Field("09:00-20:00", alias="IVR_CALLING_HOURS")
    follow_up_delay_minutes: int = Field(60, alias="IVR_FOLLOW_UP_DELAY_MINUTES", ge=0)
    port: int = Field(8080, alias="PORT")
    insecure_dev: bool = Field(False, alias="IVR_INSECURE_DEV")
    # 话后处理: after a hotline call ends its staff member is not rung for this long.
    wrap_up_seconds: float = Field(20, alias="IVR_WRAP_UP_SECONDS", ge=0)
    hunt_strategy: Literal["longest_idle", "fewest_calls", "order"] = Field(
        "longest_idle", alias="IVR_HUNT_STRATEGY")

    # --- ours, beyond the contract ---
    # A `<Dial timeout>` counts from the start of the attempt, set-up included: three full
    # rings plus this allowance for the set-up (README, *Three rings*).
    dial_timeout_buffer_seconds: float = Field(3, alias="IVR_DIAL_TIMEOUT_BUFFER_SECONDS", ge=0)
    dial_timeout_seconds: int | None = Field(None, alias="IVR_DIAL_TIMEOUT_SECONDS")
    max_hunt: int = Field(6, alias="IVR_MAX_HUNT", ge=1)
    # Who rings first for each menu choice: departments tried in order before everyone
    # else on duty (README, *Who rings first*).
    route_person: str = Field("客服", alias="IVR_ROUTE_PERSON")
    route_repair: str = Field("客服", alias="IVR_ROUTE_REPAIR")
    route_emergency: str = Field("值班,工程", alias="IVR_ROUTE_EMERGENCY")
    route_complaint: str = Field("客服", alias="IVR_ROUTE_COMPLAINT")
    route_fees: str = Field("客服", alias="IVR_ROUTE_FEES")
    route_inquiry: str = Field("客服", alias="IVR_ROUTE_INQUIRY")
    duty_departments: str = Field("值班,夜班,duty", alias="IVR_DUTY_DEPARTMENTS")
    office_hours: str = Field("08:00-18:00", alias="IVR_OFFICE_HOURS")
    message_max_seconds: int = Field(120, alias="IVR_MESSAGE_MAX_SECONDS", ge=5)
    # The queue when everyone is busy (README, *When everyone is busy*): past this wait the
    # caller is offered a message; every this-many seconds each server looks for a person
    # who has become free for the longest-waiting caller.
    queue_max_seconds: int = Field(120, alias="IVR_QUEUE_MAX_SECONDS", ge=10)
    queue_poll_seconds: float = Field(0.5, alias="IVR_QUEUE_POLL_SECONDS", gt=0, le=2)
    # One turn of the wait loop: the position, then this much quiet before the next.
    queue_hold_seconds: int = Field(15, alias="IVR_QUEUE_HOLD_SECONDS", ge=1)
    voice_zh: str = Field("Polly.Zhiyu", alias="IVR_VOICE_ZH")
    language_zh: str = Field("cmn-CN", alias="IVR_LANGUAGE_ZH")
    voice_en: str = Field("Polly.Joanna", alias="IVR_VOICE_EN")
    language_en: str = Field("en-US", alias="IVR_LANGUAGE_EN")
    gather_timeout_seconds: int = Field(6, alias="IVR_GATHER_TIMEOUT_SECONDS", ge=1)
    # Speak, don't press: menus take Mandarin (or English) speech as well as keys.
    speech: bool = Field(True, alias="IVR_SPEECH")
    speech_language_zh: str = Field("cmn-Hans-CN", alias="IVR_SPEECH_LANGUAGE_ZH")
    speech_language_en: str = Field("en-US", alias="IVR_SPEECH_LANGUAGE_EN")
    speech_min_confidence: float = Field(0.3, alias="IVR_SPEECH_MIN_CONFIDENCE", ge=0, le=1)
    # Storm mode: the spike alarm when the last 10 minutes bring this many times the usual
    # calls for that time of day, and at least this many.
    spike_factor: float = Field(3, alias="IVR_SPIKE_FACTOR", gt=0)
    spike_min_calls: int = Field(10, alias="IVR_SPIKE_MIN_CALLS", ge=1)
    # How often each open wallboard and staff desk reads its board from the database.
    wall_poll_seconds: float = Field(0.5, alias="IVR_WALL_POLL_SECONDS", gt=0, le=10)
    call_scripts_dir: str = Field("", alias="IVR_CALL_SCRIPTS_DIR")
    # Where webhooks wait on local disk while the database is unreachable.
    journal_dir: str = Field("./journal", alias="IVR_JOURNAL_DIR")
    journal_replay_seconds: float = Field(5, alias="IVR_JOURNAL_REPLAY_SECONDS", gt=0)
    # How long a webhook waits for its transaction before it answers without the database
    # (journaled): well inside the 15 s after which Twilio gives the caller an error.
    webhook_database_seconds: float = Field(8, alias="IVR_WEBHOOK_DATABASE_SECONDS", gt=0)
    log_level: str = Field("INFO", alias="IVR_LOG_LEVEL")
    # The outbound dialer (README, *Outbound calls*).
    dialer_cps: float = Field(1, alias="IVR_DIALER_CPS", gt=0)
    dialer_max_in_progress: int = Field(10, alias="IVR_DIALER_MAX_IN_PROGRESS", ge=1)
    # Of that cap, kept for the classes above fee reminders (ivr/outbound/jobs.py PRIORITY).
    dialer_reserved_in_progress: int = Field(3, alias="IVR_DIALER_RESERVED_IN_PROGRESS", ge=0)
    dialer_attempts_per_day: int = Field(3, alias="IVR_DIALER_ATTEMPTS_PER_DAY", ge=1)
    dialer_max_attempts: int = Field(6, alias="IVR_DIALER_MAX_ATTEMPTS", ge=1)
    dialer_retry_minutes: float = Field(30, alias="IVR_DIALER_RETRY_MINUTES", ge=0)
    dialer_ring_timeout_seconds: int = Field(30, alias="IVR_DIALER_RING_TIMEOUT_SECONDS", ge=5)
    dialer_rest_timeout_seconds: float = Field(15, alias="IVR_DIALER_REST_TIMEOUT_SECONDS", gt=0)
    dialer_poll_seconds: float = Field(1, alias="IVR_DIALER_POLL_SECONDS", gt=0)
    dialer_backoff_seconds: float = Field(1, alias="IVR_DIALER_BACKOFF_SECONDS", gt=0)
    dialer_rest_tries: int = Field(5, alias="IVR_DIALER_REST_TRIES", ge=1)
    dialer_reconcile_after_seconds: float = Field(300, alias="IVR_DIALER_RECONCILE_AFTER_SECONDS", gt=0)
    dialer_stale_call_minutes: float = Field(120, alias="IVR_DIALER_STALE_CALL_MINUTES", gt=0)
    sms_per_second: float = Field(1, alias="IVR_SMS_PER_SECOND", gt=0)
    # Tickets (工单): committed times per category (时效制), escalation and the daily count.
    due_minutes_emergency: int = Field(30, alias="IVR_DUE_MINUTES_EMERGENCY", ge=1)
    due_minutes_callback: int = Field(60, alias="IVR_DUE_MINUTES_CALLBACK", ge=1)
    due_minutes_repair: int = Field(24 * 60, alias="IVR_DUE_MINUTES_REPAIR", ge=1)
    due_minutes_complaint: int = Field(24 * 60, alias="IVR_DUE_MINUTES_COMPLAINT", ge=1)
    due_minutes_inquiry: int = Field(24 * 60, alias="IVR_DUE_MINUTES_INQUIRY", ge=1)
    escalation_level2_phones: str = Field("", alias="IVR_ESCALATION_LEVEL2_PHONES")
    escalation_level3_phones: str = Field("", alias="IVR_ESCALATION_LEVEL3_PHONES")
    escalation_interval_seconds: float = Field(60, alias="IVR_ESCALATION_INTERVAL_SECONDS", ge=0)
    daily_count_hour: int = Field(17, alias="IVR_DAILY_COUNT_HOUR", ge=0, le=23)
    # The dashboard's login sessions (README, *Dashboard*).
    session_hours: float = Field(12, alias="IVR_SESSION_HOURS", gt=0)
    # After this many wrong passwords for one name within IVR_LOGIN_LOCK_MINUTES, each
    # further try waits 1, 2, 4 ... seconds, at most IVR_LOGIN_MAX_DELAY_SECONDS: a
    # stranger can slow a name down, never lock it out.
    login_max_failures: int = Field(5, alias="IVR_LOGIN_MAX_FAILURES", ge=1)
    login_lock_minutes: float = Field(15, alias="IVR_LOGIN_LOCK_MINUTES", gt=0)
    login_max_delay_seconds: float = Field(60, alias="IVR_LOGIN_MAX_DELAY_SECONDS", gt=0)
    # Failed sign-ins one client address may make a minute (per process) before it waits.
    login_failures_per_address: int = Field(10, alias="IVR_LOGIN_FAILURES_PER_ADDRESS", ge=1)

    @field_validator("calling_hours", "office_hours")
    @classmethod
    def _valid_hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def three_rings_seconds(self) -> float:
        return 3 * self.ring_seconds

    @property
    def dial_timeout(self) -> int:
        """The `<Dial timeout>`: three full rings plus the set-up allowance.

        Twilio's documented ~5 s buffer is for REST-created calls' `Timeout`; a `<Dial
        timeout>` counts from the start of the attempt, set-up included, so a shorter one
        cuts off whoever picks up on the third ring."""
        if self.dial_timeout_seconds is not None:
            return max(1, self.dial_timeout_seconds)
        return max(1, math.ceil(self.three_rings_seconds + self.dial_timeout_buffer_seconds))

    def route(self, choice: str | None) -> list[str]:
        """The departments a menu choice rings first, in order (`IVR_ROUTE_*`)."""
        text = getattr(self, f"route_{choice or 'person'}", None)
        if not isinstance(text, str):
            text = self.route_person
        return [d.strip() for d in text.replace("，", ",").split(",") if d.strip()]

    @property
    def duty_department_names(self) -> set[str]:
        return {d.strip().lower() for d in self.duty_departments.split(",") if d.strip()}

    @property
    def secure_cookies(self) -> bool:
        """Session cookies are `Secure` when the public URL is https."""
        return self.public_base_url.lower().startswith("https://")

    def public_url(self, path: str) -> str:
        """An absolute URL Twilio can reach; callbacks and signature checks use it."""
        return self.public_base_url.rstrip("/") + path

    def check_startable(self) -> None:
        if not self.twilio_auth_token and not self.insecure_dev:
            raise SystemExit(
                "TWILIO_AUTH_TOKEN is not set: the server cannot check Twilio's signatures. "
                "Set it, or IVR_INSECURE_DEV=1 for local development only."
            )
