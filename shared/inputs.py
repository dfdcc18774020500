"""The three CSV inputs of the contract (customers, rollout feed, responses): models and a streaming reader."""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Annotated, Any, ClassVar, Generic, Literal, TypeVar, get_args

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from shared.domain.phone import normalise_phone

__all__ = [
    "CANTONS",
    "FIELD_IGNORED",
    "MODELS",
    "ROW_REJECTED",
    "Canton",
    "Channel",
    "CustomerRow",
    "FeedRow",
    "InputFileError",
    "Language",
    "Outcome",
    "PhoneListing",
    "Rejected",
    "ResponseRow",
    "ResponseType",
    "column_index",
    "columns",
    "header_names",
    "open_rows",
    "read_rows",
    "required_columns",
]

Language = Literal["de", "fr", "it", "en"]
PhoneListing = Literal["listed", "starred", "unlisted"]
ResponseType = Literal["order", "opt_out", "email_bounce", "email_complaint", "sms_stop", "call_outcome"]
Channel = Literal["email", "sms", "print", "call", "all"]
Outcome = Literal["ordered", "declined", "not_reached", "do_not_call"]
Canton = Literal[
    "AG", "AI", "AR", "BE", "BL", "BS", "FR", "GE", "GL", "GR", "JU", "LU", "NE",
    "NW", "OW", "SG", "SH", "SO", "SZ", "TG", "TI", "UR", "VD", "VS", "ZG", "ZH",
]  # fmt: skip
CANTONS: frozenset[str] = frozenset(get_args(Canton))

_MAX_GOT = 60  # characters of an offending value quoted in a rejection reason
_MAX_RAW = 10_000  # characters of a record kept in a rejection record


# --------------------------------------------------------------------------- field rules


def _fail(message: str, field: str | None = None) -> PydanticCustomError:
    """A validation error whose message is used verbatim in the rejection reason.

    A rule across fields names the field it holds against (`field`), so that field alone can be ignored.
    """
    return PydanticCustomError("input_rule", "{message}", {"message": message, "field": field})


_BOOLS = {"true": True, "false": False}


def _parse_bool(value: object) -> bool:
    """Only true/false (any case)."""
    if isinstance(value, str):
        parsed = _BOOLS.get(value)
        if parsed is None:
            parsed = _BOOLS.get(value.lower())
        if parsed is not None:
            return parsed
    elif isinstance(value, bool):
        return value
    raise _fail("expected true or false")


_from_iso_time = datetime.fromisoformat


def _parse_time(value: object) -> datetime:
    """ISO 8601 with an offset or Z; naive times are refused."""
    if isinstance(value, str):  # the reader's case first: it runs for every row of a feed
        try:
            parsed = _from_iso_time(value)
        except ValueError:
            raise _fail("expected an ISO 8601 time with offset or Z") from None
        # fromisoformat gives no tzinfo or a fixed-offset timezone, whose utcoffset() is never None
        if parsed.tzinfo is None:
            raise _fail("expected an ISO 8601 time with offset or Z, not a local time")
        return parsed
    if not isinstance(value, datetime):
        raise _fail("expected an ISO 8601 time with offset or Z")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _fail("expected an ISO 8601 time with offset or Z, not a local time")
    return value


def _calendar_date(value: object) -> date | None:
    """A calendar date YYYY-MM-DD (no time of day), or None."""
    if isinstance(value, str):
        if len(value) == 10:
            try:
                return date.fromisoformat(value)
            except ValueError:
                return None
    elif isinstance(value, date) and not isinstance(value, datetime):
        return value
    return None


def _parse_date(value: object) -> date:
    """A calendar date YYYY-MM-DD (no time of day)."""
    parsed = _calendar_date(value)
    if parsed is None:
        raise _fail("expected a date YYYY-MM-DD")
    return parsed


_MARKETABLE = "expected a date YYYY-MM-DD or an ISO 8601 date-time with offset or Z"


