"""A ticket's history: every step logged with who and when (事事有着落，件件有回音).

The one function every ticket module writes through, so none of them needs another's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models import Ticket, TicketHistory


def record(session: AsyncSession, ticket: Ticket, *, now: datetime, actor: str, action: str,
           detail: str = "") -> None:
    """One history row: who (`actor`), when (`now`), what (`action`, `detail`)."""
    session.add(TicketHistory(ticket_id=ticket.id, at=now, actor=(actor or "system")[:100],
                              action=action[:40], detail=(detail or "")[:2000]))

