"""A synthetic town for `dispatch demo`: customers.csv, rollout.csv and responses.csv as in the contract."""

from __future__ import annotations

import csv
import random
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.domain.phone import normalise_phone
from shared.inputs import CustomerRow, FeedRow, ResponseRow, columns

__all__ = ["TownFiles", "make_town"]

ZURICH = ZoneInfo("Europe/Zurich")
DEFAULT_START = date(2026, 3, 2)
Row = dict[str, str]


@dataclass(frozen=True)
class TownFiles:
    """The three files written, what they hold, and where the deliberately bad records are."""

    customers: Path
    rollout: Path
    responses: Path
    households: int  # households connected (distinct, valid feed rows)
    customer_rows: int  # data records in customers.csv, bad ones included
    feed_rows: int  # data records in rollout.csv, re-sent and bad ones included
    response_rows: int  # data records in responses.csv, bad ones included
    # source ("customers", "feed", "responses") -> first physical line of each bad record
    bad_lines: Mapping[str, tuple[int, ...]]


@dataclass(frozen=True)
class _Commune:
    """A commune of the town: where it is, what is spoken, its postcodes and streets."""

    name: str
    canton: str
    language: str
    places: tuple[tuple[str, str], ...]  # (postcode, locality)
    streets: tuple[str, ...]
    weight: int


_COMMUNES = (
    _Commune("Winterthur", "ZH", "de",
             (("8400", "Winterthur"), ("8404", "Winterthur"), ("8406", "Winterthur"), ("8408", "Winterthur")),
             ("Technikumstrasse", "Zürcherstrasse", "Wülflingerstrasse", "Frauenfelderstrasse",
              "Schaffhauserstrasse", "Tösstalstrasse", "St. Gallerstrasse", "Rychenbergstrasse"), 25),
    _Commune("Baden", "AG", "de", (("5400", "Baden"), ("5405", "Baden-Dättwil")),
             ("Badstrasse", "Mellingerstrasse", "Bruggerstrasse", "Haselstrasse", "Weite Gasse",
              "Römerstrasse"), 12),
    _Commune("Thun", "BE", "de", (("3600", "Thun"), ("3604", "Thun"), ("3608", "Thun")),
             ("Frutigenstrasse", "Bernstrasse", "Hofstettenstrasse", "Gwattstrasse", "Seestrasse",
              "Allmendstrasse", "Mittlere Strasse"), 15),
    _Commune("Yverdon-les-Bains", "VD", "fr", (("1400", "Yverdon-les-Bains"),),
             ("Rue du Lac", "Avenue de Grandson", "Rue de la Plaine", "Avenue des Bains",
              "Rue des Moulins", "Chemin de Floreyres", "Rue du Four"), 12),
    _Commune("Neuchâtel", "NE", "fr", (("2000", "Neuchâtel"),),
             ("Rue des Parcs", "Avenue de la Gare", "Rue de la Côte", "Faubourg de l'Hôpital",
              "Rue des Fahys", "Rue de l'Écluse", "Chemin des Pavés"), 12),
    _Commune("Bellinzona", "TI", "it", (("6500", "Bellinzona"), ("6503", "Bellinzona")),
             ("Viale Stazione", "Via Lugano", "Via San Gottardo", "Piazza Nosetto",
              "Via Henri Guisan", "Via Dogana", "Via Vela"), 12),
    _Commune("Locarno", "TI", "it", (("6600", "Locarno"), ("6605", "Locarno")),
             ("Via della Pace", "Via Cappuccini", "Via Ciseri", "Viale Verbano", "Via Vallemaggia",
              "Via Varenna", "Via Panoramica"), 12),
)  # fmt: skip

