"""Outbound call jobs: callbacks, follow-ups and fee reminders, durable and exactly once."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Float, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

JOB_KINDS = ("callback", "follow_up", "fee_reminder", "escalation")
JOB_STATES = ("queued", "dialing", "in_call", "done", "exhausted", "skipped", "failed", "cancelled")


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="fee_reminder")
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(100), default="")
    households: Mapped[int] = mapped_column(Integer, default=0)


class OutboundJob(Base):
    __tablename__ = "outbound_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), default=None)
    phone: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), default=None)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), default=None)
    arrears_at_queue: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), default=None)
    created_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    not_after: Mapped[datetime | None] = mapped_column(default=None)
    next_attempt_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(30), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_outbound_jobs_state_next", "state", "next_attempt_at"),
        Index("ix_outbound_jobs_campaign", "campaign_id"),
        # claiming by class (people before campaigns): the due jobs of one kind
        Index("ix_outbound_jobs_state_kind_next", "state", "kind", "next_attempt_at"),
        # reminders dealt in turn across campaigns: one campaign's due ones (0010)
        Index("ix_outbound_jobs_state_kind_campaign_next", "state", "kind", "campaign_id",
              "next_attempt_at"),
    )


class Attempt(Base):
    """One try at a job. Written before the REST call (the intent), then completed."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("outbound_jobs.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column()
    # The phone rung: the resident's, or for a callback the staff member's rung first.
    phone: Mapped[str] = mapped_column(String(32), default="")
    staff_id: Mapped[int | None] = mapped_column(Integer, default=None)
    placed_at: Mapped[datetime | None] = mapped_column(default=None)
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    state: Mapped[str] = mapped_column(String(20), default="intent")
    result: Mapped[str | None] = mapped_column(String(30), default=None)
    answered_by: Mapped[str | None] = mapped_column(String(30), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    # Who is free (ivr.calls.presence): one staff member's recent callbacks.
    __table_args__ = (Index("ix_attempts_staff_id_created_at", "staff_id", "created_at"),)


class SmsMessage(Base):
    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(30))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), default=None)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), default=None)
    sid: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column()
    # Set when a sender takes the message (status `sending`), before the REST call.
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class PaceSlot(Base):
    """The next moment a REST request of one kind may start, shared by every process.

    Twilio limits calls (and messages) per second per account, not per process: each
    dialer takes its turn from this row, so two dialers at 1 a second place 1 a second.
    Times are seconds of the wall clock (the machines' NTP-kept clocks; the monotonic
    clock is private to a process)."""

    __tablename__ = "pace_slots"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float, default=0.0)
    # Twilio said 429: no request of this kind starts before this moment.
    hold_until: Mapped[float] = mapped_column(Float, default=0.0)
