"""`dispatch plan` and `dispatch preview` from the command line, their pages as headless Chromium renders them.

Given the demo town, when it is planned with a smaller call centre and budget (`--compare`), then plan.json holds
the contract's keys and the plan without the changes, and plan.html draws every chart; when the default catalogue is
previewed, every offer's messages are on preview.html in every language and nothing is flagged; a catalogue whose
SMS is too long, or a template that fails to render, is flagged on the page and by the exit status.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

from infra.cli import main
from infra.demo_town import make_town
from shared.channels import copy as channel_copy
from shared.offers import default_offers_path, load_offers
from shared.report.html import CHANNEL_COLOURS
from tests.e2e import png
from tests.e2e.browser import render

WINDOW = (1280, 4000)
PLAN_CHARTS = ("chart-plan-weeks", "chart-plan-calls", "chart-plan-months", "chart-plan-orders", "chart-communes")


def _share_not_white(shot: Path) -> tuple[float, Counter[tuple[int, int, int]]]:
    image = png.decode(shot.read_bytes())
    pixels: Counter[tuple[int, int, int]] = Counter()
    step = 2 * image.channels
    for row in image.rows[::2]:
        pixels.update(zip(row[0::step], row[1::step], row[2::step], strict=False))
    total = sum(pixels.values())
    white = sum(n for (r, g, b), n in pixels.items() if min(r, g, b) >= 245)
    return (total - white) / total, pixels


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    root = tmp_path_factory.mktemp("plan-page")
    town = make_town(root / "input", households=40, days=30, seed=7)
    out = root / "out"
    status = main(["plan", "--customers", str(town.customers), "--feed", str(town.rollout), "--set", "calls.per_day=1",
                   "--set", "budget_chf.monthly=20", "--compare", "--out", str(out)])
    assert status == 0
    dom, shot = render(out / "plan.html", root, WINDOW)
    return out, dom, str(shot)


def test_plan_json_has_the_contracts_keys_and_the_comparison(planned: tuple[Path, str, str],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    plan = json.loads((planned[0] / "plan.json").read_text(encoding="utf-8"))
    assert {"weeks", "days", "months", "communes", "orders", "without"} <= set(plan)
    assert plan["campaign"]["settings_changed"] == ["calls.per_day=1", "budget_chf.monthly=20"]
    assert plan["without"]["totals"]["first_budget_month"] is None
    assert plan["totals"]["first_budget_month"] == "2026-03"
    assert plan["totals"]["peak_backlog"] > plan["without"]["totals"]["peak_backlog"]


def test_every_plan_chart_is_drawn(planned: tuple[Path, str, str]) -> None:
    _, dom, shot = planned
    for chart in PLAN_CHARTS:
        figure = re.search(rf'<figure id="{chart}".*?</figure>', dom, re.S)
        assert figure is not None, chart
        assert len(re.findall(r"<(rect|line|path|polyline)\b", figure.group())) >= 5, chart
    assert "http" not in dom.replace("http://www.w3.org", "")  # nothing loaded from outside
    share, pixels = _share_not_white(Path(shot))
    assert share > 0.04
    colours = {name: tuple(int(hex_[i:i + 2], 16) for i in (1, 3, 5)) for name, hex_ in CHANNEL_COLOURS.items()}
    assert len({n for n, rgb in colours.items() if pixels[rgb] >= 50}) >= 4  # the channels' bars


def test_the_preview_shows_every_offer_in_every_language(tmp_path: Path) -> None:
    assert main(["preview", "--out", str(tmp_path)]) == 0
    dom, shot = render(tmp_path / "preview.html", tmp_path, (1280, 2400))
    assert 'id="problems" class="ok"' in dom and " flagged" not in dom.split("</style>")[1]
    for offer in load_offers():
        section = re.search(rf'<section class="offer" id="offer-{offer.offer_id}">.*?</section>', dom, re.S)
        assert section is not None, offer.offer_id
        for language in ("de", "fr", "it", "en"):
            assert f'data-language="{language}"' in section.group()
        kinds = set(re.findall(r'data-channel="(\w+)"', section.group()))
        assert kinds == ({"print"} if offer.target_group == "prospect" else
                         {"email", "sms", "print"} if offer.target_group == "switch" else {"email", "print"})
    assert dom.count("<iframe") == 4 * sum(1 for o in load_offers() if o.target_group != "prospect")
    assert "segments" in dom and "partially_addressed" in dom and "personalised" in dom
    assert re.search(r"<td>079 123 45 67</td>", dom)  # the call-list row, in national notation
    assert _share_not_white(shot)[0] > 0.04


def test_the_preview_flags_a_long_sms_and_a_template_that_fails(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    offers = yaml.safe_load(default_offers_path().read_text(encoding="utf-8"))
    switch = next(o for o in offers if o["target_group"] == "switch")
    switch["copy"]["fr"]["sms"] = "Fibre très rapide: " + "ê" * 150
    catalogue = tmp_path / "offers.yaml"
    catalogue.write_text(yaml.safe_dump(offers, allow_unicode=True), encoding="utf-8")
    templates = tmp_path / "templates"
    shutil.copytree(channel_copy.TEMPLATES_DIR, templates)
    (templates / "email" / "it.html").write_text("{{ nowhere.attribute }}", encoding="utf-8")
    monkeypatch.setattr(channel_copy, "TEMPLATES_DIR", templates)
    channel_copy._environment.cache_clear()
    try:
        assert main(["preview", "--offers", str(catalogue), "--out", str(tmp_path / "out")]) == 1
    finally:
        channel_copy._environment.cache_clear()
    page = (tmp_path / "out" / "preview.html").read_text(encoding="utf-8")
    assert re.search(r"needs \d segments, over sms.max_segments 2", page)
    assert "template fails to render: UndefinedError" in page
    flagged = page.split("</style>")[1].count(" flagged")
    assert flagged == 1 + sum(1 for o in offers if o["target_group"] != "prospect")  # the SMS, every Italian e-mail