_FIRST = {
    "de": ("Anna", "Lukas", "Laura", "Noah", "Sarah", "Luca", "Julia", "Jonas", "Lea", "David",
           "Nina", "Simon", "Sandra", "Thomas", "Ursula", "Peter", "Martina", "Reto", "Barbara", "Beat"),
    "fr": ("Camille", "Louis", "Chloé", "Gabriel", "Léa", "Mathieu", "Sophie", "Nicolas", "Élodie",
           "Julien", "Céline", "Olivier", "Nathalie", "Pierre", "Isabelle", "Yves", "Aline", "Loïc"),
    "it": ("Giulia", "Marco", "Chiara", "Luca", "Sara", "Matteo", "Francesca", "Alessandro", "Elena",
           "Davide", "Paola", "Giorgio", "Silvia", "Fabio", "Martina", "Renato", "Lucia", "Sergio"),
    "en": ("James", "Emma", "Oliver", "Charlotte", "William", "Olivia", "Daniel", "Grace", "Ryan", "Kate"),
}  # fmt: skip
_LAST = {
    "de": ("Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Schneider", "Meyer", "Steiner",
           "Fischer", "Gerber", "Brunner", "Baumann", "Frei", "Zimmermann", "Moser", "Widmer", "Wyss",
           "Graf", "Roth", "Bühler", "Lüthi"),
    "fr": ("Favre", "Rochat", "Perret", "Bonvin", "Jaquet", "Rey", "Morel", "Cuendet", "Chappuis",
           "Dubois", "Girard", "Monnier", "Droz", "Mottier", "Python", "Pittet", "Vuilleumier"),
    "it": ("Bernasconi", "Rossi", "Ferrari", "Fontana", "Bianchi", "Colombo", "Galli", "Pedrazzini",
           "Guidi", "Cattaneo", "Lombardi", "Regazzi", "Bernardi", "Bassi", "Foletti", "Pellanda"),
    "en": ("Smith", "Miller", "Wilson", "Taylor", "Brown", "Walker", "Clarke", "Hughes", "Evans"),
}  # fmt: skip
_MAIL_DOMAINS = (
    "bluewin.ch",
    "gmx.ch",
    "gmail.com",
    "hispeed.ch",
    "sunrise.ch",
    "outlook.com",
    "yahoo.com",
)
_OTHER_LANGUAGE = {"de": "fr", "fr": "de", "it": "de"}


@dataclass
class _Household:
    """One dwelling of the town and the people living there."""

    household_id: str
    commune: _Commune
    street: str
    house_number: str
    postcode: str
    locality: str
    max_down_mbps: int
    connected_at: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    marketable_from: date = date(2000, 1, 1)
    no_ads_sticker: bool = False
    kind: str = "none"  # internet | mobile | former | none
    customers: list[Row] = field(default_factory=list)


# --------------------------------------------------------------------------- small helpers


def _flag(value: bool) -> str:
    """A contract boolean."""
    return "true" if value else "false"


def _stamp(rng: random.Random, moment: datetime) -> str:
    """ISO 8601 with the local offset, or (one in four) in UTC with Z."""
    if rng.random() < 0.25:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.astimezone(ZURICH).isoformat(timespec="seconds")


