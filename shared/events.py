"""The events on the bus: one source, the detail-types and their payloads, declared once.

`template.yaml` routes these names; a test checks that every rule's pattern names only what is
declared here, so code and wiring cannot drift apart.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SOURCE = "channel-dispatch"
VERSION = "1"

HOUSEHOLD_CONNECTED = "HouseholdConnected"
HOUSEHOLD_SEGMENTED = "HouseholdSegmented"
JOURNEY_STARTED = "JourneyStarted"
CONTACT_REQUESTED = "ContactRequested"
RESPONSE_RECEIVED = "ResponseReceived"
CONTACT_MADE = "ContactMade"
ERASURE_REQUESTED = "ErasureRequested"

DETAIL_TYPES = (
    HOUSEHOLD_CONNECTED,
    HOUSEHOLD_SEGMENTED,
    JOURNEY_STARTED,
    CONTACT_REQUESTED,
    RESPONSE_RECEIVED,
    CONTACT_MADE,
    ERASURE_REQUESTED,
)

# S3 drops arrive as EventBridge notifications of the bucket ("Object Created").
S3_SOURCE = "aws.s3"
S3_OBJECT_CREATED = "Object Created"
FEED_PREFIX = "feed/"
CRM_PREFIX = "crm/"
RESPONSES_PREFIX = "responses/"
CALL_OUTCOMES_PREFIX = "call-outcomes/"
REJECTED_PREFIX = "rejected/"

# AWS's own feedback. SES publishes the bounces and complaints of a configuration set to the account's default bus
# (template.yaml MailFeedbackRule); the SMS provider publishes replies to the origination number to an SNS topic
# subscribed to the responses queue, whose messages arrive as SNS notifications (shared.handler.Envelope).
SES_SOURCE = "aws.ses"
EMAIL_BOUNCED = "Email Bounced"
EMAIL_COMPLAINT = "Email Complaint Received"
SES_FEEDBACK = (EMAIL_BOUNCED, EMAIL_COMPLAINT)
SES_CONFIGURATION_SET_TAG = "ses:configuration-set"
SNS_SOURCE = "aws.sns"
SNS_NOTIFICATION = "Notification"


#: fair play's start: a date (00:00 in the campaign's time zone) or an instant (a date-time with offset); an
#: instant is tried first, so '2027-03-10T00:00:00+01:00' keeps its offset and '2027-03-10' stays a date
MarketableFrom = Annotated[AwareDatetime | date, Field(union_mode="left_to_right")]


class EventDetail(BaseModel):
    """Every payload carries its version and a correlation id that follows the household."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = VERSION
    correlation_id: str


# Why a household is (again) segmented: its first feed row, a re-sent row that changed it, new residents.
Cause = Literal["feed", "feed_correction", "crm_change"]


class HouseholdConnected(EventDetail):
    household_id: str
    connected_at: datetime
    marketable_from: MarketableFrom
    max_down_mbps: int
    canton: str
    commune: str
    cause: Cause = "feed"


class HouseholdSegmented(EventDetail):
    household_id: str
    target_group: Literal["upgrade", "switch", "prospect"]
    customer_id: str | None
    current_down_mbps: int | None
    control_group: bool
    marketable_from: MarketableFrom
    max_down_mbps: int
    canton: str
    commune: str
    language: str
    cause: Cause = "feed"


class JourneyStarted(EventDetail):
    household_id: str
    journey_id: str
    target_group: Literal["upgrade", "switch", "prospect"]
    offer_id: str
    first_due_at: datetime


class ContactRequested(EventDetail):
    household_id: str
    journey_id: str
    customer_id: str | None
    target_group: Literal["upgrade", "switch", "prospect"]
    channel: Literal["email", "sms", "print", "call"]
    cycle: int
    step: int
    offer_id: str
    due_at: datetime
    attempt: int = 1


class ResponseReceived(EventDetail):
    at: datetime
    household_id: str
    customer_id: str | None
    type: Literal["order", "opt_out", "email_bounce", "email_complaint", "sms_stop", "call_outcome"]
    channel: Literal["email", "sms", "print", "call", "all"] | None = None
    outcome: Literal["ordered", "declined", "not_reached", "do_not_call"] | None = None
    source_line: int | None = None


class ContactMade(EventDetail):
    contact_id: str
    household_id: str
    channel: Literal["email", "sms", "print", "call"]
    at: datetime


class ErasureRequested(EventDetail):
    """A person asked to be forgotten: put on the bus by operations (the CLI, a support tool)."""

    customer_id: str


PAYLOADS: dict[str, type[EventDetail]] = {
    HOUSEHOLD_CONNECTED: HouseholdConnected,
    HOUSEHOLD_SEGMENTED: HouseholdSegmented,
    JOURNEY_STARTED: JourneyStarted,
    CONTACT_REQUESTED: ContactRequested,
    RESPONSE_RECEIVED: ResponseReceived,
    CONTACT_MADE: ContactMade,
    ERASURE_REQUESTED: ErasureRequested,
}


def detail_type_of(detail: EventDetail) -> str:
    for name, model in PAYLOADS.items():
        if type(detail) is model:
            return name
    raise KeyError(f"{type(detail).__name__} is not a declared event")
