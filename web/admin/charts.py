"""Bar charts drawn on the server as inline SVG: no JavaScript, no CDN, no inline styles.

The site's Content-Security-Policy forbids `style` attributes, `<style>` elements and scripts, so the
SVG carries only presentation attributes (`fill`, `stroke`, `font-size`) and classes. The stylesheet may
recolour `.chart .series-0`, `.series-1`, ... (and the caller's own class per series); the `fill`
attribute is the default, so a chart prints and reads without CSS.

Accessibility: role="img" with a <title> and a <desc> that summarises every series (total, maximum);
each series has a legend entry with its name beside the swatch, so no meaning rests on colour alone;
each bar has a <title> (label, series, value); the page shows the same figures in a table.

Every text (titles, labels, series names: venue names among them) is escaped here.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Sequence

from markupsafe import Markup, escape

from web.admin import statistics

FONT_SIZE = 12
PAD = 8
MAX_LABEL_WIDTH = 96  # px; longer axis labels are cut with "…" (the full text is in the table)
MIN_LABEL_WIDTH = 36  # px (3 Japanese characters): bars this wide keep every label, cut to fit
# Okabe–Ito: distinguishable with the common colour-vision deficiencies, and in greyscale print.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
TEXT_COLOUR = "#333333"
GRID_COLOUR = "#d9d9d9"
CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

Series = tuple[str, Sequence[int], str]


def _t(value: object) -> str:
    """Text or attribute content: characters XML cannot hold removed, then escaped."""
    return str(escape(NOT_XML.sub("", str(value))))


def _n(value: float) -> str:
    """A coordinate with at most one decimal."""
    text = f"{round(value, 1):.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def text_width(text: str, size: int = FONT_SIZE) -> float:
    """Estimated width in px: full-width (Japanese) characters 1 em, others 0.6 em."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.6 for ch in text)


def _fit(text: str, width: float) -> str:
    if text_width(text) <= width:
        return text
    while text and text_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def nice_scale(maximum: float, steps: int = 5) -> tuple[int, int]:
    """(top, step) of an integer axis from 0 with at most `steps` steps of 1, 2, 2.5 or 5 x 10^k.
    An all-zero chart gets the axis 0..1."""
    maximum = max(maximum, 1)
    exponent = 0
    while True:
        for mantissa in (1, 2, 2.5, 5):
            step = mantissa * 10 ** exponent
            if step != int(step):
                continue
            step = int(step)
            if math.ceil(maximum / step) <= steps:
                return step * math.ceil(maximum / step), step
        exponent += 1


def _check(labels: Sequence[str], series: Sequence[Series], width: int, height: int) -> None:
    if width < 200 or height < 120:
        raise ValueError("a chart needs at least 200 x 120 px")
    for name, values, css in series:
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
        if any(value < 0 for value in values):
            raise ValueError(f"series {name!r} has a negative value")
        if not CLASS_NAME.match(css):
            raise ValueError(f"{css!r} is not a CSS class name")


def _describe(labels: Sequence[str], series: Sequence[Series]) -> str:
    texts = statistics.texts()
    if not labels or not series:
        return texts["chart.desc_empty"]
    parts = [texts["chart.desc_intro"].format(count=len(labels))]
    for name, values, _ in series:
        top = max(values)
        if top == 0:
            parts.append(texts["chart.desc_series_zero"].format(name=name))
        else:
            parts.append(texts["chart.desc_series"].format(
                name=name, total=sum(values), max=top, label=labels[list(values).index(top)]))
    return "".join(parts)