def _parse_marketable(value: object) -> date | datetime:
    """A calendar date (from 00:00 in the campaign's time zone) or an instant (a date-time with offset or Z)."""
    day = _calendar_date(value)
    if day is not None:
        return day
    if isinstance(value, str):
        if len(value) > 10 and value[10] in "Tt ":
            try:
                parsed = _from_iso_time(value)
            except ValueError:
                pass
            else:
                if parsed.tzinfo is not None:
                    return parsed
    elif isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None:
        return value
    raise _fail(_MARKETABLE)


_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"  # C0, DEL, C1, line/paragraph separators
_CONTROL = re.compile(f"[{_CONTROLS}]")
_FORMULA_START = ("=", "+", "-", "@")


@dataclass(frozen=True)
class _Explain:
    """Field metadata: says in words why a value failed the field's (fast, Rust) pattern."""

    problem: Callable[[str], str]


def _text_pattern(max_len: int) -> str:
    """Printable text, 1..max_len characters, not starting with a space or =, +, -, @."""
    return f"^[^{_CONTROLS}=+\\-@ ][^{_CONTROLS}]{{0,{max_len - 1}}}$"


def _text_problem(max_len: int) -> _Explain:
    """Explain why a value is not acceptable text for a CSV cell ('' when it is)."""

    def problem(value: str) -> str:
        if _CONTROL.search(value):
            return "must not contain control characters (newline, tab, CR, ...)"
        if not value.strip(" "):
            return "expected a non-empty value"
        if value.startswith(" "):
            return "must not start with a space"
        if len(value) > max_len:
            return f"expected at most {max_len} characters"
        if value.startswith(_FORMULA_START):
            return "must not start with =, +, - or @"
        return ""

    return _Explain(problem)


# "12", "12a", "12 B", "12bis", "3-5", "12/1", "7.1": 1-4 digits (no leading zero), an optional
# letter suffix (one letter or bis/ter/quater, optionally after a space), an optional range or
# sub-number after "-", "/" or ".".
_HOUSE_NUMBER = (
    r"^[1-9][0-9]{0,3}(?: ?(?:[A-Za-z]|bis|ter|quater))?"
    r"(?:[-/.][1-9][0-9]{0,3}(?: ?[A-Za-z])?)?$"
)
_HOUSE_NUMBER_TEXT = _text_problem(12).problem


def _house_number_problem(value: str) -> str:
    """Explain why a value is not a house number."""
    problem = _HOUSE_NUMBER_TEXT(value)
    return problem or "expected a house number like 12, 12a, 12 B, 12bis or 3-5"


def _lower(value: object) -> object:
    """Lower-case a code before it is matched against its allowed values."""
    return value.lower() if isinstance(value, str) else value


def _empty_to_none(value: object) -> object:
    """Empty -> None."""
    return None if value == "" else value


def _optional_code(value: object) -> object:
    """Empty -> None, otherwise lower-cased."""
    if value is None or value == "":
        return None
    return _lower(value)


def _email(value: object) -> str | None:
    """Empty -> None; otherwise a syntactically valid address, normalised."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _fail("expected an e-mail address")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise _fail("expected a valid e-mail address") from None


def _mobile(value: object) -> str | None:
    """Empty -> None; otherwise a valid phone number, normalised to E.164."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _fail("expected a phone number")
    e164 = normalise_phone(value)
    if e164 is None:
        raise _fail("expected a valid phone number")
    return e164


_MAX_MBPS = 100_000


