"""The business metrics: one list of names (shared.metrics.REGISTRY) for the code that emits them and for
template.yaml's dashboard and alarms; what is written is CloudWatch's embedded metric format."""

from __future__ import annotations

import ast
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from infra.template import load_template
from shared import metrics
from shared.config import load_config
from shared.domain.budget import spending_pace

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
NAMESPACE = {"Fn::Sub": "ChannelDispatch/${AWS::StackName}"}
ALLOWED_DIMENSIONS = {"channel", "target_group", "reason", "kind", "source"}  # never a person or a household
ZURICH = ZoneInfo("Europe/Zurich")


def emf_documents(out: str) -> list[dict[str, Any]]:
    """The EMF documents among what was printed (Powertools' log lines are JSON too, without `_aws`)."""
    docs = []
    for line in out.splitlines():
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(doc, dict) and "_aws" in doc:
            docs.append(doc)
    return docs


# ---------------------------------------------------------------- the registry
def test_the_registry_names_each_metric_once_with_low_cardinality_dimensions_and_cloudwatch_units() -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    names = [m.name for m in metrics.REGISTRY]
    assert len(names) == len(set(names))
    units = {u.value for u in MetricUnit}
    for m in metrics.REGISTRY:
        assert m.unit in units, f"{m.name}: {m.unit!r} is no CloudWatch unit"
        assert set(m.dimensions) <= ALLOWED_DIMENSIONS, f"{m.name}: {m.dimensions}"
        assert m.description


def test_every_constant_of_the_module_is_in_the_registry() -> None:
    constants = {v for v in vars(metrics).values() if isinstance(v, metrics.Metric)}
    assert constants == set(metrics.REGISTRY)


# ---------------------------------------------------------------- the template reads the registry
def _dashboard() -> dict[str, Any]:
    [dashboard] = [r for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert variables == {"Namespace": NAMESPACE}
    text = body.replace("${Namespace}", "NS").replace("${AWS::Region}", "eu-central-2")
    assert "${" not in text, "the dashboard substitutes only its namespace and region"
    return dict(json.loads(text))


def _dashboard_metrics() -> list[tuple[str, tuple[str, ...] | None]]:
    """(metric name, its dimension names from a SEARCH, or None for a metric given without dimensions)."""
    found: list[tuple[str, tuple[str, ...] | None]] = []
    for widget in _dashboard()["widgets"]:
        for line in widget["properties"]["metrics"]:
            if isinstance(line[0], dict):
                expression = line[0]["expression"]
                match = re.fullmatch(r"""SEARCH\('\{NS,([\w,]+)\} MetricName="(\w+)"', '\w+', \d+\)""", expression)
                assert match, f"unexpected expression {expression!r}"
                found.append((match.group(2), tuple(match.group(1).split(","))))
            else:
                assert line[0] == "NS", f"{line}: not in the stack's namespace"
                name, *dims = [x for x in line[1:] if isinstance(x, str)]
                assert not dims, f"{name}: dimensions on the dashboard must be a SEARCH over the registry's"
                found.append((name, None))
    return found


def test_the_dashboard_shows_every_registered_metric_with_its_dimensions_and_nothing_else() -> None:
    shown = _dashboard_metrics()
    for name, dims in shown:
        assert name in metrics.BY_NAME, f"dashboard shows {name}, which no code emits (not in shared.metrics)"
        assert (dims or ()) == metrics.BY_NAME[name].dimensions, f"{name}: dashboard dims {dims}"
    assert {name for name, _ in shown} == set(metrics.BY_NAME)


def _our_alarms() -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in RESOURCES.items()
            if r["Type"] == "AWS::CloudWatch::Alarm" and "Metrics" not in r["Properties"]
            and r["Properties"].get("Namespace") != "AWS/SQS"}  # not AWS's own metrics (SQS depth, Firehose)


def test_every_business_alarm_reads_a_registered_metric_in_the_stacks_namespace_in_the_house_style() -> None:
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"][metrics.NAMESPACE_ENV] == NAMESPACE
    for logical_id, p in _our_alarms().items():
        assert p["Namespace"] == NAMESPACE, logical_id
        metric = metrics.BY_NAME.get(p["MetricName"])
        assert metric is not None, f"{logical_id}: {p['MetricName']} is not in shared.metrics.REGISTRY"
        assert tuple(d["Name"] for d in p.get("Dimensions", [])) == metric.dimensions, logical_id
        assert p["TreatMissingData"] == "notBreaching", logical_id
        assert p["AlarmActions"] == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


