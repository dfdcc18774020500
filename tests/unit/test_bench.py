"""The benchmark's own arithmetic: what it prints must follow from what it measured."""

from __future__ import annotations

from infra.bench import feed_validation, table


def test_the_generated_feed_validates_completely() -> None:
    result = feed_validation(500)
    assert (result["accepted"], result["rejected"]) == (500, 0)
    assert result["rows_per_second"] > 0


def test_the_table_reports_requests_per_household_and_import_ratios() -> None:
    run = {"households": 10, "seconds": 5.0, "contacts": 9, "peak_rss_mb": 100.0,
           "function_requests": {"dynamodb.Query": 30, "events.PutEvents": 20}, "runtime_requests": {"sqs.X": 5}}
    imports = {"boto3 (bare)": 0.2, "email": 0.3}
    feed = {"rows": 1000.0, "seconds": 0.5, "rows_per_second": 2000.0, "peak_rss_mb": 40.0}
    text = table(run, imports, feed)
    assert "2.0 households/s" in text
    assert "functions' own: 5.00 (target <= 6.0)" in text
    assert "dynamodb.Query" in text and "3.000" in text
    assert "1.50x" in text
    assert "2000 rows/s" in text
