"""The functions' environment as one validated model, read on first use (never at import)."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)
    households_table: str = Field(alias="HOUSEHOLDS_TABLE")
    customers_table: str = Field(alias="CUSTOMERS_TABLE")
    journeys_table: str = Field(alias="JOURNEYS_TABLE")
    contacts_table: str = Field(alias="CONTACTS_TABLE")
    suppression_table: str = Field(alias="SUPPRESSION_TABLE")
    print_table: str = Field(alias="PRINT_TABLE")
    calls_table: str = Field(alias="CALLS_TABLE")
    budget_table: str = Field(alias="BUDGET_TABLE")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    feed_bucket: str = Field(alias="FEED_BUCKET")
    print_bucket: str = Field(alias="PRINT_BUCKET")
    call_list_bucket: str = Field(alias="CALL_LIST_BUCKET")
    unsubscribe_secret_arn: str = Field(alias="UNSUBSCRIBE_SECRET_ARN")
    config_version: str = Field(default="1", alias="CONFIG_VERSION")
    sender_email: str = Field(default="fibre@dispatch.example.ch", alias="SENDER_EMAIL")
    # From's display name for every language; empty: shared.channels.copy.SENDER_NAMES in the recipient's language
    sender_name: str = Field(default="", alias="SENDER_NAME")
    # The SES configuration set every email goes out with (bounces and complaints come back through it)
    mail_configuration_set: str = Field(default="", alias="MAIL_CONFIGURATION_SET")
    # The contact-history lake's Firehose stream, and the bucket of the scheduled reports (shared/lake.py)
    lake_stream: str = Field(default="", alias="LAKE_STREAM")
    lake_bucket: str = Field(default="", alias="LAKE_BUCKET")
    reports_bucket: str = Field(default="", alias="REPORTS_BUCKET")
    unsubscribe_base_url: str = Field(default="https://dispatch.example.ch/unsubscribe", alias="UNSUBSCRIBE_BASE_URL")


class SettingsError(RuntimeError):
    """A function started without the environment its template declares."""


def settings() -> Settings:
    return _settings(tuple(sorted((k, v) for k, v in os.environ.items() if k.isupper())))


@lru_cache(maxsize=4)
def _settings(environ: tuple[tuple[str, str], ...]) -> Settings:
    try:
        return Settings.model_validate(dict(environ))
    except ValidationError as exc:
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise SettingsError(f"environment variables missing or invalid: {missing}") from exc
