"""Provider pacing: each running copy of a channel function keeps to its share of the account's rate."""

from __future__ import annotations

import pytest

from infra.template import load_template
from shared.channels.pacing import Pacer, pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_sends_are_spaced_at_the_rate() -> None:
    clock = FakeClock()
    paced = Pacer(2.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        paced.wait()
    assert clock.slept == [0.5, 0.5, 0.5, 0.5]  # the first goes at once, then one every half second
    assert clock.now == pytest.approx(102.0)


def test_time_spent_elsewhere_counts_and_parts_weigh() -> None:
    clock = FakeClock()
    paced = Pacer(4.0, clock=clock, sleep=clock.sleep)
    paced.wait(units=3)  # a three-part SMS uses 0.75 s of the rate
    clock.now += 0.5  # rendering, the gate, the claim
    assert paced.wait() == pytest.approx(0.25)


def test_no_rate_no_pacing() -> None:
    clock = FakeClock()
    paced = Pacer(0, clock=clock, sleep=clock.sleep)
    assert [paced.wait() for _ in range(3)] == [0.0, 0.0, 0.0] and clock.slept == []


def test_each_copy_gets_its_share_of_the_account_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_SEND_RATE", "14")
    monkeypatch.setenv("EMAIL_CONCURRENCY", "10")
    monkeypatch.setenv("SMS_SEND_RATE", "20")
    monkeypatch.setenv("SMS_CONCURRENCY", "5")
    assert pacer("email").per_second == pytest.approx(1.4)
    assert pacer("sms").per_second == pytest.approx(4.0)


@pytest.mark.parametrize(("function", "rate", "concurrency"), [
    ("EmailFunction", "SesMaxSendRate", "EmailMaxConcurrency"),
    ("SmsFunction", "SmsMaxSendRate", "SmsMaxConcurrency"),
])
def test_the_template_ties_the_pace_to_the_event_sources_concurrency(function: str, rate: str,
                                                                       concurrency: str) -> None:
    template = load_template()
    props = template["Resources"][function]["Properties"]
    [source] = [e["Properties"] for e in props["Events"].values() if e["Type"] == "SQS"]
    variables = props["Environment"]["Variables"]
    channel = "EMAIL" if function == "EmailFunction" else "SMS"
    # the pacer divides by the same parameter that caps the event source
    assert source["ScalingConfig"]["MaximumConcurrency"] == {"Ref": concurrency}
    assert variables[f"{channel}_CONCURRENCY"] == {"Ref": concurrency}
    assert variables[f"{channel}_SEND_RATE"] == {"Ref": rate}
    # and with the defaults a full batch, paced, ends well inside the function's timeout
    parameters = template["Parameters"]
    per_copy = float(parameters[rate]["Default"]) / float(parameters[concurrency]["Default"])
    timeout = float(props.get("Timeout", template["Globals"]["Function"]["Timeout"]))
    assert source["BatchSize"] / per_copy < timeout / 2
