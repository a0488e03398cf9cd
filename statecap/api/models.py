"""Response models of the REST API: they declare, for the OpenAPI spec, what each endpoint returns.

The shapes are those of the library functions the CLI prints with ``--json`` (the API calls the
same functions). Models accept keys they do not declare (``extra="allow"``) so that a key added
to a library result reaches API clients too; a declared key that goes missing is an error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    """Base: undeclared keys pass through; field names may be given by alias or by name."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Problem(Model):
    file: str | None = None
    record: str | None = None
    field: str | None = None
    reason: str
    line: int | None = None


class ErrorOut(Model):
    """Every 4xx answer: a message saying what was wrong, and for data errors each problem."""

    detail: str
    problems: list[Problem] = []


class Interval(Model):
    """A share or an amount as bounds: ``lo <= hi``; shares are percent (0..100)."""

    lo: float
    hi: float


class StateClass(Model):
    class_: str = Field(
        alias="class", description="none_known, state_invested, state_influenced or state_controlled"
    )
    certainty: str = Field(description="definite when the lower bounds reach the class too, else possible")
    definite_class: str


class SourceRef(Model):
    id: str
    url: str
    publisher: str
    title: str
    accessed: str | None = None


# ---- health and entities --------------------------------------------------------------------


class Health(Model):
    status: str
    statecap_version: str
    store: dict[str, str | None]
    counts: dict[str, int]


class EntityBrief(Model):
    id: str
    name: str
    name_zh: str | None = None
    kind: str
    sectors: list[str] = []
    aliases: list[str] = []
    country: str | None = None
    level: str | None = None
    region: str | None = None
    uscc: str | None = None
    lei: str | None = None
    tickers: list[str] = []
    wikidata: str | None = None
    description: str | None = None
    founded: str | None = None
    dissolved: str | None = None
    match: str | None = Field(None, description="exact, prefix or contains (search results only)")


class Identifier(Model):
    scheme: str
    value: str


class Designation(Model):
    id: str
    list_: str = Field(alias="list")
    list_name: str
    start: str
    end: str | None = None
    authority: str | None = None
    citation: str | None = None
    active: bool
    sources: list[SourceRef] = []


class EntityDetail(EntityBrief):
    identifiers: list[Identifier] = []
    sources: list[SourceRef] = []
    designations: list[Designation] = []
    is_state: bool


# ---- ownership and control ------------------------------------------------------------------


class StakeRef(Model):
    id: str
    sources: list[SourceRef] = []


class PathHop(Model):
    owner: str
    owned: str
    share: Interval
    stakes: list[StakeRef]


class OwnershipPath(Model):
    nodes: list[str] = Field(description="owner first, target last")
    share: Interval
    hops: list[PathHop]


class OwnerOut(Model):
    id: str
    name: str
    kind: str
    direct: Interval | None = None
    integrated: Interval
    paths: list[OwnershipPath]


class OwnersReport(Model):
    entity: str
    name: str
    as_of: str | None = None
    evaluated_on: str | None = None
    state_share: Interval
    state_class: StateClass
    state_paths: list[OwnershipPath]
    owners: list[OwnerOut]
    total: int = Field(description="owners in all (the list is one page of them)")
    limit: int
    offset: int


class MajorityHop(Model):
    owner: str
    owned: str
    share: Interval
    definite: bool
    stakes: list[str]


class MajorityRule(Model):
    controller: str | None = None
    controller_name: str | None = None
    controller_is_state: bool
    certainty: str
    cycle: bool
    chain: list[str]
    hops: list[MajorityHop]


class ChainHop(Model):
    owner: str
    owned: str
    share: Interval
    stakes: list[str]


class WeakestLinkChain(Model):
    nodes: list[str]
    weakest_link: Interval
    hops: list[ChainHop]


class UltimateOwner(Model):
    controller: str
    controller_name: str
    controller_is_state: bool
    control: Interval
    certainty: str
    chains: list[WeakestLinkChain]


class LaPortaRule(Model):
    threshold: float
    state_control: Interval
    state_controls: str = Field(description="yes, possible or no")
    state_chains: list[WeakestLinkChain]
    ultimate_owner: UltimateOwner | None = None


class IntegratedController(Model):
    controller: str
    controller_name: str
    controller_is_state: bool
    integrated: Interval
    certainty: str
    topmost: bool
    paths: list[OwnershipPath]


class IntegratedRule(Model):
    threshold: float
    state_share: Interval
    controllers: list[IntegratedController]


