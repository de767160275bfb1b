"""Templates and words of the pages: Chinese by default, English when the user switches.

Handlers pass plain data (no ORM objects, no queries in templates) to `render`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from ivr.calls import labels as call_labels
from ivr.platform.clock import parse_day
from ivr.platform.resources import SETTINGS
from ivr.tickets import labels as ticket_labels

from .words import WORDS

HERE = Path(__file__).parent
STATIC = HERE / "static"
LANG_COOKIE = "ivr_lang"
# Set by `access.page` on every page a signed-in user opens.
SIGNED_IN = web.RequestKey("signed_in", object)
LANGUAGES = ("zh", "en")

# The record values' tables the templates' `label(table, value)` reads.
LABEL_TABLES = {"call_state": call_labels.CALL_STATES, "event": call_labels.EVENTS,
                "purpose": call_labels.PURPOSES}

env = Environment(loader=FileSystemLoader(HERE / "templates"),
                  autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


MAX_ID = 2**31 - 1  # an INTEGER key on every backend (PostgreSQL's int4)


def number_field(text: str | None, what: str, *, default: int | None = None,
                 low: int = 0, high: int = MAX_ID) -> int | None:
    """A whole number typed into a query or form field, or `default` when empty; else 400.
    Bounded, so no number reaches the database bigger than its columns."""
    if text is None or not text.strip():
        return default
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise web.HTTPBadRequest(text=f"{what}: expected a whole number from {low} to {high}")
    return int(text)


def choice_field(text: str | None, what: str, *, choices: Sequence[str],
                 default: str | None = None) -> str | None:
    """One of `choices` typed into a query or form field, or `default` when empty; else
    400 naming the field and its choices, so a mistyped URL is told, not guessed at."""
    if text is None or not text.strip():
        return default
    text = text.strip()
    if text not in choices:
        raise web.HTTPBadRequest(text=f"{what}: expected one of {', '.join(choices)}")
    return text


def path_id(request: web.Request) -> int | None:
    """The `{id}` of a page's URL (digits by its route), None when no row can have it."""
    value = int(request.match_info["id"])
    return value if 0 < value <= MAX_ID else None


def query_day(text: str | None, default: date) -> date:
    """A date field of a page's query (`YYYY-MM-DD`), or `default` when empty; else 400."""
    if not text:
        return default
    try:
        return parse_day(text)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


def language(request: web.Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "zh")
    return chosen if chosen in LANGUAGES else "zh"


def translator(lang: str):
    def t(key: str, **values) -> str:
        pair = WORDS.get(key)
        text = key if pair is None else pair[0 if lang == "zh" else 1]
        return text.format(**values) if values else text
    return t


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def number(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def local_time(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An ISO time (already in IVR_TIMEZONE) shown without its offset."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime(fmt)


def hours(seconds: int | float | None) -> str:
    """A duration as H:MM (talk time, time signed in)."""
    if seconds is None:
        return "—"
    minutes = int(seconds) // 60
    return f"{minutes // 60}:{minutes % 60:02d}"


env.filters.update(percent=percent, number=number, local_time=local_time, hours=hours)


def render(request: web.Request, template: str, *, status: int = 200, **context) -> web.Response:
    lang = language(request)
    signed = request.get(SIGNED_IN)
    context.update(
        t=translator(lang), lang=lang, request=request,
        user=signed.user if signed else None,
        csrf=signed.login.csrf_token if signed else "",
        csrf_field=Markup(f'<input type="hidden" name="csrf" value="{signed.login.csrf_token}">')
        if signed else Markup(""),
        company=request.app[SETTINGS].company_name,
        path=request.path_qs,
        category_name=lambda c: ticket_labels.category_label(c, lang),
        status_name=lambda s: ticket_labels.status_label(s, lang),
        follow_up_name=lambda s: ticket_labels.follow_up_label(s, lang),
        satisfaction_name=lambda s: ticket_labels.satisfaction_label(s, lang),
        history_line=lambda h: ticket_labels.history_line(
            actor=h["actor"], action=h["action"], detail=h["detail"], language=lang),
        label=lambda table, value: call_labels.label(LABEL_TABLES[table], value, lang),
    )
    html = env.get_template(template).render(**context)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status,
                        headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    # Everything is served from here: no CDN, no inline scripts.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
