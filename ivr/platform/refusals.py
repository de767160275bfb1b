"""A refusal said twice: in English for the CLI, the API and the logs, and in Chinese for
the supervisor who typed the input on a Chinese page (the pages pick by language)."""

from __future__ import annotations


class Refusal(ValueError):
    """Bad input, or a change the rules do not allow; the message says why."""

    def __init__(self, message: str, *, zh: str | None = None):
        super().__init__(message)
        self.zh = zh or message

    def said(self, language: str) -> str:
        return self.zh if language == "zh" else str(self)
