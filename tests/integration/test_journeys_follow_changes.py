"""When the world changes, the household's journey follows (against moto, ingest -> segmenter -> offer picker):
re-sent feed rows re-schedule, re-offer or end it; a new CRM extract re-segments the households whose residents
changed (a prospect gaining a customer gets a new upgrade journey, a customer who left is no longer its lead);
a pre-order or an objection to everything stops it; every end says why."""

from __future__ import annotations

import itertools
from datetime import date

from functions.ingest.handler import handler as ingest
from functions.offer_picker.handler import handler as offer_picker
from functions.segmenter.handler import handler as segmenter
from shared.aws import client
from shared.domain.segment import in_control_group
from shared.stores.records import journey_id
from shared.stores.suppression import record_order, suppress
from tests.integration import helpers as h
from tests.integration.test_crm_extracts import CRM_HEADER, row

FEED_HEADER = ("household_id,street,house_number,postcode,locality,commune,canton,connected_at,marketable_from,"
               "max_down_mbps,no_ads_sticker\n")
NOW = h.local(h.MONDAY, 9)
FILLER = [row(f"C-f{i}", f"H-f{i}") for i in range(9)]  # customers elsewhere: one leaver stays under 20 %


def household_id(prefix: str) -> str:
    return next(f"{prefix}-{i}" for i in itertools.count() if not in_control_group(h.CAMPAIGN_ID, f"{prefix}-{i}", 5))


def feed_row(household: str, *, marketable_from: str = "2026-06-20", max_down: int = 10000) -> str:
    return (f"{household},Bahnhofstrasse,1,8001,Zürich,Zürich,ZH,2026-06-01T10:00:00+02:00,{marketable_from},"
            f"{max_down},false\n")


def drop(key: str, text: str, at=NOW) -> None:  # type: ignore[no-untyped-def]
    s = h.cfg()
    client("s3").put_object(Bucket=s.feed_bucket, Key=key, Body=text.encode("utf-8"))
    h.no_failures(h.invoke(ingest, h.s3_drop_event(s.feed_bucket, key, at)))


def pump(stack) -> None:  # type: ignore[no-untyped-def]
    """Deliver what waits in the segmenter's and the offer picker's queues, as the runtime would."""
    for queue, handler in (("SegmenterQueue", segmenter), ("OfferPickerQueue", offer_picker)):
        bodies = h.queue_bodies(stack, queue)
        if bodies:
            h.no_failures(h.invoke(handler, h.sqs_batch(bodies)))


def connect(stack, household: str, at=NOW, **kwargs: object) -> dict:  # type: ignore[no-untyped-def]
    drop(f"feed/{household}-{at:%H%M%S}.csv", FEED_HEADER + feed_row(household, **kwargs), at)  # type: ignore[arg-type]
    pump(stack)
    return h.journey(household)  # type: ignore[return-value]


def test_a_feed_row_bringing_marketable_from_forward_makes_the_first_step_due_earlier(stack) -> None:
    # Given an upgrade household marketable from 20 June, its journey waiting for that day
    hh = household_id("H-fwd")
    drop("crm/a.csv", CRM_HEADER + row("C-1", hh))
    assert connect(stack, hh)["due_at"] == "2026-06-19T22:00:00Z"
    tap = h.BusTap(stack)
    # When the rollout re-sends its row on Tuesday, marketable from 10 June
    later = NOW + h.hours(24)
    journey = connect(stack, hh, later, marketable_from="2026-06-10")
    # Then the first step is due on 10 June 00:00, the same journey (nothing went out yet)
    assert journey["due_at"] == "2026-06-09T22:00:00Z" and journey["journey_id"] == journey_id(h.CAMPAIGN_ID, hh)
    assert journey["cycle_started_at"].startswith("2026-06-10T00:00:00") and journey["marketable_from"] == "2026-06-10"
    assert [e["detail"]["cause"] for e in tap.events("HouseholdConnected")] == ["feed_correction"]
    assert tap.events("JourneyStarted") == []
    # ... and when it comes forward to a day already past, it is due now, never earlier
    assert connect(stack, hh, later + h.hours(1), marketable_from="2026-06-01")["due_at"] == h.iso_z(later + h.hours(1))


def test_a_feed_row_moving_marketable_from_later_moves_the_waiting_step_later(stack) -> None:
    # Given a journey waiting for 10 June
    hh = household_id("H-late")
    drop("crm/a.csv", CRM_HEADER + row("C-1", hh))
    connect(stack, hh, marketable_from="2026-06-10")
    # When the re-sent row says 1 July, then its first step waits for 1 July 00:00
    assert connect(stack, hh, NOW + h.hours(1), marketable_from="2026-07-01")["due_at"] == "2026-06-30T22:00:00Z"