def _optional_mbps(value: object) -> int | None:
    """Empty -> None; otherwise a whole number of Mbit/s, 0..100000."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise _fail(f"expected empty or a whole number 0..{_MAX_MBPS}")
    if number > _MAX_MBPS:
        raise _fail(f"expected empty or a whole number 0..{_MAX_MBPS}")
    return number


@dataclass(frozen=True)
class _FastPath:
    """Field metadata: first a check that runs in pydantic-core alone (no Python call per value), then the
    field's own Python rule for whatever it does not accept, as one error with the rule's only message.

    `fast` must accept nothing the rule refuses and give the value the rule would give: it only saves
    the call into Python for the common spelling; the rule still decides every other one.
    """

    fast: CoreSchema
    message: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.union_schema([self.fast, handler(source)], mode="left_to_right",
                                        custom_error_type="input_rule", custom_error_message=self.message)


# true/false in every mix of case: the literal check is a hash look-up in pydantic-core, then its bool parses it
_BOOL_SPELLINGS = sorted(
    "".join(letters) for word in _BOOLS for letters in itertools.product(*((c, c.upper()) for c in word))
)
Bool = Annotated[
    bool,
    PlainValidator(_parse_bool),
    _FastPath(
        core_schema.chain_schema([core_schema.literal_schema(_BOOL_SPELLINGS), core_schema.bool_schema(strict=False)]),
        "expected true or false",
    ),
]
Time = Annotated[datetime, PlainValidator(_parse_time)]
Day = Annotated[
    date,
    PlainValidator(_parse_date),
    # YYYY-MM-DD in ASCII digits: pydantic-core's own date parser, which takes exactly the real dates among them
    _FastPath(
        core_schema.chain_schema(
            [core_schema.str_schema(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), core_schema.date_schema(strict=False)]
        ),
        "expected a date YYYY-MM-DD",
    ),
]
MarketableFrom = Annotated[
    date | datetime,
    PlainValidator(_parse_marketable),
    # the common spelling, a plain date, without a call into Python (as Day)
    _FastPath(
        core_schema.chain_schema(
            [core_schema.str_schema(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), core_schema.date_schema(strict=False)]
        ),
        _MARKETABLE,
    ),
]
Id = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$",
        description="expected an id of 1-64 letters, digits, . _ : -",
    ),
]
OptionalId = Annotated[Id | None, BeforeValidator(_empty_to_none)]
Name = Annotated[
    str,
    # empty: no name (a malformed one is read as that, so the customer stays)
    Field(pattern=f"^$|{_text_pattern(60)}", description="expected text"),
    _text_problem(60),
]
Street = Annotated[
    str,
    Field(pattern=_text_pattern(80), description="expected text"),
    _text_problem(80),
]
Place = Annotated[
    str,
    Field(pattern=_text_pattern(60), description="expected text"),
    _text_problem(60),
]
HouseNumber = Annotated[
    str,
    Field(pattern=_HOUSE_NUMBER, description="expected a house number"),
    _Explain(_house_number_problem),
]
Postcode = Annotated[str, Field(pattern=r"^[1-9][0-9]{3}$", description="expected 4 digits (1000-9999)")]

_CANTON_DESC = "expected a Swiss canton code (" + ", ".join(sorted(CANTONS)) + ")"


def _canton(value: object) -> str:
    """A canton code in any case, as its upper-case code."""
    if isinstance(value, str):
        code = value.upper()
        if code in CANTONS:
            return code
    raise _fail(_CANTON_DESC)


@dataclass(frozen=True)
class Fallback:
    """How a malformed field is read instead of rejecting its row: the value taken, and in words what that means."""

    raw: str
    meaning: str


_LEFT_EMPTY = Fallback("", "left empty")
_AS_FALSE = Fallback("false", "read as false")
_AS_TRUE = Fallback("true", "read as true")


class _Row(BaseModel):
    """Common configuration of the input rows."""

    model_config = ConfigDict(extra="ignore")

    #: columns that may be missing from the file (their values are then empty)
    optional_columns: ClassVar[frozenset[str]] = frozenset()
    #: a column whose values must be unique within the file (later duplicates are rejected)
    unique_column: ClassVar[str | None] = None
    #: fields whose malformed value is read the safe way (the row is kept, the field listed as ignored);
    #: a malformed value of any other field rejects the row
    fallbacks: ClassVar[dict[str, Fallback]] = {}


# --------------------------------------------------------------------------- the three rows


class CustomerRow(_Row):
    """One line of customers.csv (the CRM extract)."""

    unique_column: ClassVar[str | None] = "customer_id"
    # Only a row without its ids is meaningless: a bad contact field makes that channel unusable, a bad
    # flag reads the way that contacts less (no consent, an objection, no relationship claimed).
    fallbacks: ClassVar[dict[str, Fallback]] = {
        "first_name": _LEFT_EMPTY,
        "last_name": _LEFT_EMPTY,
        "language": Fallback("", "left empty (the household's region decides)"),
        "email": _LEFT_EMPTY,
        "mobile": _LEFT_EMPTY,
        "phone_listing": Fallback("unlisted", "read as unlisted"),
        "has_internet": _AS_FALSE,
        "internet_down_mbps": _LEFT_EMPTY,
        "has_mobile": _AS_FALSE,
        "email_consent": _AS_FALSE,
        "sms_consent": _AS_FALSE,
        "call_consent": _AS_FALSE,
        "do_not_call": _AS_TRUE,
        "do_not_mail": _AS_TRUE,
    }

    customer_id: Id
    household_id: Id
    first_name: Name
    last_name: Name
    language: Annotated[
        Language | None,
        BeforeValidator(_optional_code),
        Field(description="expected de, fr, it or en"),
    ]
    email: Annotated[str | None, PlainValidator(_email)] = None
    mobile: Annotated[str | None, PlainValidator(_mobile)] = None
    phone_listing: Annotated[
        PhoneListing,
        BeforeValidator(_lower),
        Field(description="expected listed, starred or unlisted"),
    ]
    has_internet: Bool
    internet_down_mbps: Annotated[int | None, PlainValidator(_optional_mbps)] = None
    has_mobile: Bool
    email_consent: Bool
    sms_consent: Bool
    call_consent: Bool
    do_not_call: Bool
    do_not_mail: Bool

    @model_validator(mode="after")
    def _speed_needs_internet(self) -> CustomerRow:
        """A download speed only makes sense with an internet product."""
        if not self.has_internet and self.internet_down_mbps is not None:
            raise _fail(
                f"internet_down_mbps: expected empty when has_internet is false, got '{self.internet_down_mbps}'",
                field="internet_down_mbps",
            )
        return self

    @property
    def is_former_customer(self) -> bool:
        """Neither internet nor mobile: no current relationship."""
        return not self.has_internet and not self.has_mobile


class FeedRow(_Row):
    """One line of rollout.csv (the rollout feed)."""

    # The address, the times and the speed are what the row is for: only the sticker has a safe reading.
    fallbacks: ClassVar[dict[str, Fallback]] = {"no_ads_sticker": _AS_TRUE}

    household_id: Id
    street: Street
    house_number: HouseNumber
    postcode: Postcode
    locality: Place
    commune: Place
    canton: Annotated[
        Canton,
        PlainValidator(_canton),
        _FastPath(core_schema.literal_schema(sorted(CANTONS)), _CANTON_DESC),
        Field(description=_CANTON_DESC),
    ]
    connected_at: Time
    marketable_from: MarketableFrom
    max_down_mbps: Annotated[
        int,
        Field(gt=0, le=_MAX_MBPS, description=f"expected a whole number 1..{_MAX_MBPS}"),
    ]
    no_ads_sticker: Bool


_IMPLIED_CHANNEL: dict[str, str] = {
    "email_bounce": "email",
    "email_complaint": "email",
    "sms_stop": "sms",
    "call_outcome": "call",
}


class ResponseRow(_Row):
    """One line of responses.csv (what people did)."""

    optional_columns: ClassVar[frozenset[str]] = frozenset({"customer_id", "channel", "outcome"})

    at: Time
    household_id: Id
    customer_id: OptionalId = None
    type: Annotated[
        ResponseType,
        BeforeValidator(_lower),
        Field(description="expected order, opt_out, email_bounce, email_complaint, sms_stop or call_outcome"),
    ]
    channel: Annotated[
        Channel | None,
        BeforeValidator(_optional_code),
        Field(description="expected email, sms, print, call or all"),
    ] = None
    outcome: Annotated[
        Outcome | None,
        BeforeValidator(_optional_code),
        Field(description="expected ordered, declined, not_reached or do_not_call"),
    ] = None

    @model_validator(mode="after")
    def _type_rules(self) -> ResponseRow:
        """channel is required for opt_out and consistent otherwise; outcome only for call_outcome."""
        got = f"got '{self.channel or ''}'"
        if self.type == "opt_out" and self.channel is None:
            raise _fail(f"channel: required for opt_out (email, sms, print, call or all), {got}")
        if self.type != "opt_out" and self.channel == "all":
            raise _fail(f"channel: 'all' only for opt_out, {got}")
        implied = _IMPLIED_CHANNEL.get(self.type)
        if implied is not None and self.channel not in (None, implied):
            raise _fail(f"channel: expected empty or {implied} for {self.type}, {got}")
        if self.type == "call_outcome" and self.outcome is None:
            raise _fail("outcome: required for call_outcome (ordered, declined, not_reached or do_not_call), got ''")
        if self.type != "call_outcome" and self.outcome is not None:
            raise _fail(f"outcome: expected empty for {self.type}, got '{self.outcome}'")
        return self


# --------------------------------------------------------------------------- file level


class InputFileError(Exception):
    """A whole input file is unusable. Line 0 means the file as such (missing, unreadable)."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message


