"""Server-rendered SVG charts (bars and lines): no script, so the CSP stays strict and the
chart prints. Every text goes through markupsafe's escape."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

COLOURS = ("#2f7d5b", "#d08a2e", "#3d6fb6", "#a34b6e", "#6b6b6b")
# Drawn small and scaled to the card, so that on a phone (about 340 px) a 16 px label
# still reads at about 11 px.
WIDTH, HEIGHT = 480, 250
LEFT, RIGHT, TOP, BOTTOM = 64, 10, 36, 62
FONT = 16
TICKS = 4  # intervals on the value axis


def nice_max(value: float) -> float:
    """The axis top: 1, 2, 2.5 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def nice_step(span: float, intervals: int = TICKS) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) covering ``span`` in
    ``intervals`` steps or fewer."""
    return nice_max(span / intervals) if span > 0 else 1.0


def axis(low: float, high: float, intervals: int = TICKS) -> list[float]:
    """Round ticks from a multiple of the step at or below ``low`` (and 0) to one at or
    above ``high``: −2,000 … 4,000, never −1,679 … 3,321."""
    low, high = min(0.0, low), max(0.0, high)
    step = nice_step(high - low, intervals)
    while True:
        first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
        last = max(last, first + 1)
        if last - first <= intervals + 1 or step <= 0:
            break
        step = nice_max(step * 1.01)  # too many ticks after rounding: the next round step
    return [round((first + i) * step, 10) for i in range(last - first + 1)]


def text_width(text: str) -> float:
    """About how wide ``text`` is drawn at FONT: a full width for 日本語, 0.6 for Latin."""
    return sum(FONT if ord(c) >= 0x2E80 else FONT * 0.6 for c in text)


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def render(
    kind: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    title: str,
    unit: str = "",
) -> Markup:
    """An SVG chart of one or more series over ``labels``; ``kind`` is "bar" or "line"."""
    values = [v for _, vs in series for v in vs] or [0.0]
    ticks = axis(min(values), max(values))
    # Room on the left for the widest value label (¥1,000,000 needs more than 800).
    left = max(LEFT, max(text_width(_fmt(v)) for v in ticks) + 12)
    plot_w, plot_h = WIDTH - left - RIGHT, HEIGHT - TOP - BOTTOM
    low, top = ticks[0], ticks[-1]
    span = (top - low) or 1.0

    def y(v: float) -> float:
        return TOP + plot_h - (v - low) / span * plot_h

    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for v in ticks:  # grid lines and axis labels
        out.append(
            f'<line x1="{left}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="{FONT}">{_fmt(v)}</text>'
        )
    if unit:
        # Above the plot, clear of the top tick's label.
        out.append(f'<text x="4" y="{TOP - 18}" font-size="{FONT}">{escape(unit)}</text>')
    n = max(1, len(labels))
    band = plot_w / n
    # As many category labels as fit side by side with a gap, never touching.
    widest = max((text_width(str(label)[:14]) for label in labels), default=0.0) + FONT
    every = max(1, math.ceil(n / max(1, int(plot_w // widest))))
    for i, label in enumerate(labels):
        if i % every == 0:
            x = left + band * (i + 0.5)
            text = escape(str(label)[:14])
            out.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 20}" text-anchor="middle" font-size="{FONT}">{text}</text>'
            )
    if kind == "line":
        for s, (_name, vs) in enumerate(series):
            colour = COLOURS[s % len(COLOURS)]
            points = " ".join(f"{left + band * (i + 0.5):.1f},{y(v):.1f}" for i, v in enumerate(vs))
            out.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
            )
            for i, v in enumerate(vs):
                out.append(
                    f'<circle cx="{left + band * (i + 0.5):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                    f"<title>{escape(labels[i])}: {_fmt(v)}</title></circle>"
                )
    else:
        k = max(1, len(series))
        bar_w = band * 0.8 / k
        for s, (name, vs) in enumerate(series):
            colour = COLOURS[s % len(COLOURS)]
            for i, v in enumerate(vs):
                x = left + band * i + band * 0.1 + bar_w * s
                y0, y1 = sorted((y(0.0), y(v)))
                out.append(
                    f'<rect x="{x:.1f}" y="{y0:.1f}" width="{bar_w:.1f}" height="{max(0.5, y1 - y0):.1f}" '
                    f'fill="{colour}"><title>{escape(labels[i])} · {escape(name)}: {_fmt(v)}</title></rect>'
                )
    out.append(
        f'<line x1="{left}" x2="{WIDTH - RIGHT}" y1="{y(0.0):.1f}" y2="{y(0.0):.1f}" stroke="#555"/>'
    )
    height = HEIGHT
    if len(series) > 1:
        legend, lines = _legend([name for name, _ in series], left)
        out += legend
        height += lines * (FONT + 8)
    out.append("</svg>")
    out[0] = out[0].replace(f'viewBox="0 0 {WIDTH} {HEIGHT}"', f'viewBox="0 0 {WIDTH} {height}"', 1)
    return Markup("".join(out))


def _legend(names: Sequence[str], left: float) -> tuple[list[str], int]:
    """The legend under the plot, wrapped onto more lines as the names need; returns its
    parts and how many lines it took beyond the first."""
    out, x, line = [], left, 0
    for s, name in enumerate(names):
        width = 16 + text_width(name) + FONT
        if x > left and x + width > WIDTH:
            x, line = left, line + 1
        base = HEIGHT - 8 + line * (FONT + 8)
        out.append(
            f'<rect x="{x:.0f}" y="{base - 12}" width="12" height="12" fill="{COLOURS[s % len(COLOURS)]}"/>'
            f'<text x="{x + 16:.0f}" y="{base}" font-size="{FONT}">{escape(name)}</text>'
        )
        x += width
    return out, line