def test_a_speed_corrected_to_not_eligible_ends_the_journey_with_a_decision(stack) -> None:
    # Given an upgrade household with a live journey (10 Gbit/s available)
    hh = household_id("H-slow")
    drop("crm/a.csv", CRM_HEADER + row("C-1", hh))
    assert connect(stack, hh)["status"] == "live"
    # When the row is corrected: only 300 Mbit/s available (every upgrade offer needs 500 or more)
    journey = connect(stack, hh, NOW + h.hours(2), max_down=300)
    # Then the journey ends with the reason, and a not_eligible decision records it
    assert journey["status"] == "ended" and journey["end_reason"].startswith("no offer")
    [decision] = [d for d in h.decisions(hh) if d["decision"] == "not_eligible"]
    assert decision["reason"].startswith("journey ended: no offer") and decision["customer_id"] == "C-1"


def test_a_better_offer_is_carried_by_the_journey(stack) -> None:
    # Given a journey with the 1 Gbit/s offer (1000 Mbit/s available)
    hh = household_id("H-offer")
    drop("crm/a.csv", CRM_HEADER + row("C-1", hh))
    assert connect(stack, hh, max_down=1000)["offer_id"] == "fibre-1g-upgrade"
    # When the row is corrected to 10 Gbit/s available, then the same journey carries the 10 Gbit/s offer
    journey = connect(stack, hh, NOW + h.hours(1), max_down=10000)
    assert journey["offer_id"] == "fibre-10g-upgrade" and journey["journey_id"] == journey_id(h.CAMPAIGN_ID, hh)


def test_a_prospect_that_gains_a_customer_gets_a_new_upgrade_journey(stack) -> None:
    # Given a prospect household (no customer there) with its journey
    hh = household_id("H-pro")
    drop("crm/a.csv", CRM_HEADER + "".join(FILLER))
    old = connect(stack, hh)
    assert (old["target_group"], old["status"]) == ("prospect", "live")
    tap = h.BusTap(stack)
    # When the next CRM extract has a customer living there
    drop("crm/b.csv", CRM_HEADER + "".join(FILLER) + row("C-new", hh), NOW + h.hours(3))
    pump(stack)
    # Then the household is segmented again and its prospect journey replaced by an upgrade journey (a new id)
    new = h.journey(hh)
    assert (new["target_group"], new["customer_id"], new["status"]) == ("upgrade", "C-new", "live")
    assert new["journey_id"] == journey_id(h.CAMPAIGN_ID, hh, 2) != old["journey_id"] and new["generation"] == 2
    assert (new["previous_journey_id"], new["previous_end_reason"]) == (old["journey_id"],
                                                                        "re-segmented: prospect → upgrade")
    [started] = tap.events("JourneyStarted")
    assert started["detail"]["journey_id"] == new["journey_id"]
    # ... the old journey's end is a decision with its reason
    [ended] = [d for d in h.decisions(hh) if d["decision"] == "skipped"]
    assert ended["reason"] == "journey ended: re-segmented: prospect → upgrade"
    # ... and the same re-segmenting delivered again starts nothing more
    [segmented] = tap.events("HouseholdSegmented")
    h.no_failures(h.invoke(offer_picker, h.sqs_batch([segmented, segmented])))
    assert h.journey(hh)["journey_id"] == new["journey_id"] and len(tap.events("JourneyStarted")) == 1


def test_a_customer_who_left_is_no_longer_the_journeys_lead(stack) -> None:
    # Given an upgrade household whose only customer leads its journey
    hh = household_id("H-left")
    drop("crm/a.csv", CRM_HEADER + "".join(FILLER) + row("C-1", hh))
    assert connect(stack, hh)["customer_id"] == "C-1"
    # When the next extract no longer has C-1
    drop("crm/b.csv", CRM_HEADER + "".join(FILLER), NOW + h.hours(3))
    pump(stack)
    # Then C-1's record is gone and the household goes on as a prospect: no journey names C-1 any more
    assert h.get(h.cfg().customers_table, {"household_id": hh, "customer_id": "C-1"}) is None
    journey = h.journey(hh)
    assert (journey["target_group"], journey.get("customer_id"), journey["status"]) == ("prospect", None, "live")
    assert journey["previous_end_reason"] == "re-segmented: upgrade → prospect"


