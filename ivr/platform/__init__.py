"""What every domain stands on: settings, time, phone numbers, what is spoken, the webhook journal, processes, spreadsheet cells."""
