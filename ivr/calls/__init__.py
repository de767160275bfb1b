"""The inbound call: greeting and menu, putting a caller through to a person, call records and the call log, and what callers hear without the database."""