def test_a_customer_who_moved_away_leaves_the_old_households_journey(stack) -> None:
    # Given C-1 leading the journey at one household, another household a prospect
    hh, elsewhere = household_id("H-mv"), household_id("H-new")
    drop("crm/a.csv", CRM_HEADER + "".join(FILLER) + row("C-1", hh))
    connect(stack, hh)
    connect(stack, elsewhere)
    # When the next extract has C-1 at the other household
    drop("crm/b.csv", CRM_HEADER + "".join(FILLER) + row("C-1", elsewhere), NOW + h.hours(3))
    pump(stack)
    # Then the old household goes on as a prospect, the new one as C-1's upgrade
    assert (h.journey(hh)["target_group"], h.journey(hh).get("customer_id")) == ("prospect", None)
    assert (h.journey(elsewhere)["target_group"], h.journey(elsewhere)["customer_id"]) == ("upgrade", "C-1")


def test_a_customer_now_at_the_best_speed_ends_the_journey_as_not_eligible(stack) -> None:
    # Given an upgrade journey; when the next extract says the customer already has 10 Gbit/s
    hh = household_id("H-top")
    drop("crm/a.csv", CRM_HEADER + row("C-1", hh))
    connect(stack, hh)
    drop("crm/b.csv", CRM_HEADER + row("C-1", hh, mbps="10000"), NOW + h.hours(3))
    pump(stack)
    # Then the household is not eligible: its journey ends, the decision says why
    journey = h.journey(hh)
    assert journey["status"] == "ended" and journey["end_reason"].startswith("re-segmented: not eligible")
    [decision] = h.decisions(hh)
    assert decision["decision"] == "not_eligible" and "10000" in decision["reason"]


def test_a_pre_order_stops_the_journey_from_starting_with_a_decision(stack) -> None:
    # Given a household that ordered before it was connected
    hh = household_id("H-pre")
    drop("crm/a.csv", CRM_HEADER + row("C-1", hh))
    record_order(h.cfg().suppression_table, hh, NOW - h.hours(48))
    # When its feed row comes
    assert connect(stack, hh) is None
    # Then no journey starts, and a decision says why
    [decision] = h.decisions(hh)
    assert decision["decision"] == "skipped" and decision["reason"].startswith("no journey: ordered")


def test_an_objection_to_everything_ends_a_live_journey_when_the_household_is_segmented_again(stack) -> None:
    # Given a live journey and an objection to all channels at household level
    hh = household_id("H-obj")
    drop("crm/a.csv", CRM_HEADER + row("C-1", hh))
    connect(stack, hh)
    suppress(h.cfg().suppression_table, f"household#{hh}", "all", NOW)
    # When a re-sent row segments the household again, then the journey ends with the objection as its reason
    journey = connect(stack, hh, NOW + h.hours(1), marketable_from="2026-06-10")
    assert (journey["status"], journey["end_reason"]) == ("ended", "objection to all channels")
    assert [d["reason"] for d in h.decisions(hh)] == ["journey ended: objection to all channels"]


def test_a_not_eligible_household_eligible_again_gets_a_new_journey(stack) -> None:
    # Given a journey ended because the speed was corrected to 300 Mbit/s
    hh = household_id("H-back")
    drop("crm/a.csv", CRM_HEADER + row("C-1", hh))
    first = connect(stack, hh)
    assert connect(stack, hh, NOW + h.hours(1), max_down=300)["status"] == "ended"
    # When it is corrected back, then a new journey (a new id) starts, waiting for marketable_from
    again = connect(stack, hh, NOW + h.hours(2), max_down=10000)
    assert again["status"] == "live" and again["journey_id"] != first["journey_id"]
    assert again["due_at"] == "2026-06-19T22:00:00Z"


def test_a_journey_ended_by_an_order_is_not_restarted_by_a_re_sent_row(stack) -> None:
    # Given a journey and an order; when a re-sent row comes, the journey ends as ordered
    hh = household_id("H-ord")
    drop("crm/a.csv", CRM_HEADER + row("C-1", hh))
    connect(stack, hh)
    record_order(h.cfg().suppression_table, hh, NOW)
    journey = connect(stack, hh, NOW + h.hours(1), marketable_from=date(2026, 6, 12).isoformat())
    assert journey["status"] == "ended" and journey["end_reason"].startswith("ordered")
    # ... and another re-sent row does not start it again
    assert connect(stack, hh, NOW + h.hours(2))["status"] == "ended"
