"""The domain model as typed records (pydantic v2).

Each record type maps to one folder of the dataset and one table of the store. Field parsing
(dates, shares, amounts) lives in `values`; cross-record checks (dangling ids, stakes over 100%)
live in `statecap.dataset.validate`, because they need the whole dataset.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from statecap.model.values import Interval, parse_amount, parse_date, parse_share

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._:/-]*$")
CURRENCIES = ("CNY", "USD", "EUR", "HKD", "GBP", "JPY", "KRW", "TWD", "CHF", "SGD")


def _check_id(value: str) -> str:
    if not ID_RE.match(value):
        raise ValueError(f"id {value!r} must be lowercase letters, digits and . _ : / - (e.g. cn-smic)")
    if len(value) > 200:
        raise ValueError("id is longer than 200 characters")
    return value


def _text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        value = value.strip()
        if "\x00" in value:
            raise ValueError("text contains a NUL character")
        return value or None
    return value


def _year(value: Any) -> Any:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


Id = Annotated[str, AfterValidator(_check_id)]
Text = Annotated[str, BeforeValidator(_text)]
OptText = Annotated[str | None, BeforeValidator(_text)]
Date = Annotated[dt.date | None, BeforeValidator(parse_date)]
Amount = Annotated[float | None, BeforeValidator(parse_amount)]
SignedAmount = Annotated[float | None, BeforeValidator(lambda v: parse_amount(v, signed=True))]
Share = Annotated[Interval, BeforeValidator(parse_share)]
Year = Annotated[int, BeforeValidator(_year), Field(ge=1900, le=2100)]
Currency = Literal["CNY", "USD", "EUR", "HKD", "GBP", "JPY", "KRW", "TWD", "CHF", "SGD"]
Confidence = Literal["high", "medium", "low"]
Refs = list[tuple[str, str]]
DatePairs = list[tuple[str, dt.date | None, str, dt.date | None]]


class Record(BaseModel):
    """Fields every record has. `folder` and `table` tie the type to the dataset and the store."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    folder: ClassVar[str] = ""
    id: Id | None = None
    sources: list[Id] = Field(default_factory=list)
    confidence: Confidence = "medium"
    note: OptText = None

    def derived_id(self) -> str:
        """The id used when a record has none: built from its key fields."""
        raise NotImplementedError

    @property
    def key(self) -> str:
        return self.id if self.id is not None else self.derived_id()

    def entity_refs(self) -> Refs:
        """(field, entity id) pairs this record points at, for the dangling-reference check."""
        return []

    def date_pairs(self) -> DatePairs:
        """(start field, start, end field, end) pairs that must be in order."""
        return []