def _legend(series: Sequence[Series], width: int, top: float) -> tuple[list[str], float]:
    """Swatch and name per series, wrapped into rows; returns the elements and the y below them."""
    parts, x, y = ['<g class="legend">'], float(PAD), top
    for i, (name, _, css) in enumerate(series):
        item = 14 + text_width(name) + 16
        if x > PAD and x + item > width - PAD:
            x, y = float(PAD), y + FONT_SIZE + 6
        parts.append(f'<rect class="swatch series-{i} {css}" x="{_n(x)}" y="{_n(y)}" width="10" height="10" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{_n(x + 14)}" y="{_n(y + 9.5)}" fill="{TEXT_COLOUR}">{_t(name)}</text>')
        x += item
    parts.append("</g>")
    return parts, y + (FONT_SIZE + 6 if series else 0)


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, stacked: bool = True,
              width: int = 720, height: int = 260) -> Markup:
    """An inline <svg> bar chart: one group of bars per label, one colour and legend entry per series
    (legend name, values, CSS class). Stacked by default; stacked=False puts the series side by side."""
    labels = [str(label) for label in labels]
    series = [(str(name), [value for value in values], css) for name, values, css in series]
    _check(labels, series, width, height)
    texts = statistics.texts()
    digest = hashlib.sha256(repr((title, labels, series, stacked, width, height)).encode()).hexdigest()
    chart_id = f"chart-{digest[:12]}"

    heights = ([sum(values[i] for _, values, _ in series) for i in range(len(labels))] if stacked
               else [max((values[i] for _, values, _ in series), default=0) for i in range(len(labels))])
    top, step = nice_scale(max(heights, default=0))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'aria-labelledby="{chart_id}-title {chart_id}-desc" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{FONT_SIZE}">',
             f'<title id="{chart_id}-title">{_t(title)}</title>',
             f'<desc id="{chart_id}-desc">{_t(_describe(labels, series))}</desc>',
             f'<text class="chart-title" x="{PAD}" y="{PAD + FONT_SIZE}" font-weight="bold" '
             f'fill="{TEXT_COLOUR}">{_t(title)}</text>']
    legend, legend_bottom = _legend(series, width, PAD + FONT_SIZE + 8)
    parts += legend

    plot_top = legend_bottom + FONT_SIZE / 2 + 8
    plot_bottom = height - PAD - FONT_SIZE - 6
    if plot_bottom - plot_top < 20:
        raise ValueError("the chart is too low for its legend")
    left = PAD + text_width(str(top)) + 6
    right = width - PAD
    plot_h, plot_w = plot_bottom - plot_top, right - left

    def y_of(value: float) -> float:
        return plot_bottom - value / top * plot_h

    parts.append(f'<g class="grid" stroke="{GRID_COLOUR}" stroke-width="1">')
    parts += [f'<line x1="{_n(left)}" y1="{_n(y_of(v))}" x2="{_n(right)}" y2="{_n(y_of(v))}"/>'
              for v in range(step, top + 1, step)]
    parts.append(f'</g><g class="axis y-axis" fill="{TEXT_COLOUR}" text-anchor="end">')
    parts += [f'<text x="{_n(left - 4)}" y="{_n(y_of(v) + FONT_SIZE * 0.35)}">{v}</text>'
              for v in range(0, top + 1, step)]
    parts.append("</g>")

    if not labels:
        parts.append(f'<text class="no-data" x="{_n((left + right) / 2)}" y="{_n((plot_top + plot_bottom) / 2)}" '
                     f'text-anchor="middle" fill="{TEXT_COLOUR}">{_t(texts["chart.no_data"])}</text>')
    band = plot_w / max(len(labels), 1)
    group = band * 0.7
    bar = group if stacked else group / max(len(series), 1)
    base = [0] * len(labels)
    for k, (name, values, css) in enumerate(series):
        parts.append(f'<g class="series series-{k} {css}" fill="{PALETTE[k % len(PALETTE)]}">')
        for i, value in enumerate(values):
            if not value:
                continue
            x = left + i * band + (band - group) / 2 + (0 if stacked else k * bar)
            bottom = base[i] if stacked else 0
            tip = texts["chart.bar"].format(label=labels[i], name=name, value=value)
            parts.append(f'<rect x="{_n(x)}" y="{_n(y_of(bottom + value))}" width="{_n(bar)}" '
                         f'height="{_n(y_of(bottom) - y_of(bottom + value))}"><title>{_t(tip)}</title></rect>')
            if stacked:
                base[i] += value
        parts.append("</g>")

    parts.append(f'<line class="baseline" x1="{_n(left)}" y1="{_n(plot_bottom)}" x2="{_n(right)}" '
                 f'y2="{_n(plot_bottom)}" stroke="{TEXT_COLOUR}" stroke-width="1"/>')
    parts += _x_labels(labels, left, band, plot_bottom + FONT_SIZE + 4, width)
    parts.append("</svg>")
    return Markup("".join(parts))


def _x_labels(labels: Sequence[str], left: float, band: float, y: float, width: int) -> list[str]:
    """Every label when they fit or can be cut to a readable length (venue names: cut, with the full
    text in a <title>); else every 2nd, 3rd, ... (31 days, 24 hours), starting with the first."""
    if not labels:
        return []
    need = min(max(text_width(label) for label in labels), MAX_LABEL_WIDTH) + 4
    every = 1 if band - 4 >= MIN_LABEL_WIDTH else max(1, math.ceil(need / band))
    room = min(band * every - 4, MAX_LABEL_WIDTH)
    parts = [f'<g class="axis x-axis" fill="{TEXT_COLOUR}" text-anchor="middle">']
    for i in range(0, len(labels), every):
        shown = _fit(labels[i], room)
        full = f"<title>{_t(labels[i])}</title>" if shown != labels[i] else ""
        half = text_width(shown) / 2
        x = min(max(left + (i + 0.5) * band, PAD + half), width - PAD - half)  # never past the edges
        parts.append(f'<text x="{_n(x)}" y="{_n(y)}">{full}{_t(shown)}</text>')
    parts.append("</g>")
    return parts


# -- the statistics page's charts ----------------------------------------------------------------------

def summary_charts(s: statistics.Summary) -> dict[str, Markup]:
    """The four charts of the statistics page: by day, by venue, by channel, requests by hour. Each
    comes with a table of the same figures on the page (statistics.tables)."""
    texts = statistics.texts()
    one_month = (s.first.year, s.first.month) == (s.last.year, s.last.month)
    day_format = texts["chart.day_label" if one_month else "chart.month_day_label"]
    days = [day_format.format(month=d.date.month, day=d.date.day) for d in s.by_day]
    kept = ("attended", "no_show", "confirmed")
    return {
        "by_day": bar_chart(texts["chart.day_title"], days,
                            [(texts[f"status.{k}"], [getattr(d, k) for d in s.by_day], f"status-{k}")
                             for k in kept]),
        "by_venue": bar_chart(texts["chart.venue_title"], [v.name for v in s.by_venue],
                              [(texts[f"status.{k}"], [getattr(v, k) for v in s.by_venue], f"status-{k}")
                               for k in ("attended", "no_show")]
                              + [(texts["status.confirmed"],
                                  [v.booked - v.attended - v.no_show for v in s.by_venue], "status-confirmed")]),
        "by_channel": bar_chart(texts["chart.channel_title"],
                                [texts[f"channel.{c}"] for c in statistics.CHANNELS],
                                [(texts["chart.count"], [s.by_channel[c] for c in statistics.CHANNELS],
                                  "count")]),
        "by_hour": bar_chart(texts["chart.hour_title"],
                             [texts["chart.hour_label"].format(hour=h) for h in range(24)],
                             [(texts["site.public"], s.requests_by_hour, "site-public"),
                              (texts["site.admin"], s.admin_requests_by_hour, "site-admin")],
                             stacked=False),
    }