ROW_REJECTED = "row rejected"
FIELD_IGNORED = "field ignored"


@dataclass(frozen=True)
class Rejected:
    """A rejected record or field: where it starts (header = line 1), why, its original text and what was done.

    `action` is ROW_REJECTED (the row was not taken) or FIELD_IGNORED (the row was taken, this field read the
    safe way; the reason names the field, what was expected and how it was read).
    """

    source: str
    line: int
    reason: str
    raw: str
    action: str = ROW_REJECTED

    @property
    def row_rejected(self) -> bool:
        return self.action == ROW_REJECTED


M = TypeVar("M", bound=_Row)


def columns(model: type[_Row]) -> list[str]:
    """The model's columns, in contract order."""
    return list(model.model_fields)


def required_columns(model: type[_Row]) -> list[str]:
    """The columns a file must have."""
    return [name for name in model.model_fields if name not in model.optional_columns]


def _short(value: object) -> str:
    """A value quoted in a reason, cut to a readable length."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > _MAX_GOT:
        text = text[: _MAX_GOT - 3] + "..."
    return repr(text)


def _expectation(field: FieldInfo | None, kind: str, message: str, value: object) -> str:
    """The expectation a value failed: our own message, an explanation, or the description."""
    if kind == "input_rule" or field is None:
        return message
    if isinstance(value, str):
        for meta in field.metadata:
            if isinstance(meta, _Explain):
                problem = meta.problem(value)
                if problem:
                    return problem
    return field.description or message


def _problems(model: type[_Row], error: ValidationError, data: dict[str, str]) -> list[tuple[str | None, str]]:
    """Pydantic's errors as (field, "field: expectation, got 'value'"); field None when a rule names none."""
    parts: list[tuple[str | None, str]] = []
    for item in error.errors(include_url=False):
        loc = item["loc"]
        if not loc:  # a rule across fields: the message names the field(s) itself
            parts.append(((item.get("ctx") or {}).get("field"), item["msg"]))
            continue
        name = str(loc[0])
        field = model.model_fields.get(name)
        value = data.get(name, item["input"])
        expectation = _expectation(field, item["type"], item["msg"], value)
        parts.append((name, f"{name}: {expectation}, got {_short(value)}"))
    return parts


