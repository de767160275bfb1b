"""Tickets (工单): lifecycle, escalation (三级处理), follow-up (回访) and the ticket reports."""
