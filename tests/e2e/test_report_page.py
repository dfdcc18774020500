"""The report page as a browser shows it: headless Chromium renders report.html built from a small
synthetic run, and the test looks at the rendered DOM and at a screenshot.

Chromium is Debian's (`/usr/bin/chromium`, or $CHROMIUM); `make test` installs it. A missing
browser fails the test rather than skipping it: the issue asks for the page to be seen rendered.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from shared.report import write_report
from shared.report.html import CHANNEL_COLOURS, FUNNEL_STAGES
from tests.e2e import png
from tests.e2e.browser import render

WINDOW = (1280, 4000)
CHART_IDS = ("chart-funnel", "chart-contacts-per-week", "chart-orders-by-channel", "chart-cost-per-order",
             "chart-spend-budget", "chart-uplift", "chart-communes")
SHAPES = frozenset({"rect", "path", "line", "circle", "polyline"})

# ---------------------------------------------------------------- a small synthetic run

START = datetime(2025, 3, 3, tzinfo=UTC)
COMMUNES = (("Adliswil", date(2025, 2, 17)), ("Langnau am Albis", date(2025, 3, 3)), ("Thalwil", date(2025, 3, 24)))
STEPS = {  # channel, day, kind, cost
    "upgrade": [("email", 0, None, "0.002"), ("print", 7, "personalised", "1.10"), ("call", 14, None, "6.50")],
    "switch": [("sms", 0, None, "0.06"), ("email", 2, None, "0.002"), ("print", 9, "personalised", "1.10"),
               ("call", 16, None, "6.50")],
    "prospect": [("print", 0, "partially_addressed", "0.45")],
}


def _iso(at: datetime) -> str:
    return at.isoformat()


@dataclass
class Run:
    households: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)


def synthetic_run() -> Run:
    """48 households in three communes connected in waves; journeys per target group; some orders."""
    run = Run()
    groups = ("upgrade", "switch", "prospect", None)
    for n in range(48):
        hid, (commune, wave) = f"H{n:02d}", COMMUNES[n % 3]
        connected = datetime.combine(wave + timedelta(days=n // 3), datetime.min.time(), UTC) + timedelta(hours=8)
        marketable = connected.date() + timedelta(days=7)
        group, control = groups[n % 4], n % 4 != 3 and n % 9 == 0
        run.households.append({
            "household_id": hid, "commune": commune, "canton": "ZH", "postcode": "8134",
            "connected_at": _iso(connected), "marketable_from": marketable.isoformat(), "target_group": group,
            "control_group": control, "offer_id": "O1", "journey_status": "live", "end_reason": None,
        })
        if group is None:
            run.decisions.append({"household_id": hid, "customer_id": None, "channel": None, "at": _iso(connected),
                                  "decision": "not_eligible", "reason": "already_fibre"})
            continue
        if control:
            run.decisions.append({"household_id": hid, "customer_id": f"K{hid}", "channel": None,
                                  "at": _iso(connected), "decision": "control_group", "reason": "held_out"})
            if n % 2 == 0:
                run.responses.append(_response(hid, connected + timedelta(days=20), "order"))
            continue
        first = max(datetime.combine(marketable, datetime.min.time(), UTC), START) + timedelta(hours=9)
        for step, (channel, day, kind, cost) in enumerate(STEPS[group], start=1):
            run.contacts.append({
                "contact_id": f"C{len(run.contacts) + 1}", "household_id": hid, "customer_id": f"K{hid}",
                "target_group": group, "channel": channel, "kind": kind, "journey_id": f"J{hid}", "cycle": 1,
                "step": step, "offer_id": "O1", "at": _iso(first + timedelta(days=day)), "cost_chf": float(cost),
            })
        if n % 3 == 0:  # orders after the first contact
            run.responses.append(_response(hid, first + timedelta(days=1, hours=3), "order"))
        elif n % 5 == 0 and group == "switch":  # an order on the phone
            run.responses.append(_response(hid, first + timedelta(days=16, hours=2), "call_outcome", "ordered"))
    return run


def _response(hid: str, at: datetime, type_: str, outcome: str | None = None) -> dict[str, Any]:
    return {"at": _iso(at), "household_id": hid, "customer_id": f"K{hid}", "type": type_,
            "channel": "call" if type_ == "call_outcome" else None, "outcome": outcome}


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]


# ---------------------------------------------------------------- the browser


@dataclass(frozen=True)
class Rendered:
    out_dir: Path
    report: dict[str, Any]
    dom: str
    screenshot: Path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    root = tmp_path_factory.mktemp("report-page")
    out_dir = root / "out"
    out_dir.mkdir()
    run = synthetic_run()
    meta = {"campaign_id": "page-test", "start": _iso(START), "end": _iso(START + timedelta(weeks=10)), "seed": 3,
            "config": {"timezone": "Europe/Zurich", "budget_chf": {"monthly": 120}}}
    (out_dir / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    _write_jsonl(out_dir / "households.jsonl", run.households)
    _write_jsonl(out_dir / "contact-history.jsonl", run.contacts)
    _write_jsonl(out_dir / "responses.jsonl", run.responses)
    _write_jsonl(out_dir / "decisions.jsonl", run.decisions)
    report = write_report(out_dir)
    dom, shot = render(out_dir / "report.html", root, WINDOW)
    return Rendered(out_dir, report, dom, shot)


# ---------------------------------------------------------------- reading the rendered DOM


class _Dom(HTMLParser):
    """Drawn shapes and bar heights per figure, the KPI cards, every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.figure: str | None = None
        self.svgs: Counter[str] = Counter()
        self.shapes: dict[str, Counter[str]] = {}
        self.bar_titles: dict[str, list[str]] = {}  # the tooltip of every bar (legend swatches have none)
        self.bars: Counter[str] = Counter()  # bars of positive height
        self.urls: list[tuple[str, str, str]] = []
        self.kpis: dict[str, str] = {}
        self.tags: Counter[str] = Counter()
        self._kpi_part: str | None = None
        self._kpi_label = ""
        self._in_bar_title = False
        self._last_rect_drawn = False
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags[tag] += 1
        for name, value in values.items():
            if name in ("src", "href", "xlink:href", "srcset", "action", "data", "poster", "style"):
                self.urls.append((tag, name, value))
        if tag == "figure":
            self.figure = values.get("id", "")
            self.shapes[self.figure] = Counter()
            self.bar_titles[self.figure] = []
        if self.figure is not None:
            if tag == "svg":
                self.svgs[self.figure] += 1
            drawn = tag in SHAPES and self._drawn(tag, values)
            if drawn:
                self.shapes[self.figure][tag] += 1
            if tag == "rect":
                self._last_rect_drawn = drawn
            if tag == "title" and self._open and self._open[-1] == "rect":
                self._in_bar_title = True
                self.bars[self.figure] += self._last_rect_drawn
        classes = values.get("class", "").split()
        if tag == "div" and ("l" in classes or "v" in classes):
            self._kpi_part = "l" if "l" in classes else "v"
        if tag not in ("meta", "br", "hr", "img", "input", "link"):
            self._open.append(tag)

    @staticmethod
    def _drawn(tag: str, values: dict[str, str]) -> bool:
        """A shape with something to see: a bar of positive height, a line of positive length."""
        if tag == "rect":
            return float(values.get("height", "0")) > 0 and float(values.get("width", "0")) > 0
        if tag == "line":
            return (values.get("x1"), values.get("y1")) != (values.get("x2"), values.get("y2"))
        if tag == "polyline":
            return len(values.get("points", "").split()) > 1
        return True

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop() == tag:
                break
        if tag == "figure":
            self.figure = None
        if tag == "title":
            self._in_bar_title = False
        if tag == "div":
            self._kpi_part = None

    def handle_data(self, data: str) -> None:
        if self._in_bar_title and self.figure is not None:
            self.bar_titles[self.figure].append(data)
        if self._kpi_part == "l":
            self._kpi_label = data.strip()
        elif self._kpi_part == "v" and self._kpi_label:
            self.kpis[self._kpi_label] = data.strip()


