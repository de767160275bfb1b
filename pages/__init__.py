"""The supervisors' pages: dashboard, call log, tickets (Chinese first)."""
