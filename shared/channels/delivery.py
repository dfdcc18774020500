"""The channels' ports to the providers: email through SES v2, SMS through SNS.

Each is a small class behind a protocol so AWS End User Messaging (or any SMS gateway) can replace
SNS without touching the functions, and unit tests can use a fake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from shared.aws import client


class EmailSender(Protocol):
    def send_raw(self, sender: str, recipient: str, mime: bytes) -> str: ...


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


class SesEmailSender:
    def send_raw(self, sender: str, recipient: str, mime: bytes) -> str:
        from shared.channels.mime import ascii_address
        from shared.channels.pacing import pacer
        from shared.dispatch import DeliveryRejected

        pacer("email").wait()  # this copy's share of the account's SES sending rate
        try:
            response = client("sesv2").send_email(  # SES takes ASCII only: internationalised domains as IDNA
                FromEmailAddress=ascii_address(sender),
                Destination={"ToAddresses": [ascii_address(recipient)]},
                Content={"Raw": {"Data": mime}},
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

    def send_raw(self, sender: str, recipient: str, mime: bytes) -> str:
        self.sent.append((sender, recipient, mime))
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
