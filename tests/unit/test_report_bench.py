"""`dispatch bench --report-rows N`: the generated lake is the lake's layout and the report reads it whole."""

from __future__ import annotations

from pathlib import Path

from infra.report_bench import SECTION_END, SECTION_START, generate_lake, kept_section, measure_report, write_section


def test_a_generated_lake_reports_every_contact_once(tmp_path: Path) -> None:
    lake = tmp_path / "lake" / "history"

    rows = generate_lake(lake, 900)
    measured = measure_report(lake)

    assert rows["contact"] == 901  # contact 0 also as its older claim
    assert next(lake.glob("record_type=contact/day=*/*.parquet"))
    assert measured["totals"]["contacts"] == 900
    assert measured["totals"]["households"] == 30
    assert measured["seconds"] > 0 and measured["peak_mb"] > 0


def test_the_report_section_replaces_its_earlier_self_and_keeps_the_page(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n\nother figures\n", encoding="utf-8")

    write_section(page, f"{SECTION_START}\nfirst\n{SECTION_END}\n")
    write_section(page, f"{SECTION_START}\nsecond\n{SECTION_END}\n")

    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Performance\n\nother figures\n")
    assert "second" in text and "first" not in text
    assert kept_section(page) == f"{SECTION_START}\nsecond\n{SECTION_END}\n"


def test_a_kept_lake_is_generated_once_and_reused(tmp_path: Path) -> None:
    from infra.report_bench import report_bench

    first = report_bench(900, lake_dir=tmp_path)
    generated = (tmp_path / "generated.json").read_text(encoding="utf-8")
    again = report_bench(900, lake_dir=tmp_path)

    assert (tmp_path / "generated.json").read_text(encoding="utf-8") == generated
    assert next((tmp_path / "history").glob("record_type=contact/day=*/*.parquet"))
    assert not (tmp_path / "duckdb-tmp").exists()
    assert "contacts 900," in first and "contacts 900," in again
