"""A dashboard table: the rows behind a chart, shown as HTML and downloaded as CSV from
the same values, so the two always agree."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from markupsafe import Markup

from market import formats
from market.reports import charts


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text int qty yen kg pct


@dataclass(frozen=True)
class Chart:
    kind: str  # bar | line
    label_key: str
    value_keys: tuple[str, ...]
    unit: str = ""


@dataclass
class Table:
    slug: str
    title: str
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    chart: Chart | None = None
    note: str = ""

    def plain(self, row: dict, column: Column) -> str:
        """The value as the CSV has it: no thousands separators, fixed decimals."""
        value = row.get(column.key)
        if value is None:
            return ""
        if column.kind in ("int", "yen"):
            return str(int(round(value)))
        if column.kind == "qty":
            return formats.number(value, 3, grouped=False)
        if column.kind in ("kg", "pct"):
            return formats.number(value, 1, grouped=False)
        return str(value)

    def shown(self, row: dict, column: Column) -> str:
        """The value as the page shows it (thousands separators)."""
        text = self.plain(row, column)
        if not text or column.kind == "text":
            return text or "—"
        body = formats.number(text, 3)  # grouped, and "1,050.0" reads 1,050
        sign = "-" if body.startswith("-") else ""
        if column.kind == "yen":
            return f"-¥{body[1:]}" if sign else f"¥{body}"
        return body + ("%" if column.kind == "pct" else "")

    def csv(self) -> str:
        """UTF-8 with a BOM, so Excel in Japan opens it without garbling 日本語."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([c.label for c in self.columns])
        for row in self.rows:
            writer.writerow([self.plain(row, c) for c in self.columns])
        return "\ufeff" + out.getvalue()

    def svg(self) -> Markup:
        if self.chart is None or not self.rows:
            return Markup("")
        by_key = {c.key: c for c in self.columns}
        labels = [str(r.get(self.chart.label_key) or "—") for r in self.rows]
        series = [
            (by_key[k].label, [float(r.get(k) or 0) for r in self.rows])
            for k in self.chart.value_keys
        ]
        return charts.render(self.chart.kind, labels, series, self.title, self.chart.unit)
