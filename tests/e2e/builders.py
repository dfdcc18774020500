"""Hand-made input files for the end-to-end tests: a small town the product has never seen.

Every record is written by `write_csv`, which knows each record's first physical line (header =
line 1, quoted multi-line fields counted), so the tests know where every bad row is.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

CUSTOMER_COLUMNS = ["customer_id", "household_id", "first_name", "last_name", "language", "email", "mobile",
                    "phone_listing", "has_internet", "internet_down_mbps", "has_mobile", "email_consent",
                    "sms_consent", "call_consent", "do_not_call", "do_not_mail"]
FEED_COLUMNS = ["household_id", "street", "house_number", "postcode", "locality", "commune", "canton",
                "connected_at", "marketable_from", "max_down_mbps", "no_ads_sticker"]
RESPONSE_COLUMNS = ["at", "household_id", "customer_id", "type", "channel", "outcome"]

CAMPAIGN_ID = "e2e-hand-made"
CONTROL_GROUP_PERCENT = 10
CALLS_PER_DAY = 1
REPEAT_EVERY_DAYS = 20

CONFIG_YAML = f"""\
# a shorter campaign than the default, so that a second cycle happens within the run
campaign_id: {CAMPAIGN_ID}
journeys:
  upgrade:  {{steps: [{{channel: email, day: 0}}, {{channel: print, day: 7}}, {{channel: call, day: 14}}],
              repeat_every_days: {REPEAT_EVERY_DAYS}, max_cycles: 2}}
  switch:   {{steps: [{{channel: sms, day: 0}}, {{channel: email, day: 2}}, {{channel: print, day: 9}},
                      {{channel: call, day: 16}}], repeat_every_days: {REPEAT_EVERY_DAYS}, max_cycles: 2}}
  prospect: {{steps: [{{channel: print, day: 0}}], repeat_every_days: {REPEAT_EVERY_DAYS}, max_cycles: 2}}
calls:
  per_day: {CALLS_PER_DAY}