def _d(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else "open"


class Source(Record):
    folder: ClassVar[str] = "sources"
    id: Id
    url: Text
    publisher: Text
    title: Text
    accessed: Date
    published: Date = None
    kind: (
        Literal[
            "filing",
            "regulator",
            "registry",
            "government",
            "news",
            "trade_press",
            "academic",
            "company",
            "database",
            "reference",
            "import",
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _url(self) -> Source:
        if not re.match(r"^(https?|file|urn):", self.url):
            raise ValueError(f"url {self.url!r} must start with http://, https://, file: or urn:")
        if self.accessed is None:
            raise ValueError("accessed date is required")
        return self


class Identifiers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    uscc: OptText = None
    lei: OptText = None
    tickers: list[Text] = Field(default_factory=list)
    wikidata: OptText = None

    @model_validator(mode="after")
    def _shapes(self) -> Identifiers:
        if self.uscc is not None and not re.match(r"^[0-9A-Z]{18}$", self.uscc):
            raise ValueError(f"uscc {self.uscc!r} must be 18 digits or capital letters")
        if self.lei is not None and not re.match(r"^[0-9A-Z]{20}$", self.lei):
            raise ValueError(f"lei {self.lei!r} must be 20 digits or capital letters")
        if self.wikidata is not None and not re.match(r"^Q[0-9]+$", self.wikidata):
            raise ValueError(f"wikidata {self.wikidata!r} must look like Q12345")
        return self


class Entity(Record):
    folder: ClassVar[str] = "entities"
    id: Id
    name: Text
    name_zh: OptText = None
    aliases: list[Text] = Field(default_factory=list)
    kind: Text
    country: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "zz"
    level: Literal["central", "provincial", "municipal", "district"] | None = None
    region: OptText = None
    identifiers: Identifiers = Field(default_factory=Identifiers)
    sectors: list[Text] = Field(default_factory=list)
    description: OptText = None
    founded: Date = None
    dissolved: Date = None

    def date_pairs(self) -> DatePairs:
        return [("founded", self.founded, "dissolved", self.dissolved)]

    @model_validator(mode="before")
    @classmethod
    def _country_from_id(cls, data: Any) -> Any:
        """No country given: take it from an id like ``cn-smic``, else ``zz`` (unknown)."""
        if isinstance(data, dict) and data.get("country") is None:
            m = re.match(r"^([a-z]{2})-", str(data.get("id", "")))
            data = {**data, "country": m.group(1) if m else "zz"}
        return data


class Stake(Record):
    folder: ClassVar[str] = "stakes"
    owner: Id
    owned: Id
    share: Share = Field(default_factory=Interval.unknown)
    type: Literal["equity", "voting"] = "equity"
    direct: bool = True
    valid_from: Date = None
    valid_to: Date = None

    def derived_id(self) -> str:
        return f"stake:{self.owner}:{self.owned}:{self.type}:{_d(self.valid_from)}"

    def entity_refs(self) -> Refs:
        return [("owner", self.owner), ("owned", self.owned)]

    def date_pairs(self) -> DatePairs:
        return [("valid_from", self.valid_from, "valid_to", self.valid_to)]

    @model_validator(mode="after")
    def _not_self(self) -> Stake:
        if self.owner == self.owned:
            raise ValueError(f"an entity cannot hold a stake in itself ({self.owner})")
        return self


class Investment(Record):
    folder: ClassVar[str] = "investments"
    investor: Id
    investee: Id | None = None
    sector: OptText = None
    mechanism: Text
    amount: Amount = None
    currency: Currency | None = None
    date: Date = None
    kind: Literal["equity", "commitment", "grant", "loan", "capital_injection"] = "equity"

    def derived_id(self) -> str:
        return f"inv:{self.investor}:{self.investee or self.sector}:{_d(self.date)}"

    def entity_refs(self) -> Refs:
        refs = [("investor", self.investor)]
        if self.investee is not None:
            refs.append(("investee", self.investee))
        return refs

    @model_validator(mode="after")
    def _target(self) -> Investment:
        if self.investee is None and self.sector is None:
            raise ValueError("an investment needs an investee or a sector")
        if self.amount is not None and self.currency is None:
            raise ValueError("an amount needs a currency")
        if self.date is None:
            raise ValueError("an investment needs a date")
        return self


class Acquisition(Record):
    folder: ClassVar[str] = "acquisitions"
    acquirer: Id
    target: Id
    announced: Date = None
    closed: Date = None
    status: Literal["completed", "blocked", "abandoned", "pending", "divested"]
    value: Amount = None
    currency: Currency | None = None
    stake_acquired: Annotated[float | None, Field(ge=0, le=100)] = None
    blocking_authority: Id | None = None
    sector: OptText = None

    def derived_id(self) -> str:
        return f"acq:{self.acquirer}:{self.target}:{_d(self.announced)}"

    def entity_refs(self) -> Refs:
        refs = [("acquirer", self.acquirer), ("target", self.target)]
        if self.blocking_authority is not None:
            refs.append(("blocking_authority", self.blocking_authority))
        return refs

    def date_pairs(self) -> DatePairs:
        return [("announced", self.announced, "closed", self.closed)]

    @model_validator(mode="after")
    def _check(self) -> Acquisition:
        if self.value is not None and self.currency is None:
            raise ValueError("a value needs a currency")
        if self.announced is None and self.closed is None:
            raise ValueError("an acquisition needs an announced or closed date")
        return self


class Partner(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Id
    share: Share = Field(default_factory=Interval.unknown)


class JointVenture(Record):
    folder: ClassVar[str] = "joint_ventures"
    id: Id
    entity: Id | None = None
    name: Text
    partners: list[Partner]
    sector: OptText = None
    valid_from: Date = None
    valid_to: Date = None
    amount: Amount = None
    currency: Currency | None = None

    def entity_refs(self) -> Refs:
        refs = [(f"partners[{i}].id", p.id) for i, p in enumerate(self.partners)]
        if self.entity is not None:
            refs.append(("entity", self.entity))
        return refs

    def date_pairs(self) -> DatePairs:
        return [("valid_from", self.valid_from, "valid_to", self.valid_to)]

    @model_validator(mode="after")
    def _check(self) -> JointVenture:
        if len(self.partners) < 2:
            raise ValueError("a joint venture needs at least two partners")
        ids = [p.id for p in self.partners]
        if len(set(ids)) != len(ids):
            raise ValueError("a partner is listed twice")
        if sum(p.share.lo for p in self.partners) > 100.5:
            raise ValueError("partners' shares add up to more than 100%")
        if self.amount is not None and self.currency is None:
            raise ValueError("an amount needs a currency")
        return self


class Spending(Record):
    folder: ClassVar[str] = "spending"
    entity: Id
    year: Year
    category: Text
    amount: Amount
    currency: Currency
    sector: OptText = None

    def derived_id(self) -> str:
        return f"spend:{self.entity}:{self.category}:{self.year}"

    def entity_refs(self) -> Refs:
        return [("entity", self.entity)]

    @model_validator(mode="after")
    def _check(self) -> Spending:
        if self.amount is None:
            raise ValueError("spending needs an amount")
        return self


class Partnership(Record):
    folder: ClassVar[str] = "partnerships"
    kind: Text
    name: Text
    parties: list[Id]
    sector: OptText = None
    valid_from: Date = None
    valid_to: Date = None
    amount: Amount = None
    currency: Currency | None = None

    def derived_id(self) -> str:
        return f"pt:{self.kind}:{'+'.join(self.parties)}:{_d(self.valid_from)}"

    def entity_refs(self) -> Refs:
        return [(f"parties[{i}]", p) for i, p in enumerate(self.parties)]

    def date_pairs(self) -> DatePairs:
        return [("valid_from", self.valid_from, "valid_to", self.valid_to)]

    @model_validator(mode="after")
    def _check(self) -> Partnership:
        if len(self.parties) < 1:
            raise ValueError("a partnership needs at least one party")
        if len(set(self.parties)) != len(self.parties):
            raise ValueError("a party is listed twice")
        if self.amount is not None and self.currency is None:
            raise ValueError("an amount needs a currency")
        return self


class Designation(Record):
    folder: ClassVar[str] = "designations"
    entity: Id
    list: Text
    start: Date
    end: Date = None
    authority: Id | None = None
    citation: OptText = None
    licence_requirement: OptText = None

    def derived_id(self) -> str:
        return f"des:{self.list}:{self.entity}:{_d(self.start)}"

    def entity_refs(self) -> Refs:
        refs = [("entity", self.entity)]
        if self.authority is not None:
            refs.append(("authority", self.authority))
        return refs

    def date_pairs(self) -> DatePairs:
        return [("start", self.start, "end", self.end)]

    @model_validator(mode="after")
    def _check(self) -> Designation:
        if self.start is None:
            raise ValueError("a designation needs a start date")
        return self


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    start: Date = Field(alias="from")
    end: Date = Field(alias="to")

    @model_validator(mode="after")
    def _check(self) -> Window:
        if self.start is None or self.end is None:
            raise ValueError("a suspension window needs from and to dates")
        if self.end <= self.start:
            raise ValueError("a suspension window ends before it starts")
        return self


class PolicyEvent(Record):
    folder: ClassVar[str] = "policy_events"
    id: Id
    date: Date
    announced: Date = None
    end: Date = None
    suspensions: list[Window] = Field(default_factory=list)
    authority: Id | None = None
    country: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "us"
    kind: Text
    title: Text
    citation: OptText = None
    sectors: list[Text] = Field(default_factory=list)
    rule: Literal["ofac50", "bis-affiliates", "outbound", "owned-or-controlled"] | None = None

    def entity_refs(self) -> Refs:
        return [("authority", self.authority)] if self.authority is not None else []

    def date_pairs(self) -> DatePairs:
        return [("date", self.date, "end", self.end)]

    @model_validator(mode="after")
    def _check(self) -> PolicyEvent:
        if self.date is None:
            raise ValueError("a policy event needs a date")
        return self


class Financial(Record):
    folder: ClassVar[str] = "financials"
    entity: Id
    year: Year
    currency: Currency
    revenue: Amount = None
    net_profit: SignedAmount = None
    total_assets: Amount = None
    total_liabilities: Amount = None
    equity: SignedAmount = None
    rd_expense: Amount = None

    def derived_id(self) -> str:
        return f"fin:{self.entity}:{self.year}"

    def entity_refs(self) -> Refs:
        return [("entity", self.entity)]

    @model_validator(mode="after")
    def _check(self) -> Financial:
        figures = (
            self.revenue,
            self.net_profit,
            self.total_assets,
            self.total_liabilities,
            self.equity,
            self.rd_expense,
        )
        if all(f is None for f in figures):
            raise ValueError("a financial record needs at least one figure")
        return self


class Observation(Record):
    folder: ClassVar[str] = "observations"
    series: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    year: Year
    value: float
    unit: Text
    sector: OptText = None
    entity: Id | None = None

    def derived_id(self) -> str:
        return f"obs:{self.series}:{self.entity or self.sector or 'all'}:{self.year}"

    def entity_refs(self) -> Refs:
        return [("entity", self.entity)] if self.entity is not None else []


RECORD_TYPES: dict[str, type[Record]] = {
    cls.folder: cls
    for cls in (
        Source,
        Entity,
        Stake,
        Investment,
        Acquisition,
        JointVenture,
        Spending,
        Partnership,
        Designation,
        PolicyEvent,
        Financial,
        Observation,
    )
}