def _dom(rendered: Rendered) -> _Dom:
    parser = _Dom()
    parser.feed(rendered.dom)
    parser.close()
    return parser


def _number(text: str) -> Decimal:
    """'CHF 1’234.50' or '1’234' as a Decimal."""
    cleaned = text.replace("CHF", "").replace("\u00a0", "").replace("’", "").replace(" ", "")
    assert re.fullmatch(r"-?\d+(\.\d+)?", cleaned), text
    return Decimal(cleaned)


# ---------------------------------------------------------------- the tests


def test_every_chart_is_drawn(rendered: Rendered) -> None:
    dom = _dom(rendered)
    for chart_id in CHART_IDS:
        assert dom.svgs[chart_id] == 1, f"{chart_id}: no svg in the rendered page"
        assert sum(dom.shapes[chart_id].values()) > 0, f"{chart_id}: the svg draws nothing"
    report = rendered.report
    nonzero = {  # a bar for every non-zero value of report.json behind the chart
        "chart-funnel": [row[key] for row in report["funnel"] for key, _, _ in FUNNEL_STAGES],
        "chart-contacts-per-week": [n for week in report["contacts_per_week"] for n in week["by_channel"].values()],
        "chart-orders-by-channel": list(report["orders_by_last_channel"].values()),
        "chart-cost-per-order": [row["cost_per_order_chf"] for row in report["by_group"]],
        "chart-spend-budget": [month["cost_chf"] for month in report["spend_by_month"]],
    }
    for chart_id, values in nonzero.items():
        expected = sum(1 for value in values if value)
        assert expected >= 2, f"{chart_id}: the synthetic run should give this chart bars"
        assert dom.bars[chart_id] == expected, f"{chart_id}: {dom.bars[chart_id]} bars drawn, {expected} expected"
    assert dom.shapes["chart-uplift"]["circle"] == 4  # all eligible households and the three groups
    assert dom.shapes["chart-communes"]["polyline"] == 2 * len(COMMUNES)  # connected, marketable


