"""Calls, their Twilio events, and the legs that rang staff phones.

Every piece of call state lives here, so any process can take the next webhook.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(16), default="inbound")
    from_number: Mapped[str] = mapped_column(String(32), default="")
    to_number: Mapped[str] = mapped_column(String(32), default="")
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), default=None)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    menu_choice: Mapped[str | None] = mapped_column(String(16), default=None)
    # Twilio's last CallStatus and the sequence number that set it.
    status: Mapped[str] = mapped_column(String(20), default="in-progress")
    status_sequence: Mapped[int | None] = mapped_column(Integer, default=None)
    # What happened for the caller: answered, message, abandoned, self_service, missed.
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    # The flow's progress: menu retries and the hunt for a person.
    invalid_inputs: Mapped[int] = mapped_column(Integer, default=0)
    empty_inputs: Mapped[int] = mapped_column(Integer, default=0)
    transfer_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    waited_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    answered_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    # What the caller said at the menu (the last time), how sure Twilio was, what it meant.
    speech_text: Mapped[str | None] = mapped_column(String(500), default=None)
    speech_confidence: Mapped[float | None] = mapped_column(Float, default=None)
    speech_choice: Mapped[str | None] = mapped_column(String(16), default=None)
    # The outage notice the caller heard before the menu (storm mode), if any. No FK, so
    # the column is added to a full table without SQLite rebuilding it.
    notice_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    # The dialer job that placed an outbound call (no FK: jobs point at tickets at calls).
    outbound_job_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    # The queue (ivr/calls/queue.py), when every staff member was busy. `queued_at`: first
    # in line (the order); `queue_since`: in line now (None when not waiting); priority 1
    # for an emergency, which goes to the head; `queue_wait_seconds`: the waits ended so
    # far; `queue_exit`: rung, message, timeout or abandoned; `queue_leg_id`: the leg a
    # free person was reserved for, while the caller is being redirected to it.
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    queue_since: Mapped[datetime | None] = mapped_column(default=None)
    queue_priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    queue_wait_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    queue_exit: Mapped[str | None] = mapped_column(String(16), default=None)
    queue_leg_id: Mapped[int | None] = mapped_column(Integer, default=None)

    legs: Mapped[list["Leg"]] = relationship(
        back_populates="call", order_by="Leg.id", lazy="raise"
    )

    # Covering: the dashboard's figures for a month read this index, not the table
    # (queued_at since 0010: the speed of answer's calls). The queue's figures read only
    # the few calls that waited in line (a partial index, 0010).
    __table_args__ = (Index("ix_calls_started_at", "started_at", "direction", "outcome",
                            "menu_choice", "queued_at"),
                      Index("ix_calls_queue_since", "queue_since", "queue_priority", "queued_at"),
                      Index("ix_calls_queued", "started_at", "queue_exit", "queue_wait_seconds",
                            sqlite_where=text("queued_at IS NOT NULL"),
                            postgresql_where=text("queued_at IS NOT NULL")))


class CallEvent(Base):
    """Every webhook and status callback, as Twilio sent it (the call's timeline)."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    # I-Twilio-Idempotency-Token, or our own natural key for a callback.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    twilio_timestamp: Mapped[datetime | None] = mapped_column(default=None)
    sequence_number: Mapped[int | None] = mapped_column(Integer, default=None)
    received_at: Mapped[datetime] = mapped_column()
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # The TwiML we answered with, so a retried webhook gets the very same answer.
    response: Mapped[str | None] = mapped_column(Text, default=None)


class Leg(Base):
    """One staff phone rung for one call. Times are Twilio's event timestamps."""

    __tablename__ = "legs"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    sid: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    staff_name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column()
    initiated_at: Mapped[datetime | None] = mapped_column(default=None)
    ringing_at: Mapped[datetime | None] = mapped_column(default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    # A person pressed the accept key in the screening whisper.
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str | None] = mapped_column(String(20), default=None)
    status_sequence: Mapped[int | None] = mapped_column(Integer, default=None)
    # answered_at - ringing_at (or initiated_at), kept so statistics need no date maths.
    ring_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    dial_status: Mapped[str | None] = mapped_column(String(20), default=None)
    bridged: Mapped[bool] = mapped_column(Boolean, default=False)

    call: Mapped[Call] = relationship(back_populates="legs", lazy="raise")

    # Covering indexes: statistics by period (talk time too since 0010), and speed of
    # answer per call, read only these.
    __table_args__ = (
        Index("ix_legs_created_at", "created_at", "accepted", "ring_seconds", "staff_name",
              "phone", "answered_at", "completed_at"),
        Index("ix_legs_call_id", "call_id", "accepted", "ringing_at", "initiated_at",
              "answered_at"),
        # Who is free (ivr.calls.presence): one staff member's recent legs, and of them
        # the answered ones and their ends without reading the table (0011).
        Index("ix_legs_staff_id_created_at", "staff_id", "created_at", "accepted",
              "completed_at"),
    )