def _local(day: date, minute_of_day: int) -> datetime:
    """A local Zurich time on a day."""
    return datetime.combine(day, time(minute_of_day // 60, minute_of_day % 60), ZURICH)


def _working_days(first: date, count: int) -> list[date]:
    """Monday..Friday in [first, first + count days)."""
    days = (first + timedelta(days=offset) for offset in range(count))
    return [day for day in days if day.weekday() < 5]


def _ascii(text: str) -> str:
    """Lower-case ASCII for e-mail addresses ("Müller" -> "mueller", "Élodie" -> "elodie")."""
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain if ch.isalnum())


# --------------------------------------------------------------------------- the houses


def _house_number(rng: random.Random, language: str, top: int) -> str:
    """A Swiss house number, now and then with a suffix or a range."""
    number = rng.randint(1, top)
    roll = rng.random()
    if roll < 0.08:
        return f"{number}{rng.choice('abc')}"
    if roll < 0.11:
        return f"{number} {rng.choice('AB')}"
    if roll < 0.13 and language == "fr":
        return f"{number}bis"
    if roll < 0.15 and number < 9000:
        return f"{number}-{number + 2}"
    return str(number)


def _building_size(rng: random.Random) -> int:
    """Households in one building: many houses, some apartment blocks."""
    roll = rng.random()
    if roll < 0.45:
        return 1
    if roll < 0.60:
        return 2
    if roll < 0.78:
        return rng.randint(3, 4)
    if roll < 0.92:
        return rng.randint(5, 8)
    return rng.randint(9, 14)


def _households(rng: random.Random, count: int) -> list[_Household]:
    """Buildings across the communes until there are `count` households."""
    weights = [commune.weight for commune in _COMMUNES]
    taken: set[tuple[str, str, str]] = set()
    top = min(9000, 140 + count // 20)  # enough addresses for big towns
    town: list[_Household] = []
    while len(town) < count:
        commune = rng.choices(_COMMUNES, weights)[0]
        street = rng.choice(commune.streets)
        number = _house_number(rng, commune.language, top)
        if (commune.name, street, number) in taken:
            continue
        taken.add((commune.name, street, number))
        postcode, locality = rng.choice(commune.places)
        speed = rng.choices((1000, 10000, 500), (65, 30, 5))[0]
        for _ in range(min(_building_size(rng), count - len(town))):
            household_id = f"HH-{len(town) + 1:06d}"
            town.append(_Household(household_id, commune, street, number, postcode, locality, speed))
    return town


def _connect(rng: random.Random, town: Sequence[_Household], start: date, days: int) -> None:
    """Connect each commune in a burst of a few working days within the first third of the period."""
    phase = _working_days(start, max(7, days // 3))
    for commune in _COMMUNES:
        burst_len = min(len(phase), rng.randint(2, 5))
        first = rng.randint(0, len(phase) - burst_len)
        burst = phase[first : first + burst_len]
        building_day: dict[tuple[str, str], tuple[date, int, int]] = {}
        for household in town:
            if household.commune is not commune:
                continue
            key = (household.street, household.house_number)
            if key not in building_day:
                building_day[key] = (
                    rng.choice(burst),
                    rng.randint(7 * 60 + 30, 16 * 60),
                    rng.randint(3, 21),
                )
            day, minute, delay = building_day[key]
            household.connected_at = _local(day, minute + rng.randint(0, 45))
            household.marketable_from = day + timedelta(days=delay)
            household.no_ads_sticker = rng.random() < 0.20


# --------------------------------------------------------------------------- the people


def _mobile_number(rng: random.Random) -> str:
    """A mobile number in one of the notations people use; a few foreign ones."""
    if rng.random() < 0.04:
        return rng.choice(("+49 151 ", "+49 176 ")) + f"{rng.randint(10000000, 99999999)}"
    prefix = rng.choice(("76", "77", "78", "79"))
    digits = f"{rng.randint(0, 9999999):07d}"
    groups = f"{digits[:3]} {digits[3:5]} {digits[5:]}"
    return rng.choice(
        (
            f"0{prefix} {groups}",
            f"0{prefix} {groups}",
            f"+41 {prefix} {groups}",
            f"0041{prefix}{digits}",
            f"+41{prefix}{digits}",
            f"0{prefix}/{digits[:3]}.{digits[3:5]}.{digits[5:]}",
        )
    )


def _language(rng: random.Random, commune: _Commune) -> str:
    """Mostly the commune's language, some English, a few the other national language."""
    roll = rng.random()
    if roll < 0.08:
        return "en"
    if roll < 0.14:
        return _OTHER_LANGUAGE[commune.language]
    return commune.language


def _person(rng: random.Random, commune: _Commune, customer_id: str, household_id: str) -> Row:
    """Name, language and contact data of one customer (products set by the caller)."""
    language = _language(rng, commune)
    first, last = rng.choice(_FIRST[language]), rng.choice(_LAST[language])
    email = f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 99)}@{rng.choice(_MAIL_DOMAINS)}"
    mobile = _mobile_number(rng)
    if normalise_phone(mobile) is None:  # never happens with the ranges above; keep the file valid
        mobile = ""
    return {
        "customer_id": customer_id,
        "household_id": household_id,
        "first_name": first,
        "last_name": last,
        "language": language,
        "email": email if rng.random() < 0.85 else "",
        "mobile": mobile if rng.random() < 0.80 else "",
        "phone_listing": rng.choices(("listed", "starred", "unlisted"), (45, 30, 25))[0],
        "email_consent": _flag(rng.random() < 0.75),
        "sms_consent": _flag(rng.random() < 0.65),
        "call_consent": _flag(rng.random() < 0.45),
        "do_not_call": _flag(rng.random() < 0.04),
        "do_not_mail": _flag(rng.random() < 0.03),
    }


def _products(rng: random.Random, row: Row, kind: str, max_down_mbps: int) -> Row:
    """Set has_internet, internet_down_mbps and has_mobile for a customer of the given kind."""
    internet = kind == "internet"
    mobile = kind == "mobile" or (internet and rng.random() < 0.5)
    speed = ""
    if internet:
        speed = str(rng.choices((10, 20, 50, 100, 200, 300), (5, 10, 25, 30, 20, 10))[0])
        if rng.random() < 0.06:  # already at (or above) the best speed the fibre brings
            speed = str(max(max_down_mbps, 1000))
    row.update(has_internet=_flag(internet), internet_down_mbps=speed, has_mobile=_flag(mobile))
    return row


def _people(rng: random.Random, town: Sequence[_Household]) -> list[Row]:
    """Customers: ~35% internet households, ~20% mobile-only, ~5% former, the rest none."""
    rows: list[Row] = []
    for household in town:
        household.kind = rng.choices(("internet", "mobile", "former", "none"), (35, 20, 5, 40))[0]
        if household.kind == "none":
            continue
        kinds = [household.kind]
        if household.kind != "former" and rng.random() < 0.15:
            kinds.append("mobile")  # a partner with a mobile subscription of their own
        for kind in kinds:
            customer_id = f"C-{100001 + len(rows)}"
            person = _person(rng, household.commune, customer_id, household.household_id)
            rows.append(_products(rng, person, kind, household.max_down_mbps))
            household.customers.append(rows[-1])
    return rows


# --------------------------------------------------------------------------- the feed


def _feed_row(rng: random.Random, household: _Household) -> Row:
    """The rollout system's row for a connected household."""
    return {
        "household_id": household.household_id,
        "street": household.street,
        "house_number": household.house_number,
        "postcode": household.postcode,
        "locality": household.locality,
        "commune": household.commune.name,
        "canton": household.commune.canton,
        "connected_at": _stamp(rng, household.connected_at),
        "marketable_from": household.marketable_from.isoformat(),
        "max_down_mbps": str(household.max_down_mbps),
        "no_ads_sticker": _flag(household.no_ads_sticker),
    }


def _feed(rng: random.Random, town: Sequence[_Household]) -> list[Row]:
    """Rows in the order they were reported; ~2% are re-sent a few days later."""
    timed: list[tuple[datetime, int, Row]] = []
    for household in town:
        row = _feed_row(rng, household)
        timed.append((household.connected_at, len(timed), row))
        if rng.random() < 0.02:
            resent = household.connected_at + timedelta(days=rng.randint(1, 5))
            timed.append((resent, len(timed), dict(row)))
    timed.sort(key=lambda item: (item[0], item[1]))
    return [row for _, _, row in timed]


# --------------------------------------------------------------------------- the responses


def _moment(rng: random.Random, day: date, saturday_ok: bool = True) -> datetime:
    """A plausible local time on the day (moved off Sundays, and off Saturdays if asked)."""
    while day.weekday() == 6 or (day.weekday() == 5 and not saturday_ok):
        day += timedelta(days=1)
    return _local(day, rng.randint(8 * 60, 19 * 60 + 30))


def _response(rng: random.Random, moment: datetime, household: _Household, **values: str) -> tuple[datetime, Row]:
    """A timed responses.csv row."""
    row = {"at": _stamp(rng, moment), "household_id": household.household_id, "customer_id": "",
           "type": "", "channel": "", "outcome": ""}  # fmt: skip
    row.update(values)
    return moment, row


def _reactions(rng: random.Random, household: _Household) -> list[tuple[datetime, Row]]:
    """Orders and opt-outs of a household, customer or not."""
    out: list[tuple[datetime, Row]] = []
    current = household.kind in ("internet", "mobile")
    customer_id = household.customers[0]["customer_id"] if current else ""
    start = household.marketable_from
    order_rate = {"internet": 0.12, "mobile": 0.08}.get(household.kind, 0.05)
    if rng.random() < order_rate:
        moment = _moment(rng, start + timedelta(days=rng.randint(7, 56)))
        out.append(_response(rng, moment, household, customer_id=customer_id, type="order"))
    if rng.random() < 0.04:
        channels = ("email", "sms", "print", "call", "all") if current else ("print", "all")
        channel = rng.choices(channels, (25, 15, 30, 15, 15)[: len(channels)])[0]
        moment = _moment(rng, start + timedelta(days=rng.randint(0, 40)))
        out.append(
            _response(
                rng,
                moment,
                household,
                customer_id=customer_id,
                type="opt_out",
                channel=channel,
            )
        )
    return out


_OUTCOMES = ("not_reached", "declined", "ordered", "do_not_call")


def _channel_events(rng: random.Random, household: _Household) -> list[tuple[datetime, Row]]:
    """Bounces, complaints, STOPs and call outcomes of the household's current customers."""
    out: list[tuple[datetime, Row]] = []
    if household.kind not in ("internet", "mobile"):
        return out
    start = household.marketable_from
    for person in household.customers:
        who = {"customer_id": person["customer_id"]}
        if person["email"] and rng.random() < 0.04:
            kind = "email_complaint" if rng.random() < 0.25 else "email_bounce"
            moment = _moment(rng, start + timedelta(days=rng.randint(0, 20)))
            out.append(
                _response(
                    rng,
                    moment,
                    household,
                    type=kind,
                    channel=rng.choice(("", "email")),
                    **who,
                )
            )
        if person["mobile"] and person["sms_consent"] == "true" and rng.random() < 0.04:
            moment = _moment(rng, start + timedelta(days=rng.randint(0, 20)))
            out.append(_response(rng, moment, household, type="sms_stop", **who))
        if person["mobile"] and rng.random() < 0.10:
            outcome = rng.choices(_OUTCOMES, (40, 30, 15, 15))[0]
            moment = _moment(rng, start + timedelta(days=rng.randint(14, 60)))
            out.append(_response(rng, moment, household, type="call_outcome", outcome=outcome, **who))
    return out


def _missing_kinds(events: Sequence[tuple[datetime, Row]]) -> list[dict[str, str]]:
    """Response kinds (type, channel, outcome) that the random draw did not produce."""
    wanted = [{"type": "order"}, {"type": "opt_out", "channel": "all"}, {"type": "email_bounce"},
              {"type": "email_complaint"}, {"type": "sms_stop"}]  # fmt: skip
    wanted += [{"type": "call_outcome", "outcome": outcome} for outcome in _OUTCOMES]
    return [kind for kind in wanted if not any(all(row[k] == v for k, v in kind.items()) for _, row in events)]


def _responses(rng: random.Random, town: Sequence[_Household], end: datetime) -> list[Row]:
    """All responses within the period, time-ordered, each kind at least once when the town allows."""
    events: list[tuple[datetime, Row]] = []
    for household in town:
        events += _reactions(rng, household) + _channel_events(rng, household)
    events = [event for event in events if event[0] < end]
    reachable = [h for h in town if h.kind in ("internet", "mobile") and _moment(rng, h.marketable_from) < end]
    for kind in _missing_kinds(events) if reachable else []:
        household = rng.choice(reachable)
        person = household.customers[0]
        moment = _moment(rng, household.marketable_from + timedelta(days=rng.randint(0, 6)))
        if moment < end:
            events.append(_response(rng, moment, household, customer_id=person["customer_id"], **kind))
    events.sort(key=lambda event: event[0])
    return [row for _, row in events]


# --------------------------------------------------------------------------- deliberately bad rows

_Spoil = Callable[[Row], Row]
_BAD_FEED: tuple[_Spoil, ...] = (
    lambda row: {**row, "postcode": "80A1"},
    lambda row: {
        **row,
        "connected_at": row["connected_at"][:19],
    },  # a local time, no offset
    lambda row: {**row, "canton": "ZR"},
    lambda row: {**row, "no_ads_sticker": "ja", "max_down_mbps": "schnell"},  # the sticker alone: read as one
    lambda row: {
        **row,
        "street": '=HYPERLINK("http://example.com/win","' + row["street"] + '")',
    },
    lambda row: {
        **row,
        "street": row["street"] + "\nc/o Hauswart",
    },  # a quoted multi-line field
)
# A malformed contact field or flag alone no longer rejects a customer (the field is ignored, the row kept):
# each bad customer row also lacks its household, which makes it meaningless.
def _homeless(spoil: _Spoil) -> _Spoil:
    return lambda row: {**spoil(row), "household_id": ""}


_BAD_CUSTOMERS: tuple[_Spoil, ...] = tuple(_homeless(spoil) for spoil in (
    lambda row: {**row, "email": row["email"].replace("@", "@@") or "name@@bluewin.ch"},
    lambda row: {**row, "has_mobile": "ja"},
    lambda row: {**row, "language": "rm"},
    lambda row: {**row, "mobile": "079 12"},
    lambda row: {**row, "last_name": "=cmd|' /C calc'!A0"},
    lambda row: {**row, "internet_down_mbps": "schnell", "has_internet": "true"},
))
_BAD_RESPONSES: tuple[_Spoil, ...] = (
    lambda row: {**row, "at": row["at"][:19]},
    lambda row: {**row, "type": "unsubscribe", "channel": "", "outcome": ""},
    lambda row: {**row, "type": "opt_out", "channel": "", "outcome": ""},
    lambda row: {**row, "type": "call_outcome", "channel": "", "outcome": "busy"},
)


def _with_bad_rows(
    rng: random.Random,
    good: list[Row],
    spoilers: Sequence[_Spoil],
    id_column: str,
    id_prefix: str,
) -> list[tuple[Row, bool]]:
    """Mix ~1% (at least one of each kind) spoilt copies of good rows, with fresh ids, into the rows."""
    keyed: list[tuple[float, Row, bool]] = [(float(index), row, False) for index, row in enumerate(good)]
    if not good:
        return []
    count = max(len(spoilers), round(len(good) / 100))
    for number in range(count):
        bad = spoilers[number % len(spoilers)](dict(rng.choice(good)))
        bad[id_column] = f"{id_prefix}{number + 1:05d}"
        keyed.append((rng.uniform(-0.5, len(good)), bad, True))
    if id_column == "customer_id":  # one duplicate id, after the row it copies
        index = rng.randrange(len(good))
        keyed.append((rng.uniform(index + 0.1, len(good)), dict(good[index]), True))
    keyed.sort(key=lambda item: item[0])
    return [(row, bad) for _, row, bad in keyed]


def _write(path: Path, header: list[str], rows: Sequence[tuple[Row, bool]]) -> tuple[int, ...]:
    """Write a CSV file; return the first physical line of each bad record (header = line 1)."""
    bad_lines: list[int] = []
    line = 2
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)  # RFC 4180: CRLF line ends
        writer.writerow(header)
        for row, bad in rows:
            values = [row.get(name, "") for name in header]
            writer.writerow(values)
            if bad:
                bad_lines.append(line)
            line += 1 + sum(value.count("\n") for value in values)
    return tuple(bad_lines)


# --------------------------------------------------------------------------- the town


def make_town(
    out_dir: Path,
    households: int = 300,
    days: int = 120,
    seed: int = 7,
    start: date | None = None,
) -> TownFiles:
    """Write customers.csv, rollout.csv and responses.csv of a synthetic town into out_dir.

    Deterministic for a seed (no wall clock). The period is [start, start + days) local time;
    connections fall in its first third, responses within it.
    """
    if households < 1 or days < 1:
        raise ValueError("households and days must be positive")
    rng = random.Random(seed)
    first = start or DEFAULT_START
    town = _households(rng, households)
    _connect(rng, town, first, days)
    people = _with_bad_rows(rng, _people(rng, town), _BAD_CUSTOMERS, "customer_id", "C-9")
    feed = _with_bad_rows(rng, _feed(rng, town), _BAD_FEED, "household_id", "HH-X")
    end = _local(first + timedelta(days=days), 0)
    responses = _with_bad_rows(rng, _responses(rng, town, end), _BAD_RESPONSES, "household_id", "HH-Y")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (
        out_dir / "customers.csv",
        out_dir / "rollout.csv",
        out_dir / "responses.csv",
    )
    bad_lines = {
        "customers": _write(paths[0], columns(CustomerRow), people),
        "feed": _write(paths[1], columns(FeedRow), feed),
        "responses": _write(paths[2], columns(ResponseRow), responses),
    }
    return TownFiles(*paths, households=len(town), customer_rows=len(people), feed_rows=len(feed),
                     response_rows=len(responses), bad_lines=bad_lines)  # fmt: skip