def _reason(model: type[_Row], error: ValidationError, data: dict[str, str]) -> str:
    """Turn pydantic's errors into "field: expectation, got 'value'" parts joined by '; '."""
    return "; ".join(text for _, text in _problems(model, error, data))


def _salvage(
    model: type[M], error: ValidationError, data: dict[str, str], validate: Callable[[dict[str, str]], M]
) -> tuple[M | None, list[str]]:
    """A record that failed validation, read again with its malformed optional fields taken the safe way.

    Returns (row, one reason per field ignored), or (None, [the row's reason]) when a field without a
    safe reading is malformed. Rules across fields may fail only once the fields are read, hence the loop.
    """
    fallbacks = model.fallbacks
    first = error
    fixed = dict(data)
    notes: list[str] = []
    for _ in range(len(fallbacks) + 1):
        readings = [(name, fallbacks.get(name or ""), text) for name, text in _problems(model, error, fixed)]
        # no safe reading, or the safe reading itself failed: the row goes
        if any(fallback is None or fixed.get(name or "") == fallback.raw for name, fallback, _ in readings):
            break
        for name, fallback, text in readings:
            if name is not None and fallback is not None:
                notes.append(f"{text}; {fallback.meaning}")
                fixed[name] = fallback.raw
        try:
            return validate(fixed), notes
        except ValidationError as again:
            error = again
    return None, [_reason(model, first, data)]


