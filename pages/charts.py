"""Charts drawn on the server as SVG: no script, no CDN, readable offline and in print.

Each function takes figures counted by `ivr.reporting.dashboard` and returns inline SVG markup.
Bars carry `class="bar"` and a `<title>` with the exact figure (shown on hover).
"""

from __future__ import annotations

from datetime import date
from html import escape

from markupsafe import Markup

BLUE, ORANGE, RED, GREY, GREEN = "#2f6fb0", "#e08a1e", "#c62828", "#8a8f98", "#2e7d32"


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="sans-serif" font-size="11">' + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "middle", fill: str = "#333",
          size: int | None = None) -> str:
    extra = f' font-size="{size}"' if size else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{extra}>'
            f"{escape(text)}</text>")


def ring_histogram(bins: list[int], *, three_rings: float, t) -> Markup:
    """Answered legs by ring seconds; the red line is the three-ring limit."""
    width, height, left, bottom, top = 640, 230, 40, 30, 20
    plot_w, plot_h = width - left - 10, height - top - bottom
    peak = max(bins) or 1
    step = plot_w / len(bins)
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
            f'stroke="#999"/>']
    for s, n in enumerate(bins):
        h = plot_h * n / peak
        x = left + s * step
        colour = BLUE if s <= three_rings else ORANGE
        label = f"{s}+" if s == len(bins) - 1 else str(s)
        body.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{step - 2:.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{escape(t("ring_bin", s=label, n=n))}'
            f"</title></rect>")
        if s % 5 == 0 or s == len(bins) - 1:
            body.append(_text(x + step / 2, height - bottom + 14, label))
    for frac in (0.5, 1.0):
        y = top + plot_h * (1 - frac)
        body.append(_text(left - 4, y + 4, str(round(peak * frac)), anchor="end", fill=GREY))
    x3 = left + (int(three_rings) + 1) * step
    body.append(f'<line class="three-rings" x1="{x3:.1f}" y1="{top - 6}" x2="{x3:.1f}" '
                f'y2="{top + plot_h}" stroke="{RED}" stroke-width="2" stroke-dasharray="5,3"/>')
    body.append(_text(x3 + 4, top + 4, t("three_ring_line", s=f"{three_rings:g}"), anchor="start",
                      fill=RED))
    body.append(_text(width - 10, height - 2, t("seconds_axis"), anchor="end", fill=GREY))
    return _svg(width, height, body, t("chart_histogram"))


def daily_trend(days: list[dict], *, t) -> Markup:
    """Inbound calls per day (bars) and the three-ring rate (line, right axis, 0–100%)."""
    width, height, left, right, bottom, top = 640, 240, 40, 44, 30, 20
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([d["calls"] for d in days] + [1])
    step = plot_w / max(1, len(days))
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
            f'stroke="#999"/>',
            f'<line class="target" x1="{left}" y1="{top}" x2="{width - right}" y2="{top}" '
            f'stroke="{GREEN}" stroke-dasharray="4,3"/>',
            _text(width - right + 4, top + 4, "100%", anchor="start", fill=GREEN),
            _text(width - right + 4, top + plot_h / 2 + 4, "50%", anchor="start", fill=GREY),
            _text(left - 4, top + 4, str(peak), anchor="end", fill=GREY)]
    points = []
    for i, d in enumerate(days):
        x = left + i * step
        h = plot_h * d["calls"] / peak
        day: date = d["day"]
        rate = d["three_ring_rate"]
        tip = t("trend_tip", day=day.isoformat(), calls=d["calls"],
                rate="—" if rate is None else f"{rate * 100:.1f}%")
        body.append(f'<rect class="bar" x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" '
                    f'width="{max(1, step - 2):.1f}" height="{h:.1f}" fill="#9cc3e6">'
                    f"<title>{escape(tip)}</title></rect>")
        if rate is not None:
            points.append((x + step / 2, top + plot_h * (1 - rate), rate, tip))
        if day.day == 1 or day.day % 5 == 0:
            body.append(_text(x + step / 2, height - bottom + 14, f"{day.month}/{day.day}"))
    if points:
        body.append('<polyline class="rate" fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                    % (BLUE, " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)))
        for x, y, rate, tip in points:
            colour = BLUE if rate >= 1 else RED
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                        f"<title>{escape(tip)}</title></circle>")
    return _svg(width, height, body, t("chart_trend"))


def heat_map(grid: list[list[int]], *, t) -> Markup:
    """Inbound calls by weekday (rows) and hour of day (columns)."""
    width, height, left, top, cell_h = 640, 200, 40, 20, 22
    cell_w = (width - left - 10) / 24
    peak = max([max(row) for row in grid] + [1])
    weekdays = t("weekdays").split(",")
    body = []
    for hour in range(0, 24, 3):
        body.append(_text(left + hour * cell_w + cell_w / 2, top - 6, f"{hour}"))
    for wd, row in enumerate(grid):
        y = top + wd * cell_h
        body.append(_text(left - 6, y + cell_h / 2 + 4, weekdays[wd], anchor="end"))
        for hour, n in enumerate(row):
            share = n / peak
            # White to deep blue; an empty hour stays pale grey.
            fill = "#f3f4f6" if n == 0 else "#%02x%02x%02x" % (
                int(222 - 175 * share), int(235 - 124 * share), int(247 - 71 * share))
            body.append(f'<rect class="cell" x="{left + hour * cell_w:.1f}" y="{y}" '
                        f'width="{cell_w - 1:.1f}" height="{cell_h - 1}" fill="{fill}">'
                        f"<title>{escape(t('heat_tip', day=weekdays[wd], hour=hour, n=n))}"
                        f"</title></rect>")
    body.append(_text(width - 10, height - 4, t("heat_legend", n=peak), anchor="end", fill=GREY))
    return _svg(width, height, body, t("chart_heat"))
