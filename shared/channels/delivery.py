"""The channels' ports to the providers: email through SES v2, SMS through SNS.

Each is a small class behind a protocol so AWS End User Messaging (or any SMS gateway) can replace
SNS without touching the functions, and unit tests can use a fake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from shared.aws import client


class EmailSender(Protocol):
    def send_raw(self, sender: str, recipient: str, mime: bytes, tags: dict[str, str] | None = None) -> str: ...


class SmsSender(Protocol):
    def send(self, phone_e164: str, text: str, parts: int = 1) -> str: ...


# Provider answers that say "this message will never go": not retried, recorded as failed.
REJECTIONS = {"MessageRejected", "InvalidParameterValue", "InvalidParameter", "MailFromDomainNotVerifiedException",
              "AccountSuspendedException", "SendingPausedException", "OptedOut", "ValidationException"}


def _rejected(exc: Exception) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return code if code in REJECTIONS else None
    return None


# SES message tags: ASCII letters, digits, "_", "-", ".", "@" (up to 256); a value outside is left out.
_TAG_VALUE = re.compile(r"^[A-Za-z0-9_.@-]{1,256}$")


def email_tags(tags: dict[str, str] | None) -> list[dict[str, str]]:
    """What SES publishes back with a bounce or complaint (`mail.tags`): ids, never an address."""
    return [{"Name": k, "Value": v} for k, v in sorted((tags or {}).items()) if v and _TAG_VALUE.match(v)]


@dataclass
class SesEmailSender:
    configuration_set: str = ""  # the stack's: SES publishes this mail's bounces and complaints through it

    def send_raw(self, sender: str, recipient: str, mime: bytes, tags: dict[str, str] | None = None) -> str:
        from shared.channels.mime import ascii_address
        from shared.channels.pacing import pacer
        from shared.dispatch import DeliveryRejected

        pacer("email").wait()  # this copy's share of the account's SES sending rate
        try:
            extra: dict[str, object] = {"EmailTags": email_tags(tags)} if email_tags(tags) else {}
            if self.configuration_set:
                extra["ConfigurationSetName"] = self.configuration_set
            response = client("sesv2").send_email(  # SES takes ASCII only: internationalised domains as IDNA
                FromEmailAddress=ascii_address(sender),
                Destination={"ToAddresses": [ascii_address(recipient)]},
                Content={"Raw": {"Data": mime}},
                **extra,
            )
        except Exception as exc:
            code = _rejected(exc)
            if code:
                raise DeliveryRejected(f"SES: {code}") from exc
            raise
        return str(response.get("MessageId", ""))


class SnsSmsSender:
    def send(self, phone_e164: str, text: str, parts: int = 1) -> str:
        from shared.channels.pacing import pacer
        from shared.dispatch import DeliveryRejected

        pacer("sms").wait(parts)  # the origination identity's rate counts message parts
        try:
            response = client("sns").publish(
                PhoneNumber=phone_e164,
                Message=text,
                MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Promotional"}},
            )
        except Exception as exc:
            code = _rejected(exc)
            if code:
                raise DeliveryRejected(f"SNS: {code}") from exc
            raise
        return str(response.get("MessageId", ""))


@dataclass
class FakeEmailSender:
    sent: list[tuple[str, str, bytes]] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)

    def send_raw(self, sender: str, recipient: str, mime: bytes, tags: dict[str, str] | None = None) -> str:
        self.sent.append((sender, recipient, mime))
        self.tags.append(dict(tags or {}))
        return f"fake-{len(self.sent)}"


@dataclass
class FakeSmsSender:
    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, phone_e164: str, text: str, parts: int = 1) -> str:
        self.sent.append((phone_e164, text))
        return f"fake-{len(self.sent)}"


def unsubscribe_secret(secret_arn: str) -> bytes:
    """The token signing key, from Secrets Manager, cached by Powertools for five minutes."""
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_secret(secret_arn, max_age=300)).encode("utf-8")