MODELS: dict[str, type[_Row]] = {
    "customers": CustomerRow,
    "feed": FeedRow,
    "responses": ResponseRow,
}


def header_names(header: list[str]) -> list[str]:
    """A header row's column names as every reader of the project compares them (the ingest, `dispatch run`):
    a BOM, outer white space and case do not count."""
    names = [name.strip().lower() for name in header]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0][1:].strip()
    return names


def column_index(header: list[str], model: type[_Row], file_name: str) -> dict[str, int]:
    """Map each model field present in the header to its column.

    Raises InputFileError (line 1) for an empty header, a duplicated column of the model (which of the two
    would count is anybody's guess) or missing required columns. Other columns are ignored.
    """
    names = header_names(header)
    if not any(names):
        raise InputFileError(file_name, 1, "empty header, expected: " + ", ".join(columns(model)))
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        if name in model.model_fields:
            if name in index:
                raise InputFileError(file_name, 1, f"duplicate column {name!r}")
            index[name] = position
    missing = [name for name in required_columns(model) if name not in index]
    if missing:
        raise InputFileError(file_name, 1, "missing required column(s): " + ", ".join(missing))
    return index


def _feed(lines: Iterable[str], used: list[str]) -> Iterator[str]:
    """Yield lines to the csv reader (BOM removed, line end ensured), recording them in used."""
    source = iter(lines)
    first = next(source, None)
    if first is None:
        return
    first = first.removeprefix("\ufeff")
    record = used.append
    for line in itertools.chain((first,), source):
        if not line.endswith("\n"):
            line += "\n"
        record(line)
        yield line


def _raw(used: list[str]) -> str:
    """A record's original text from its physical lines."""
    return "".join(used).rstrip("\r\n")[:_MAX_RAW]


def read_rows(lines: Iterable[str], model: type[M], source: str, file_name: str) -> Iterator[tuple[int, M] | Rejected]:
    """Validate CSV lines record by record: (line, row) for good records, Rejected for bad ones.

    The header is read (and checked) at once, so a missing column raises InputFileError here,
    not at the first next(). Lines may carry their line ends or not; a BOM is accepted;
    blank lines are skipped. Memory stays constant except for the set of unique keys.
    """
    used: list[str] = []
    reader = csv.reader(_feed(lines, used))
    try:
        header = next(reader)
    except StopIteration:
        raise InputFileError(file_name, 1, "empty file, expected a header row") from None
    except csv.Error as exc:
        raise InputFileError(file_name, 1, f"unreadable header: {exc}") from None
    index = column_index(header, model, file_name)
    return _records(reader, used, _Target(model, source, index, len(header)))


@dataclass(frozen=True)
class _Target(Generic[M]):
    """What the record loop validates against."""

    model: type[M]
    source: str
    index: dict[str, int]
    width: int


def _fields_builder(index: dict[str, int]) -> Callable[[list[str]], dict[str, str]]:
    """The function that turns a record into its model's fields, each stripped of outer spaces.

    Compiled once per file as a single dict display (`{'household_id': fields[0].strip(' '), ...}`):
    about twice as fast per record as a comprehension, which matters at a million rows. The names
    are the model's field names (identifiers) and the positions integers, nothing from the file.
    """
    if not all(name.isidentifier() for name in index):
        raise ValueError(f"not field names: {sorted(index)}")
    entries = ", ".join(f"{name!r}: fields[{int(position)}].strip(' ')" for name, position in index.items())
    namespace: dict[str, Any] = {}
    exec(f"def fields_of(fields):\n    return {{{entries}}}\n", namespace)
    built: Callable[[list[str]], dict[str, str]] = namespace["fields_of"]
    return built


