"""The business metrics: one list of names for the code that emits them and for template.yaml's dashboard and
alarms (a test reads both against `REGISTRY`).

Every metric goes out in CloudWatch's embedded metric format through Powertools Metrics, in one namespace
(`POWERTOOLS_METRICS_NAMESPACE`, set per stack in the template), with low-cardinality dimensions only:
channel, target group, kind, source, reason code — never a person, a household or an address.

Inside a handler (`shared.handler` opens a `collecting()` per invocation) the values are gathered and written
once at the end, one EMF document per set of dimensions; outside one they are written at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "ChannelDispatch"


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str  # a CloudWatch unit (aws_lambda_powertools.metrics.MetricUnit's value)
    dimensions: tuple[str, ...]
    description: str


CONTACTS_MADE = Metric("ContactsMade", "Count", ("channel", "target_group"),
                       "contacts made: an email or SMS sent, a letter's batch closed, a call put on the day's list")
CONTACTS_SKIPPED = Metric("ContactsSkipped", "Count", ("channel", "target_group", "reason"),
                          "requested contacts skipped, by reason code (the decision's reason without its details)")
CONTACTS_DEFERRED = Metric("ContactsDeferred", "Count", ("channel", "target_group", "reason"),
                           "requested contacts deferred to later, by reason code")
AMBIGUOUS_CLAIMS = Metric("AmbiguousClaims", "Count", (),
                          "claims found claimed but never confirmed sent (reported, never resent; the channel is in "
                          "ContactsSkipped's 'ambiguous claim'): a person looks")
PROVIDER_REJECTIONS = Metric("ProviderRejections", "Count", ("channel",),
                             "sends the email or SMS provider refused for good (the contact is skipped)")
ROWS_ACCEPTED = Metric("RowsAccepted", "Count", ("source",), "feed or CRM rows accepted, per drop")
ROWS_REJECTED = Metric("RowsRejected", "Count", ("source",), "feed or CRM rows rejected (listed in rejected/)")
DROP_REJECTED_PERCENT = Metric("DropRejectedPercent", "Percent", ("source",),
                               "share of a drop's rows rejected, one value per drop (alarm: a feed drop above 5 %)")
DROPS_REFUSED = Metric("DropsRefused", "Count", (),
                       "drops refused as a whole (duplicated or missing column, not UTF-8) and moved to rejected/ "
                       "(which one: the log line and its reason file)")
BUDGET_RESERVED = Metric("BudgetReservedChf", "None", (),
                         "CHF reserved from the month's budget by contacts made (a reservation given back: negative)")
BUDGET_PACE = Metric("BudgetPace", "None", (),
                     "share of the month's budget spent divided by the share of the month begun (above 1: "
                     "spending faster than the month)")
CALL_LIST_ROWS = Metric("CallListRows", "Count", (), "rows on the day's call list")
CALL_LIST_CAPACITY = Metric("CallListCapacity", "Count", (), "the call centre's capacity (calls.per_day)")
CALL_BACKLOG = Metric("CallBacklog", "Count", (), "calls due but still waiting for a place on a list after the export")
CALL_BACKLOG_OLDEST_DAYS = Metric("CallBacklogOldestDays", "None", (),
                                  "days the oldest waiting call has waited since its request")
CALL_BACKLOG_DAYS_OVER = Metric("CallBacklogDaysOverLimit", "None", (),
                                "days the oldest waiting call has waited beyond calls.max_backlog_days (alarm: > 0)")
PRINT_PIECES = Metric("PrintPieces", "Count", ("kind",), "pieces in a closed print batch, one value per batch")

REGISTRY: tuple[Metric, ...] = (
    CONTACTS_MADE, CONTACTS_SKIPPED, CONTACTS_DEFERRED, AMBIGUOUS_CLAIMS, PROVIDER_REJECTIONS,
    ROWS_ACCEPTED, ROWS_REJECTED, DROP_REJECTED_PERCENT, DROPS_REFUSED,
    BUDGET_RESERVED, BUDGET_PACE,
    CALL_LIST_ROWS, CALL_LIST_CAPACITY, CALL_BACKLOG, CALL_BACKLOG_OLDEST_DAYS, CALL_BACKLOG_DAYS_OVER,
    PRINT_PIECES,
)
BY_NAME = {m.name: m for m in REGISTRY}

Key = tuple[tuple[str, str], ...]  # a metric's dimensions, as sorted (name, value) pairs


class Collector:
    """The values one invocation emits, by dimensions, then by metric, in the order they came."""

    def __init__(self) -> None:
        self.values: dict[Key, dict[Metric, list[float]]] = {}

    def add(self, metric: Metric, value: float, key: Key) -> None:
        self.values.setdefault(key, {}).setdefault(metric, []).append(value)

    def flush(self) -> None:
        values, self.values = self.values, {}
        if not values or _disabled():
            return
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

        for key, metrics in values.items():
            provider = AmazonCloudWatchEMFProvider(namespace=namespace())
            for name, dimension in key:
                provider.add_dimension(name=name, value=dimension)
            for metric, found in metrics.items():
                for value in found:  # Powertools writes a document at every 100th value of a metric (EMF's limit)
                    provider.add_metric(name=metric.name, unit=metric.unit, value=value)
            provider.flush_metrics()


_current: ContextVar[Collector | None] = ContextVar("metrics", default=None)


def emit(metric: Metric, value: float = 1, **dimensions: str) -> None:
    """One value of a registered metric with exactly its dimensions (their values low-cardinality)."""
    if set(dimensions) != set(metric.dimensions):
        raise ValueError(f"metric {metric.name} takes the dimensions {list(metric.dimensions)}, "
                         f"got {sorted(dimensions)}")
    key = tuple(sorted((name, str(v)) for name, v in dimensions.items()))
    collector = _current.get()
    if collector is not None:
        collector.add(metric, value, key)
        return
    once = Collector()
    once.add(metric, value, key)
    once.flush()


@contextmanager
def collecting() -> Iterator[Collector]:
    """What is emitted inside is written when the block ends (a handler's invocation), even when it fails."""
    collector = Collector()
    token = _current.set(collector)
    try:
        yield collector
    finally:
        _current.reset(token)
        collector.flush()


def namespace() -> str:
    return os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE


def _disabled() -> bool:
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    return is_metrics_disabled()


_DETAIL = re.compile(r"[:;(]")


def reason_code(reason: str) -> str:
    """A decision's reason without its details, fit for a dimension: the words before the first ':', ';' or
    '(', digits as N, at most 60 characters ("monthly budget exhausted (CHF 12 of 50000 left ...)" ->
    "monthly budget exhausted"). A reason never carries a person's data; the code carries fewer values still."""
    head = _DETAIL.split(reason, maxsplit=1)[0]
    head = re.sub(r"\d+", "N", head)
    head = " ".join(head.split()).strip(" ,.-").lower()
    return head[:60] or "unspecified"


def count_decision(metric: Metric, channel: str, target_group: str, reason: str) -> None:
    """One contact skipped or deferred (`metric`), by channel, target group and the reason's code."""
    emit(metric, channel=channel, target_group=target_group, reason=reason_code(reason))