def test_key_figures_equal_those_computed_from_the_jsonl(rendered: Rendered) -> None:
    contacts = _read_jsonl(rendered.out_dir / "contact-history.jsonl")
    responses = _read_jsonl(rendered.out_dir / "responses.jsonl")
    cost = sum((Decimal(c["cost_chf"]) for c in contacts), Decimal(0)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    ordered = {r["household_id"] for r in responses
               if r["type"] == "order" or (r["type"] == "call_outcome" and r["outcome"] == "ordered")}
    assert len(contacts) > 40 and len(ordered) > 5 and cost > 0  # the synthetic run is not trivial

    kpis = _dom(rendered).kpis
    assert _number(kpis["Contacts"]) == len(contacts)
    assert _number(kpis["Spend"]) == cost
    assert _number(kpis["Orders"]) == len(ordered)
    # the orders chart counts every order once, under the channel of its last contact
    titles = _dom(rendered).bar_titles["chart-orders-by-channel"]
    assert sum(_number(t.rsplit(":", 1)[1]) for t in titles) == len(ordered)


def test_the_page_loads_nothing_from_outside(rendered: Rendered) -> None:
    dom = _dom(rendered)
    external = [(tag, name, value) for tag, name, value in dom.urls if re.search(r"https?://|//", value)]
    assert external == []
    assert dom.tags["script"] == 0 and dom.tags["link"] == 0 and dom.tags["img"] == 0 and dom.tags["iframe"] == 0
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*https?://""", rendered.dom, re.IGNORECASE)
    assert "url(" not in rendered.dom and "@import" not in rendered.dom


def _colour(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def test_the_screenshot_shows_the_charts(rendered: Rendered) -> None:
    image = png.decode(rendered.screenshot.read_bytes())
    assert (image.width, image.height) == WINDOW
    pixels: Counter[tuple[int, int, int]] = Counter()
    step = 2 * image.channels  # every other pixel of every other row
    for row in image.rows[::2]:
        pixels.update(zip(row[0::step], row[1::step], row[2::step], strict=False))
    total = sum(pixels.values())
    white = sum(n for (r, g, b), n in pixels.items() if min(r, g, b) >= 245)
    assert (total - white) / total > 0.04, f"only {(total - white) / total:.1%} of the page is not white"
    palette = {name: _colour(hex_) for name, hex_ in CHANNEL_COLOURS.items()}
    palette.update({label: _colour(hex_) for _, label, hex_ in FUNNEL_STAGES})
    seen = {name for name, rgb in palette.items() if pixels[rgb] >= 100}  # the charts' fills, exactly
    assert len(seen) >= 6, f"chart colours seen: {sorted(seen)}"
    assert len([rgb for rgb, n in pixels.items() if n >= 50]) >= 10  # many distinct colours


def test_the_png_decoder_undoes_every_filter() -> None:
    """Round trip through all five PNG filters on a small RGB image (the decoder is the test's eye)."""
    width, height, bpp = 7, 10, 3
    rows = [bytes((x * 37 + y * 11 + c * 90) % 256 for x in range(width) for c in range(bpp)) for y in range(height)]

    def filtered(kind: int, row: bytes, prev: bytes) -> bytes:
        out = bytearray()
        for i, value in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            paeth = min((abs(p - a), 0, a), (abs(p - b), 1, b), (abs(p - c), 2, c))[2]
            predictor = (0, a, b, (a + b) // 2, paeth)[kind]
            out.append((value - predictor) % 256)
        return bytes([kind]) + bytes(out)

    raw = b"".join(filtered(y % 5, row, rows[y - 1] if y else bytes(width * bpp)) for y, row in enumerate(rows))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    data = png.SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    assert png.decode(data).rows == rows