@pytest.mark.parametrize(("metric", "dimensions", "statistic", "threshold"), [
    (metrics.AMBIGUOUS_CLAIMS, {}, "Sum", 0),  # any ambiguous claim
    (metrics.CALL_BACKLOG_DAYS_OVER, {}, "Maximum", 0),  # a call waiting longer than calls.max_backlog_days
    (metrics.BUDGET_PACE, {}, "Maximum", 1),  # the budget spent faster than the month
    (metrics.DROP_REJECTED_PERCENT, {"source": "feed"}, "Maximum", 5),  # a feed drop with > 5 % rejected
    (metrics.DROPS_REFUSED, {}, "Sum", 0),
])
def test_what_needs_a_person_has_its_alarm(metric: metrics.Metric, dimensions: dict[str, str], statistic: str,
                                           threshold: float) -> None:
    matching = [p for p in _our_alarms().values() if p["MetricName"] == metric.name
                and {d["Name"]: d["Value"] for d in p.get("Dimensions", [])} == dimensions]
    assert len(matching) == 1, f"one alarm on {metric.name} {dimensions}"
    [p] = matching
    assert (p["Statistic"], p["Threshold"], p["ComparisonOperator"]) == (statistic, threshold,
                                                                         "GreaterThanThreshold")


def test_every_dead_letter_queue_keeps_its_alarm() -> None:
    dlqs = {k for k, r in RESOURCES.items() if r["Type"] == "AWS::SQS::Queue" and k.endswith("DLQ")}
    watched = {p["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for r in RESOURCES.values()
               if r["Type"] == "AWS::CloudWatch::Alarm" and (p := r["Properties"]).get("Namespace") == "AWS/SQS"}
    assert dlqs and dlqs == watched


# ---------------------------------------------------------------- the code emits registry metrics only
def _sources() -> list[Path]:
    return sorted(p for folder in ("functions", "shared") for p in (REPO / folder).rglob("*.py"))


EMITTERS = {"emit", "count_decision"}


def _constants_named(expression: ast.expr | None) -> list[str]:
    """The constants an emitted metric is chosen from: a name, or `A if condition else B`."""
    if isinstance(expression, ast.Name):
        return [expression.id]
    if isinstance(expression, ast.IfExp):
        return _constants_named(expression.body) + _constants_named(expression.orelse)
    return []


def test_the_code_emits_registered_metrics_only_and_every_registered_one_somewhere() -> None:
    constants = {name for name, v in vars(metrics).items() if isinstance(v, metrics.Metric)}
    names = set(metrics.BY_NAME)
    emitted: set[str] = set()
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own = path == REPO / "shared" / "metrics.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in EMITTERS:
                first = node.args[0] if node.args else None
                if own and isinstance(first, ast.Name) and first.id == "metric":
                    continue  # count_decision's own call, with the metric it was given
                chosen = _constants_named(first)
                assert chosen and set(chosen) <= constants, (
                    f"{path.relative_to(REPO)}:{node.lineno}: emit a shared.metrics constant")
                emitted |= {getattr(metrics, c).name for c in chosen}
            if not own and isinstance(node, ast.Constant) and node.value in names:
                raise AssertionError(f"{path.relative_to(REPO)}:{node.lineno}: metric name {node.value!r} "
                                     "spelt out: use its shared.metrics constant")
            if not own and isinstance(node, ast.Attribute | ast.Name) and (
                    getattr(node, "attr", None) or getattr(node, "id", None)) in (
                    "single_metric", "add_metric", "Metrics", "AmazonCloudWatchEMFProvider"):
                raise AssertionError(f"{path.relative_to(REPO)}:{node.lineno}: metrics go through shared.metrics")
    assert emitted == names, f"registered but never emitted: {sorted(names - emitted)}"


# ---------------------------------------------------------------- what is written
def test_a_handlers_values_go_out_once_per_set_of_dimensions_in_the_namespace(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the namespace of a stack and metrics enabled
    monkeypatch.setenv(metrics.NAMESPACE_ENV, "ChannelDispatch/prod")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    # When an invocation emits contacts on two channels, one of them twice, and a dimensionless value
    with metrics.collecting():
        metrics.emit(metrics.CONTACTS_MADE, channel="email", target_group="upgrade")
        metrics.emit(metrics.CONTACTS_MADE, channel="email", target_group="upgrade")
        metrics.emit(metrics.CONTACTS_MADE, channel="sms", target_group="switch")
        metrics.emit(metrics.CALL_BACKLOG, 7)
        assert capsys.readouterr().out == ""  # nothing before the invocation ends
    # Then one document per set of dimensions, each value kept
    docs = emf_documents(capsys.readouterr().out)
    assert len(docs) == 3
    by_dims = {tuple(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]): d for d in docs}
    email = next(d for d in docs if d.get("channel") == "email")
    assert email["ContactsMade"] == [1.0, 1.0] and email["target_group"] == "upgrade"
    assert email["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ChannelDispatch/prod"
    assert email["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "ContactsMade", "Unit": "Count"}]
    assert by_dims[()]["CallBacklog"] == [7.0]
    assert "service" not in json.dumps(docs), "no dimension but the registry's"


def test_metrics_disabled_write_nothing(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with metrics.collecting():
        metrics.emit(metrics.AMBIGUOUS_CLAIMS)
    assert capsys.readouterr().out == ""


def test_values_of_an_invocation_that_fails_still_go_out(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    with pytest.raises(RuntimeError), metrics.collecting():
        metrics.emit(metrics.PROVIDER_REJECTIONS, channel="sms")
        raise RuntimeError("the batch failed")
    [doc] = emf_documents(capsys.readouterr().out)
    assert doc["ProviderRejections"] == [1.0] and doc["channel"] == "sms"


def test_a_metric_takes_exactly_its_registered_dimensions() -> None:
    with pytest.raises(ValueError, match="ContactsMade takes the dimensions"):
        metrics.emit(metrics.CONTACTS_MADE, channel="email")
    with pytest.raises(ValueError, match="household_id"):
        metrics.emit(metrics.CONTACTS_MADE, channel="email", target_group="upgrade", household_id="H-1")


@pytest.mark.parametrize(("reason", "code"), [
    ("monthly budget exhausted (CHF 12.50 of 50000.00 left in 2026-06)", "monthly budget exhausted"),
    ("contact pressure cap (email 1 per 7 days)", "contact pressure cap"),
    ("suppressed: email", "suppressed"),
    ("journey ended (ordered) since the request", "journey ended"),
    ("message needs 3 segments, limit 2", "message needs n segments, limit n"),
    ("before marketable_from (fair play)", "before marketable_from"),
    ("", "unspecified"),
])
def test_a_reason_code_is_the_reason_without_its_details(reason: str, code: str) -> None:
    assert metrics.reason_code(reason) == code


# ---------------------------------------------------------------- the figures behind two alarms
@pytest.mark.parametrize(("spent_share", "at", "pace"), [
    (0.5, datetime(2026, 6, 15, 12, tzinfo=ZURICH), 1.0),  # half the budget by the end of day 15 of 30
    (0.6, datetime(2026, 6, 15, 12, tzinfo=ZURICH), 1.2),  # faster than the month: the alarm
    (1 / 30, datetime(2026, 6, 1, 6, tzinfo=ZURICH), 1.0),  # the first day may spend its day's share
    (0.0, datetime(2026, 6, 30, 23, tzinfo=ZURICH), 0.0),
])
def test_the_budgets_pace_is_the_share_spent_over_the_share_of_the_month_begun(spent_share: float, at: datetime,
                                                                              pace: float) -> None:
    monthly = 50_000_000_000
    assert spending_pace(round(spent_share * monthly), monthly, at, ZURICH) == pytest.approx(pace)


def test_max_backlog_days_defaults_to_three_and_merges_with_the_other_call_settings(tmp_path: Path) -> None:
    file = tmp_path / "ops.yaml"
    file.write_text("calls: {max_backlog_days: 5}\n", encoding="utf-8")
    calls = load_config(file).calls
    assert (calls.max_backlog_days, calls.per_day) == (5, 200)
    file.write_text("calls: {max_backlog_days: -1}\n", encoding="utf-8")
    with pytest.raises(Exception, match="max_backlog_days"):
        load_config(file)
