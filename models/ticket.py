"""Tickets (工单): every request recorded and owned until the resident is satisfied."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

CATEGORIES = ("repair", "complaint", "inquiry", "callback", "emergency")
STATUSES = ("open", "assigned", "in_progress", "resolved", "followed_up", "closed", "reopened")


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    # What the caller wanted (`repair`, `complaint`, `emergency`, `inquiry`); `callback`
    # only for a message that chose nothing. Reports and follow-ups count by it.
    category: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), default=None)
    resident_phone: Mapped[str | None] = mapped_column(String(32), default=None)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), default=None, index=True)
    call_sid: Mapped[str | None] = mapped_column(String(64), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    recording_url: Mapped[str | None] = mapped_column(String(500), default=None)
    # Nobody answered (a message, a missed or an abandoned call): the resident still waits
    # for our call (回电). Cleared once a staff member has talked to them.
    needs_callback: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    owner_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    department: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    escalation_level: Mapped[int] = mapped_column(Integer, default=1)
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)
    # Follow-up call (回访) after resolution: its state and the resident's answer.
    follow_up_status: Mapped[str | None] = mapped_column(String(20), default=None)
    follow_up_due_at: Mapped[datetime | None] = mapped_column(default=None)
    followed_up_at: Mapped[datetime | None] = mapped_column(default=None)
    satisfaction: Mapped[str | None] = mapped_column(String(20), default=None)

    __table_args__ = (
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_resolved_at", "resolved_at"),
        # Open and overdue tickets, and each owner's (the dashboard): covering since 0011.
        Index("ix_tickets_status_due_at", "status", "due_at", "owner_staff_id"),
    )


class TicketHistory(Base):
    """Who changed what, when: one row per change."""

    __tablename__ = "ticket_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")

    # The satisfaction rate counts answers (action) given in a period (at).
    __table_args__ = (Index("ix_ticket_history_action_at", "action", "at"),)