class ControlRules(Model):
    majority: MajorityRule
    laporta_20: LaPortaRule
    laporta_10: LaPortaRule
    integrated_50: IntegratedRule


class ControlReport(Model):
    entity: str
    name: str
    as_of: str | None = None
    state_share: Interval
    state_class: StateClass
    rules: ControlRules


class StateShareRow(Model):
    id: str
    name: str
    kind: str
    state_share: Interval
    state_class: StateClass


class ClosedGroup(Model):
    members: list[str]
    certainty: str


class StateShareReport(Model):
    as_of: str | None = None
    sector: str | None = None
    results: list[StateShareRow]
    closed_sccs: list[ClosedGroup]


class Party(Model):
    id: str
    name: str
    kind: str
    is_state: bool


class StakeEdge(Model):
    stake: str
    owner: Party
    owned: Party
    share: Interval
    share_kind: str
    type: str
    direct: bool
    valid_from: str | None = None
    valid_to: str | None = None
    confidence: str | None = None
    note: str | None = None
    neighbour_owners: int = Field(description="owners of the party at the far end (can it be expanded?)")
    neighbour_holdings: int
    sources: list[SourceRef]


class Neighbourhood(Model):
    entity: str
    direction: str
    as_of: str
    total: int
    limit: int
    offset: int
    edges: list[StakeEdge]


class RuleVerdict(Model):
    verdict: str | None = Field(description="designated, definite or possible; null when not caught")
    aggregate: Interval | None = None
    roots: list[str] = []
    evidence: list[dict[str, Any]] = []
    in_force: bool | None = None
    rule_status: dict[str, Any] | None = None
    test: dict[str, Any] | None = None
    skipped: str | None = None


class ScreenReport(Model):
    entity: str
    name: str
    as_of: str | None = None
    evaluated_on: str
    rules: dict[str, RuleVerdict]


# ---- flows ----------------------------------------------------------------------------------


class FlowRow(Model):
    sector: str | None = None
    sub_sector: str | None = None
    mechanism: str | None = None
    year: int | None = None
    level: str | None = None
    record_type: str | None = None
    currency: str | None = None
    amount: float
    state_attributed: Interval
    records: int


class FlowTotal(Model):
    amount: float
    state_attributed: Interval
    records: int


class FundCommitments(Model):
    committed: float
    records: list[str]


class FlowsReport(Model):
    by: list[str]
    currency: str
    as_of: str | None = None
    from_: int | None = Field(None, alias="from")
    to: int | None = None
    rows: list[FlowRow]
    total: FlowTotal
    fund_commitments: FundCommitments
    notes: dict[str, Any]


class SankeyNode(Model):
    id: str
    label: str
    column: int = Field(description="0: state organs, 1: funds and SOEs, 2: sectors")
    kind: str


class SankeyLink(Model):
    source: str
    target: str
    value: float = Field(description="midpoint of the state-attributed amount")
    lo: float
    hi: float
    records: int


class SankeyOut(Model):
    currency: str
    as_of: str | None = None
    nodes: list[SankeyNode]
    links: list[SankeyLink]
    total: Interval
    notes: dict[str, Any]


class TraceOut(Model):
    entity: str
    as_of: str | None = None
    currency: str
    outgoing: list[dict[str, Any]]
    outgoing_total: dict[str, Any]
    incoming: list[dict[str, Any]]
    fund_commitments: list[dict[str, Any]]
    notes: dict[str, Any]


class Indicator(Model):
    id: str
    name: str
    unit: str
    description: str
    years: list[int] | None = None
    values: list[dict[str, Any]]
    records: list[str]


class IndicatorsOut(Model):
    as_of: str | None = None
    currency: str
    indicators: list[Indicator]
    notes: dict[str, Any]


# ---- summary and audit ----------------------------------------------------------------------


class AuditOut(Model):
    records: int
    unsourced: int
    sourced_share: float
    records_by_type: dict[str, int]
    coverage: list[dict[str, Any]]
    records_by_sector: dict[str, int]
    records_by_mechanism: dict[str, int]
    sources_by_publisher: list[dict[str, Any]]


class SummaryOut(Model):
    counts: dict[str, int]
    unsourced_records: int
    entity_kinds: list[dict[str, Any]]
    sectors: list[dict[str, Any]]
    designation_lists: list[dict[str, Any]]
    top_publishers: list[dict[str, Any]]
    top_state_shares: list[StateShareRow]
    store: dict[str, str | None]


class Scenario(Model):
    name: str
    description: str
    extends: str | None = None