control_group_percent: {CONTROL_GROUP_PERCENT}
"""


@dataclass(frozen=True)
class Record:
    values: dict[str, str]
    bad_field: str | None = None  # the field a rejection must name; None for a good record
    ignored_field: str | None = None  # a malformed optional field: the row is kept, this field listed as ignored


@dataclass
class Written:
    path: Path
    lines: list[int] = field(default_factory=list)  # first physical line of each record
    records: list[Record] = field(default_factory=list)

    def good(self) -> list[tuple[int, Record]]:
        return [(line, r) for line, r in zip(self.lines, self.records, strict=True) if r.bad_field is None]

    def bad(self) -> list[tuple[int, Record]]:
        return [(line, r) for line, r in zip(self.lines, self.records, strict=True) if r.bad_field is not None]

    def ignored(self) -> list[tuple[int, Record]]:
        return [(line, r) for line, r in zip(self.lines, self.records, strict=True) if r.ignored_field is not None]


def write_csv(path: Path, columns: list[str], records: list[Record]) -> Written:
    """RFC 4180 (CRLF, quoting as needed); multi-line fields hold bare LF like a spreadsheet export."""
    written = Written(path)
    line = 2
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(columns)
        for record in records:
            values = [record.values.get(c, "") for c in columns]
            writer.writerow(values)
            written.lines.append(line)
            written.records.append(record)
            line += 1 + sum(v.count("\n") for v in values)
    return written


# --------------------------------------------------------------------------- the town


@dataclass(frozen=True)
class Commune:
    name: str
    canton: str
    language: str
    postcode: str
    street: str
    connected_at: str  # ISO with offset or Z
    marketable_from: date


WINTERTHUR = Commune("Winterthur", "ZH", "de", "8400", "Technikumstrasse", "2026-03-02T09:15:00+01:00",
                     date(2026, 3, 5))
LAUSANNE = Commune("Lausanne", "VD", "fr", "1003", "Rue de Bourg", "2026-03-03T13:40:00Z", date(2026, 3, 9))
BELLINZONA = Commune("Bellinzona", "TI", "it", "6500", "Viale Stazione", "2026-03-04T10:05:00+01:00",
                     date(2026, 3, 7))


@dataclass(frozen=True)
class House:
    household_id: str
    commune: Commune
    number: str
    kind: str  # expected target group: upgrade | switch | prospect | none (not eligible)
    max_down_mbps: int = 1000
    sticker: bool = False


def _person(customer_id: str, household: str, first: str, last: str, language: str, **values: Any) -> dict[str, str]:
    row = {"customer_id": customer_id, "household_id": household, "first_name": first, "last_name": last,
           "language": language, "email": "", "mobile": "", "phone_listing": "listed", "has_internet": "false",
           "internet_down_mbps": "", "has_mobile": "false", "email_consent": "false", "sms_consent": "false",
           "call_consent": "false", "do_not_call": "false", "do_not_mail": "false"}
    for key, value in values.items():
        row[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return row


HOUSES = [
    House("ZH-01", WINTERTHUR, "1", "upgrade"),  # orders after the first email
    House("ZH-02", WINTERTHUR, "2", "upgrade"),  # email bounces after the first email
    House("ZH-03", WINTERTHUR, "3", "upgrade"),  # no email address
    House("ZH-04", WINTERTHUR, "4", "upgrade"),  # no email consent, do_not_call
    House("ZH-05", WINTERTHUR, "5", "none"),  # already has the best speed
    House("ZH-06", WINTERTHUR, "6", "switch"),  # opts out of SMS after the first SMS
    House("ZH-07", WINTERTHUR, "7", "switch"),  # no SMS consent
    House("ZH-08", WINTERTHUR, "8a", "switch"),  # mobile subscription, no number on file
    House("ZH-09", WINTERTHUR, "9", "prospect"),  # former customer
    House("ZH-10", WINTERTHUR, "10", "prospect"),  # nobody (bad customer rows point here)
    House("ZH-11", WINTERTHUR, "11", "prospect", sticker=True),  # no-advertising sticker
    House("ZH-12", WINTERTHUR, "12", "prospect"),
    House("VD-01", LAUSANNE, "1", "upgrade"),  # re-sent later with a new connected_at
    House("VD-02", LAUSANNE, "2", "upgrade"),  # starred number, no call consent
    House("VD-03", LAUSANNE, "3bis", "switch"),
    House("VD-04", LAUSANNE, "4", "switch"),  # a mobile customer and a former customer
    House("VD-05", LAUSANNE, "5", "prospect", sticker=True),  # former customer with a sticker
    House("VD-06", LAUSANNE, "6", "prospect"),  # orders without being a customer
    House("VD-07", LAUSANNE, "7", "prospect"),
    House("VD-08", LAUSANNE, "8", "upgrade"),
    House("TI-01", BELLINZONA, "1", "upgrade"),
    House("TI-02", BELLINZONA, "2", "switch"),
    House("TI-03", BELLINZONA, "3", "prospect"),  # its feed row is sent twice in a row
    House("TI-04", BELLINZONA, "4", "prospect"),  # opts out of everything after the first letter
    House("TI-05", BELLINZONA, "5", "prospect"),  # former customer
]
HOUSE = {h.household_id: h for h in HOUSES}
RESENT = ("VD-01", "TI-03")

_CUSTOMERS = [
    _person("C-01", "ZH-01", "Anna", "Müller", "de", email="anna.mueller@bluewin.ch", mobile="079 123 45 67",
            has_internet=True, internet_down_mbps=100, has_mobile=True, email_consent=True, sms_consent=True,
            call_consent=True),
    _person("C-02", "ZH-02", "Beat", "Keller", "de", email="beat.keller@gmx.ch", mobile="+41 78 111 22 33",
            has_internet=True, internet_down_mbps=50, email_consent=True),
    _person("C-03", "ZH-03", "Reto", "Huber", "de", mobile="0041 76 222 33 44", has_internet=True,
            internet_down_mbps=100, call_consent=True, sms_consent=True),
    _person("C-04", "ZH-04", "Ursula", "Weber", "de", email="ursula.weber@sunrise.ch", mobile="079 333 44 55",
            has_internet=True, internet_down_mbps=300, do_not_call=True),
    _person("C-05", "ZH-05", "Peter", "Meier", "de", email="peter.meier@bluewin.ch", has_internet=True,
            internet_down_mbps=1000, email_consent=True),
    _person("C-06", "ZH-06", "Nina", "Frei", "de", email="nina.frei@gmail.com", mobile="076 444 55 66",
            has_mobile=True, email_consent=True, sms_consent=True, call_consent=True),
    _person("C-07", "ZH-07", "Simon", "Graf", "de", email="simon.graf@gmail.com", mobile="079 555 66 77",
            has_mobile=True, email_consent=True),
    _person("C-08", "ZH-08", "Lea", "Roth", "de", has_mobile=True, sms_consent=True, email_consent=True),
    _person("C-09", "ZH-09", "Jonas", "Wyss", "de", email="jonas.wyss@gmx.ch", email_consent=True),
    _person("C-13", "VD-01", "Camille", "Favre", "fr", email="camille.favre@bluewin.ch", mobile="078 666 77 88",
            has_internet=True, internet_down_mbps=200, email_consent=True, call_consent=True),
    _person("C-14", "VD-02", "Louis", "Rochat", "fr", email="louis.rochat@hispeed.ch", mobile="079 777 88 99",
            phone_listing="starred", has_internet=True, internet_down_mbps=100, email_consent=True),
    _person("C-15", "VD-03", "Chloé", "Perret", "fr", email="chloe.perret@gmail.com", mobile="+41797654321",
            has_mobile=True, email_consent=True, sms_consent=True, call_consent=True),
    _person("C-16", "VD-04", "Gabriel", "Jaquet", "fr", mobile="076 888 99 00", has_mobile=True, sms_consent=True),
    _person("C-17", "VD-04", "Léa", "Jaquet", "fr", email="lea.jaquet@gmail.com", email_consent=True),
    _person("C-18", "VD-05", "Yves", "Morel", "fr"),
    _person("C-20", "VD-08", "Aline", "Droz", "fr", email="aline.droz@outlook.com", has_internet=True,
            internet_down_mbps=500, has_mobile=True, mobile="079 999 00 11", email_consent=True,
            sms_consent=True, phone_listing="unlisted", call_consent=True),
    _person("C-21", "TI-01", "Giulia", "Rossi", "it", email="giulia.rossi@bluewin.ch", mobile="079 121 21 21",
            has_internet=True, internet_down_mbps=100, email_consent=True, call_consent=True),
    _person("C-22", "TI-02", "Marco", "Bianchi", "it", email="marco.bianchi@gmail.com", mobile="079 232 32 32",
            has_mobile=True, sms_consent=True, email_consent=True),
    _person("C-25", "TI-05", "Sergio", "Galli", "it"),
]
CUSTOMER = {c["customer_id"]: c for c in _CUSTOMERS}


def customer_records() -> list[Record]:
    """The good customers with bad ones mixed in; each bad one would change its household's group.

    A bad row is one without a usable id (what makes a row meaningless); its other malformed field is named in
    the reason too. C-04's email is malformed: the customer stays, the email is listed as ignored.
    """
    good = [Record({**c, "email": "ursula.weber@@sunrise.ch"}, ignored_field="email") if c["customer_id"] == "C-04"
            else Record(c) for c in _CUSTOMERS]
    bad = [
        Record(_person("C X1", "ZH-10", "Anna\nMaria", "Brunner", "de", has_internet=True,
                       internet_down_mbps=100), "first_name"),  # quoted multi-line field
        Record(_person("C-X2!", "ZH-10", "Hans", "Moser", "de", email="hans@@bluewin.ch", has_internet=True,
                       internet_down_mbps=100, email_consent=True), "email"),
        Record({**_person("C-X3", "VD 06", "Pierre", "Girard", "fr", has_internet=True, internet_down_mbps=100),
                "has_mobile": "oui"}, "has_mobile"),
        Record(_person("=C-X4", "TI-03", "Luca", "Fontana", "rm", has_mobile=True), "language"),
        Record(_person("C-X5", "TI 04", "Paola", "=cmd|' /C calc'!A0", "it", has_mobile=True), "last_name"),
        Record(_person("C-X6", "VD/07", "Yves", "Pittet", "fr", mobile="079 12", has_mobile=True), "mobile"),
    ]
    records = [*good[:3], bad[0], *good[3:6], bad[1], *good[6:10], bad[2], bad[3], *good[10:15], bad[4],
               *good[15:], bad[5]]
    assert len(records) == len(good) + len(bad)
    return records


def _feed_row(house: House, **override: str) -> dict[str, str]:
    c = house.commune
    row = {"household_id": house.household_id, "street": c.street, "house_number": house.number,
           "postcode": c.postcode, "locality": c.name, "commune": c.name, "canton": c.canton,
           "connected_at": c.connected_at, "marketable_from": c.marketable_from.isoformat(),
           "max_down_mbps": str(house.max_down_mbps), "no_ads_sticker": "true" if house.sticker else "false"}
    row.update(override)
    return row


VD01_RESENT_AT = "2026-03-11T09:30:00+01:00"  # after its first email went out


def feed_records() -> list[Record]:
    good = [Record(_feed_row(h)) for h in HOUSES]
    zh = HOUSE["ZH-12"]
    bad = [
        Record(_feed_row(zh, household_id="X-01", street="Technikumstrasse\nc/o Hauswart"), "street"),
        Record(_feed_row(zh, household_id="X-02", postcode="80A1"), "postcode"),
        Record(_feed_row(zh, household_id="X-03", connected_at="2026-03-02T10:00:00"), "connected_at"),
        Record(_feed_row(HOUSE["VD-07"], household_id="X-04", canton="ZR"), "canton"),
        Record(_feed_row(zh, household_id="X-05", street='=HYPERLINK("http://example.com/win","Gewinn")'),
               "street"),
        Record(_feed_row(HOUSE["TI-04"], household_id="X-06", no_ads_sticker="ja", max_down_mbps="fast"),
               "max_down_mbps"),  # the sticker alone would be read as one (field ignored); the speed rejects
    ]
    resent_ti = Record(_feed_row(HOUSE["TI-03"]))
    resent_vd = Record(_feed_row(HOUSE["VD-01"], connected_at=VD01_RESENT_AT))
    return [*good[:2], bad[0], *good[2:5], bad[1], *good[5:9], bad[2], *good[9:14], bad[3], *good[14:23], resent_ti,
            *good[23:], bad[4], bad[5], resent_vd]


ORDERS = {"ZH-01": "2026-03-07T10:00:00+01:00", "VD-06": "2026-03-20T09:00:00Z"}
SMS_OPT_OUT = ("ZH-06", "C-06", "2026-03-06T12:00:00+01:00")
EMAIL_BOUNCE = ("ZH-02", "C-02", "2026-03-05T15:00:00+01:00")
ALL_OPT_OUT = ("TI-04", "", "2026-03-12T08:00:00+01:00")


def response_records() -> list[Record]:
    def response(at: str, household: str, customer: str, type_: str, channel: str = "", outcome: str = "") -> dict[
            str, str]:
        return {"at": at, "household_id": household, "customer_id": customer, "type": type_, "channel": channel,
                "outcome": outcome}

    good = [
        Record(response(EMAIL_BOUNCE[2], EMAIL_BOUNCE[0], EMAIL_BOUNCE[1], "email_bounce")),
        Record(response(SMS_OPT_OUT[2], SMS_OPT_OUT[0], SMS_OPT_OUT[1], "opt_out", "sms")),
        Record(response(ORDERS["ZH-01"], "ZH-01", "C-01", "order")),
        Record(response(ALL_OPT_OUT[2], ALL_OPT_OUT[0], ALL_OPT_OUT[1], "opt_out", "all")),
        Record(response(ORDERS["VD-06"], "VD-06", "", "order")),
    ]
    bad = [
        Record(response("2026-03-08T10:00:00", "ZH-03", "C-03", "order"), "at"),
        Record(response("2026-03-09T10:00:00+01:00", "ZH-03", "C-03", "unsubscribe"), "type"),
        Record(response("2026-03-09T11:00:00+01:00", "ZH-03\nZH-04", "C-03", "order"), "household_id"),
        Record(response("2026-03-10T10:00:00+01:00", "ZH-03", "C-03", "opt_out"), "channel"),
        Record(response("2026-03-10T11:00:00+01:00", "ZH-03", "C-03", "call_outcome", outcome="busy"), "outcome"),
    ]
    return [good[0], bad[0], good[1], bad[2], good[2], bad[1], good[3], bad[3], good[4], bad[4]]


@dataclass
class Inputs:
    customers: Written
    feed: Written
    responses: Written
    config: Path


def write_inputs(folder: Path) -> Inputs:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yaml"
    config.write_text(CONFIG_YAML, encoding="utf-8")
    return Inputs(
        customers=write_csv(folder / "customers.csv", CUSTOMER_COLUMNS, customer_records()),
        feed=write_csv(folder / "rollout.csv", FEED_COLUMNS, feed_records()),
        responses=write_csv(folder / "responses.csv", RESPONSE_COLUMNS, response_records()),
        config=config,
    )


def parse_at(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, f"{value!r} has no offset"
    return parsed


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """A run's .jsonl output file as a list of objects."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
