"""What is spoken: Jinja2 templates in `call_scripts/`, checked for forbidden phrases.

A script containing a service taboo (服务忌语) of the seeds stops the server at start,
naming the file and the phrase, so no resident ever hears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

import call_scripts

LANGUAGES = {"zh": "zh-CN", "en": "en"}
DEFAULT_LANGUAGE = "zh"

# 服务忌语 (seed 002, 第十三条; 003 4.2.2) and the rude words of 第十一条.
FORBIDDEN_PHRASES = (
    "喂", "不知道", "急什么", "烦死人了", "没长眼睛", "他不在", "要下班了", "明天再来",
    "你别来了", "说完了没有", "就这么说", "有本事你去告", "喊什么", "还没听懂",
    "你到别处去问吧", "找谁",
)


class ForbiddenPhraseError(Exception):
    """A call script contains a phrase the service rules forbid."""


@dataclass(frozen=True)
class Voice:
    voice: str
    language: str


class CallScripts:
    """All call scripts of both languages, loaded and checked once."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory or Path(call_scripts.__file__).parent)
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
        )
        self._check()

    def _check(self) -> None:
        for lang_dir in LANGUAGES.values():
            folder = self.directory / lang_dir
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder}: call script folder missing")
            for path in sorted(folder.glob("*.j2")):
                text = path.read_text(encoding="utf-8")
                for phrase in FORBIDDEN_PHRASES:
                    if phrase in text:
                        raise ForbiddenPhraseError(
                            f"{path}: contains the forbidden phrase {phrase!r} (服务忌语)"
                        )
                self._env.get_template(f"{lang_dir}/{path.name}")

    def text(self, name: str, language: str = DEFAULT_LANGUAGE, **context) -> str:
        folder = LANGUAGES.get(language, LANGUAGES[DEFAULT_LANGUAGE])
        return self._env.get_template(f"{folder}/{name}.j2").render(**context).strip()


class Speaker:
    """Builds spoken TwiML in one language with the configured voice."""

    def __init__(self, scripts: CallScripts, voice: Voice, language: str) -> None:
        self.scripts = scripts
        self.voice = voice
        self.language = language

    def text(self, name: str, **context) -> str:
        return self.scripts.text(name, self.language, **context)

    def say(self, target, name: str, **context) -> None:
        """Append a `<Say>` of script `name` to a VoiceResponse or Gather."""
        target.say(self.text(name, **context), voice=self.voice.voice, language=self.voice.language)