def _records(reader: Iterator[list[str]], used: list[str], target: _Target[M]) -> Iterator[tuple[int, M] | Rejected]:
    """The record loop of read_rows: field count, validation, unique column.

    While a record is handled, used holds its physical lines (for its line number and raw text).
    One flat loop, no generator in between: it runs for every row of a million-row feed.
    """
    validate = target.model.__pydantic_validator__.validate_python
    source, width = target.source, target.width
    fields_of = _fields_builder(target.index)
    unique = target.model.unique_column
    seen: dict[str, int] = {}
    done = len(used)  # the header's lines
    used.clear()
    while True:
        try:
            for fields in reader:
                line = done + 1
                done += len(used)
                if len(fields) == width:
                    data = fields_of(fields)
                    try:
                        row = validate(data)
                    except ValidationError as exc:  # the rare case: no speed needed here
                        salvaged, notes = _salvage(target.model, exc, data, validate)
                        if salvaged is None:
                            yield Rejected(source, line, notes[0], _raw(used))
                            used.clear()
                            continue
                        row = salvaged
                        if unique is None or seen.get(getattr(row, unique), line) == line:
                            for note in notes:
                                yield Rejected(source, line, note, _raw(used), FIELD_IGNORED)
                    if unique is None:
                        yield line, row
                    else:
                        key = getattr(row, unique)
                        first = seen.setdefault(key, line)
                        if first == line:
                            yield line, row
                        else:
                            yield Rejected(source, line, f"{unique}: duplicate of line {first}", _raw(used))
                elif fields:  # a blank line is no record
                    yield Rejected(source, line, f"expected {width} fields, got {len(fields)}", _raw(used))
                used.clear()
            return
        except csv.Error as exc:  # the reader goes on with the next line
            yield Rejected(source, done + 1, f"malformed CSV: {exc}", _raw(used))
            done += len(used)
            used.clear()


def _not_utf8(path: str | Path, file_name: str) -> InputFileError:
    """The error for a file that is not UTF-8, naming the first bad line (found by a slow re-read)."""
    with open(path, "rb") as handle:
        for number, chunk in enumerate(handle, start=1):
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                return InputFileError(file_name, number, f"not UTF-8 (byte {exc.start + 1} of the line)")
    return InputFileError(file_name, 0, "not UTF-8")


def _check_utf8(path: str | Path, file_name: str) -> None:
    """Decode the whole file once (in chunks, constant memory) so a bad byte stops it before any row."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as handle:
        try:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _not_utf8(path, file_name) from None


def open_rows(path: str | Path, model: type[M], source: str) -> Iterator[tuple[int, M] | Rejected]:
    """Open a CSV file and stream its records (see read_rows); the file closes when the stream ends.

    Raises InputFileError at once for a missing or unreadable file, a file that is not UTF-8
    (checked in a first quick pass, so no row of such a file is ever yielded), an empty file or a
    bad header.
    """
    file_name = str(path)
    try:
        # physical lines end at "\n" only; no newline translation (the csv module sees CRLF)
        handle = open(path, encoding="utf-8", newline="\n")  # noqa: SIM115 - closed by _closing
    except FileNotFoundError:
        raise InputFileError(file_name, 0, "file not found") from None
    except OSError as exc:
        raise InputFileError(file_name, 0, f"cannot open file: {exc.strerror}") from None
    try:
        _check_utf8(path, file_name)
        rows = read_rows(handle, model, source, file_name)
    except UnicodeDecodeError:
        handle.close()
        raise _not_utf8(path, file_name) from None
    except BaseException:
        handle.close()
        raise
    return _closing(rows, handle, path)


def _closing(
    rows: Iterator[tuple[int, M] | Rejected], handle: IO[str], path: str | Path
) -> Iterator[tuple[int, M] | Rejected]:
    """Yield from rows, closing the file afterwards; a decoding error becomes an InputFileError."""
    try:
        yield from rows
    except UnicodeDecodeError:
        raise _not_utf8(path, str(path)) from None
    finally:
        handle.close()
