"""Screening rules as kernels: the OFAC 50 Percent Rule, the BIS Affiliates rule, the US
outbound-investment rules (31 CFR 850) and the EU/UK owned-or-controlled test.

Every rule here is a *cascade*: some entities are roots (listed parties, or persons of a country
of concern); an entity is caught when the stakes held in it by roots and by entities already
caught pass a threshold; caught entities then count in full (their stakes are not multiplied
by their own owners' shares). This is OFAC's reading of "indirectly" (FAQ 401): a blocked
entity's holding counts at its full percentage, and a holding through an entity that is not
blocked does not count at all. The cascade is iterated to its least fixed point with a work
list, so each stake is visited once per bound and cross-holding cycles cannot loop.

Shares are intervals. Two passes give a three-way verdict:

* **lower pass** (``definite``): only definitely designated roots, every stake at its lower
  bound. By monotonicity this is the scenario with the fewest caught entities, so an entity
  caught here is caught whatever the true values are.
* **upper pass** (``possible``): possibly designated roots too, and every stake as high as the
  data allow: a caught owner's stake up to its upper bound, but never more than what the other
  owners leave (an entity's owners hold at most 100% together, so other owners' lower bounds
  limit it). One choice of values (owners filled in the order they were caught) realises all
  upper-pass catches at once, so an entity caught here is caught in some scenario.

An entity caught by the upper pass only is ``possible``: the true values could fall on either
side of the threshold. Exact stakes and definite roots give no ``possible`` verdict.

Conventions: entities are 0..n-1; matrices are out-CSR (``ptr``, ``idx``, ``lo``, ``hi``):
the holdings of owner ``i`` are ``idx[ptr[i]:ptr[i+1]]`` with fractions 0..1, one entry per
(owner, owned) pair. Kernels are pure: no I/O, no globals changed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numba as nb
import numpy as np

from statecap.errors import UsageError
from statecap.graph.model import OwnershipGraph

TOL = 1e-9  # fractions: two stakes summing to 0.5 within float error reach "50 percent"

RULES = ("ofac50", "bis-affiliates", "outbound", "owned-or-controlled")
VERDICTS = ("designated", "definite", "possible")


@dataclass(frozen=True)
class Test:
    """One ownership test of a rule.

    Attributes:
        threshold: the fraction to reach (0.5).
        inclusive: ``>= threshold`` ("50 percent or more": OFAC, BIS, 31 CFR 850) when true,
            ``> threshold`` ("more than 50%": UK, EU before July 2024) when false.
        aggregate: add up the stakes of every caught owner (true), or require one caught
            owner to pass alone (false; control through a majority of votes).
    """

    threshold: float = 0.5
    inclusive: bool = True
    aggregate: bool = True

    def describe(self) -> str:
        op = ">=" if self.inclusive else ">"
        how = "in aggregate" if self.aggregate else "by a single holder"
        return f"{op} {self.threshold * 100:g}% {how}"


@dataclass(frozen=True)
class RuleSpec:
    """How a rule cascades: an ownership test, and optionally a second test on votes (control)."""

    rule: str
    ownership: Test
    votes: Test | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


SPECS: dict[str, RuleSpec] = {
    "ofac50": RuleSpec(
        "ofac50",
        Test(0.5, inclusive=True, aggregate=True),
        None,
        ("ownership only, not control (OFAC FAQ 398)",),
    ),
    "bis-affiliates": RuleSpec(
        "bis-affiliates",
        Test(0.5, inclusive=True, aggregate=True),
        None,
        ("ownership only; designed to be consistent with OFAC's 50 percent rule (90 FR 47201)",),
    ),
    "owned-or-controlled": RuleSpec(
        "owned-or-controlled",
        Test(0.5, inclusive=False, aggregate=True),
        Test(0.5, inclusive=False, aggregate=False),
        (
            "owned: more than 50% of the equity, designated owners added up (EU Commission FAQ reading)",
            "controlled: one designated or caught holder with more than 50% of the votes",
        ),
    ),
    "outbound": RuleSpec(
        "outbound",
        Test(0.5, inclusive=True, aggregate=True),
        Test(0.5, inclusive=True, aggregate=True),
        (
            "person of a country of concern: at least 50% of the equity or of the votes held, individually "
            "or in aggregate, directly or indirectly, by persons of a country of concern (31 CFR 850.221)",
        ),
    ),
}


def spec(rule: str) -> RuleSpec:
    """The RuleSpec of `rule`; UsageError naming the rules when unknown."""
    if rule not in SPECS:
        raise UsageError(f"unknown rule {rule!r}: use one of {', '.join(RULES)}")
    return SPECS[rule]


# ---- matrices -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StakeMatrix:
    """Out-CSR of stakes (owner rows), one entry per (owner, owned) pair, fractions 0..1.

    ``total_lo[j]`` is the sum of the lower bounds of every stake held in j (by anyone), which
    limits how much of j any subset of owners can hold.
    """

    n: int
    ptr: np.ndarray
    idx: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    total_lo: np.ndarray

    @property
    def n_pairs(self) -> int:
        return int(len(self.idx))


def stake_matrix(n: int, owner: np.ndarray, owned: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> StakeMatrix:
    """Build a StakeMatrix from per-stake arrays (fractions); stakes of one pair add up, capped at 1.

    Self holdings and stakes with an upper bound of 0 carry nothing and are left out.
    """
    o = np.asarray(owner, dtype=np.int64)
    d = np.asarray(owned, dtype=np.int64)
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    keep = (o != d) & (hi > 0)
    if not keep.all():
        o, d, lo, hi = o[keep], d[keep], lo[keep], hi[keep]
    if len(o) and (o.min() < 0 or d.min() < 0 or o.max() >= n or d.max() >= n):
        raise UsageError("stakes: owner or owned index outside the entity table")
    order = np.lexsort((d, o))
    o, d, lo, hi = o[order], d[order], lo[order], hi[order]
    if len(o):
        first = np.flatnonzero(np.r_[True, (o[1:] != o[:-1]) | (d[1:] != d[:-1])])
        lo = np.minimum(np.add.reduceat(lo, first), 1.0)
        hi = np.minimum(np.add.reduceat(hi, first), 1.0)
        o, d = o[first], d[first]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(ptr, o + 1, 1)
    np.cumsum(ptr, out=ptr)
    total_lo = np.bincount(d, weights=lo, minlength=n).astype(np.float64)
    return StakeMatrix(n, ptr, d.astype(np.int64), lo, hi, total_lo)


def graph_matrix(graph: OwnershipGraph, indirect_as_possible: bool = True) -> StakeMatrix:
    """The rule matrix of an ownership graph.

    A stake recorded as indirect (``direct = false``: an aggregate holding through intermediaries
    the source does not name) counts as [0, 100%] when `indirect_as_possible`: the rules count a
    holding through an intermediary only when the intermediary is itself caught, and then in
    full, which a reported (multiplied) aggregate neither proves nor bounds.
    """
    if graph.edge_direct.all() or not indirect_as_possible:
        fast = _from_graph_csr(graph)
        if fast is not None:
            return fast
    lo = graph.edge_lo.astype(np.float64)
    hi = graph.edge_hi.astype(np.float64)
    if indirect_as_possible and not graph.edge_direct.all():
        ind = ~graph.edge_direct
        lo = np.where(ind, 0.0, lo)
        hi = np.where(ind, 1.0, hi)
    return stake_matrix(graph.n, graph.edge_owner, graph.edge_owned, lo, hi)


def _from_graph_csr(graph: OwnershipGraph) -> StakeMatrix | None:
    """The graph's own W_lo/W_hi (pairs already summed and capped) when they share one structure."""
    lo_m, hi_m = graph.W_lo, graph.W_hi
    if not (np.array_equal(lo_m.indptr, hi_m.indptr) and np.array_equal(lo_m.indices, hi_m.indices)):
        return None
    n = graph.n
    idx = lo_m.indices.astype(np.int64)
    lo = lo_m.data.astype(np.float64)
    hi = hi_m.data.astype(np.float64)
    return StakeMatrix(
        n,
        lo_m.indptr.astype(np.int64),
        idx,
        lo,
        hi,
        np.bincount(idx, weights=lo, minlength=n).astype(np.float64),
    )


def votes_matrix(ownership: StakeMatrix, votes: StakeMatrix | None) -> StakeMatrix:
    """Votes per (holder, held) pair: the recorded voting stake where there is one, else the equity stake."""
    if votes is None or votes.n_pairs == 0:
        return ownership
    n = ownership.n
    o_eq = np.repeat(np.arange(n, dtype=np.int64), np.diff(ownership.ptr))
    o_v = np.repeat(np.arange(n, dtype=np.int64), np.diff(votes.ptr))
    key_eq = o_eq * n + ownership.idx
    key_v = o_v * n + votes.idx
    keep = ~np.isin(key_eq, key_v)
    return stake_matrix(
        n,
        np.concatenate([o_eq[keep], o_v]),
        np.concatenate([ownership.idx[keep], votes.idx]),
        np.concatenate([ownership.lo[keep], votes.lo]),
        np.concatenate([ownership.hi[keep], votes.hi]),
    )


# ---- the cascade ------------------------------------------------------------------------------


@nb.njit(cache=True)
def _passes(value, thr, inclusive):
    if inclusive:
        return value >= thr - 1e-9
    return value > thr + 1e-9


@nb.njit(cache=True)
def _test_value(upper, agg, s, s_lo, m, tot):
    """The test's value for one entity from its accumulators (see `_cascade_pass`)."""
    if not agg:
        return min(m, 1.0)
    if upper:
        v = min(s, 1.0 - (tot - s_lo))
        if v < s_lo:
            v = s_lo
        return min(v, 1.0)
    return min(s, 1.0)


@nb.njit(cache=True)
def _cascade_pass(
    upper,
    roots,
    a_ptr, a_idx, a_lo, a_hi, a_tot, a_thr, a_incl, a_agg,
    has_b,
    b_ptr, b_idx, b_lo, b_hi, b_tot, b_thr, b_incl, b_agg,
    caught, seen, touched, queue,
    s_a, s_alo, m_a, s_b, s_blo, m_b, agg_a, agg_b,
):  # fmt: skip
    """One pass (lower or upper) of the cascade from `roots`; fills `caught`, `agg_a`, `agg_b`.

    Work arrays come in zeroed from the caller (numpy's calloc: pages a pass never touches are
    never written, which matters at 10M entities); only the entities the pass reaches are
    visited, and `agg_*` are written for those only (zero elsewhere). Returns how many entities
    were reached. agg_* is the test's value given the final caught set: the aggregate of caught
    owners' stakes (aggregate tests) or the largest single caught holding (single tests).
    """
    n = len(roots)
    head = 0
    tail = 0
    n_touched = 0
    for v in range(n):
        if roots[v]:
            caught[v] = True
            queue[tail] = v
            tail += 1
    while head < tail:
        u = queue[head]
        head += 1
        for e in range(a_ptr[u], a_ptr[u + 1]):
            j = a_idx[e]
            lo = a_lo[e]
            hi = a_hi[e]
            if not seen[j]:
                seen[j] = True
                touched[n_touched] = j
                n_touched += 1
            if upper:
                s_a[j] += hi
                s_alo[j] += lo
                cap = min(hi, 1.0 - (a_tot[j] - lo))
                if cap < lo:
                    cap = lo
                if cap > m_a[j]:
                    m_a[j] = cap
            else:
                s_a[j] += lo
                if lo > m_a[j]:
                    m_a[j] = lo
            if caught[j]:
                continue
            if _passes(_test_value(upper, a_agg, s_a[j], s_alo[j], m_a[j], a_tot[j]), a_thr, a_incl):
                caught[j] = True
                queue[tail] = j
                tail += 1
        if not has_b:
            continue
        for e in range(b_ptr[u], b_ptr[u + 1]):
            j = b_idx[e]
            lo = b_lo[e]
            hi = b_hi[e]
            if not seen[j]:
                seen[j] = True
                touched[n_touched] = j
                n_touched += 1
            if upper:
                s_b[j] += hi
                s_blo[j] += lo
                cap = min(hi, 1.0 - (b_tot[j] - lo))
                if cap < lo:
                    cap = lo
                if cap > m_b[j]:
                    m_b[j] = cap
            else:
                s_b[j] += lo
                if lo > m_b[j]:
                    m_b[j] = lo
            if caught[j]:
                continue
            if _passes(_test_value(upper, b_agg, s_b[j], s_blo[j], m_b[j], b_tot[j]), b_thr, b_incl):
                caught[j] = True
                queue[tail] = j
                tail += 1
    for k in range(n_touched):
        j = touched[k]
        agg_a[j] = _test_value(upper, a_agg, s_a[j], s_alo[j], m_a[j], a_tot[j])
        if has_b:
            agg_b[j] = _test_value(upper, b_agg, s_b[j], s_blo[j], m_b[j], b_tot[j])
    return n_touched


def _run_pass(
    upper: bool, roots: np.ndarray, a: StakeMatrix, t_a: Test, b: StakeMatrix, t_b: Test, has_b: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Allocate a pass's work arrays (zeroed lazily by the OS) and run it: (caught, agg_a, agg_b)."""
    n = a.n
    nb_ = n if has_b else 0
    caught = np.zeros(n, dtype=np.bool_)
    agg_a = np.zeros(n)
    agg_b = np.zeros(nb_)
    _cascade_pass(
        upper, roots,
        a.ptr, a.idx, a.lo, a.hi, a.total_lo, float(t_a.threshold), bool(t_a.inclusive), bool(t_a.aggregate),
        has_b,
        b.ptr, b.idx, b.lo, b.hi, b.total_lo, float(t_b.threshold), bool(t_b.inclusive), bool(t_b.aggregate),
        caught, np.zeros(n, dtype=np.bool_), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64),
        np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(nb_), np.zeros(nb_), np.zeros(nb_), agg_a, agg_b,
    )  # fmt: skip
    return caught, agg_a, agg_b


@dataclass
class CascadeResult:
    """Verdicts of one rule over every entity (arrays over the graph's indices).

    Attributes:
        designated: roots for sure (listed and active).
        root_possible: roots that may be listed (e.g. an SDN whose programme is not recorded).
        definite: caught in every scenario (roots included).
        possible: caught in some scenario (a superset of ``definite``).
        agg_lo, agg_hi: the ownership test's aggregate, fractions: caught owners' stakes added up
            at their lower bounds over the definitely caught owners, and at most this much over
            the possibly caught owners.
        votes_lo, votes_hi: the same for the votes test (None when the rule has none).
    """

    spec: RuleSpec
    designated: np.ndarray
    root_possible: np.ndarray
    definite: np.ndarray
    possible: np.ndarray
    agg_lo: np.ndarray
    agg_hi: np.ndarray
    votes_lo: np.ndarray | None
    votes_hi: np.ndarray | None

    def verdict_codes(self) -> np.ndarray:
        """Per entity: 0 not caught, 1 possible, 2 definite, 3 designated (strongest first wins)."""
        out = np.zeros(len(self.definite), dtype=np.int8)
        out[self.possible] = 1
        out[self.definite] = 2
        out[self.designated] = 3
        return out

    def verdict(self, i: int) -> str | None:
        if self.designated[i]:
            return "designated"
        if self.definite[i]:
            return "definite"
        if self.possible[i]:
            return "possible"
        return None

    @property
    def caught(self) -> np.ndarray:
        """Entities with any verdict (designated, definite or possible)."""
        return self.possible | self.designated


def _empty_matrix(n: int) -> StakeMatrix:
    return StakeMatrix(
        n, np.zeros(n + 1, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(n)
    )


def cascade(
    rule_spec: RuleSpec,
    ownership: StakeMatrix,
    roots: np.ndarray,
    roots_possible: np.ndarray | None = None,
    votes: StakeMatrix | None = None,
) -> CascadeResult:
    """Run a rule's cascade from its roots: the three-way verdict of every entity.

    Args:
        rule_spec: the rule's tests (see ``SPECS``).
        ownership: equity stakes (``graph_matrix``).
        roots: bool mask of definite roots (designated parties, persons of a country of concern).
        roots_possible: bool mask of roots that may or may not be roots.
        votes: votes per pair (``votes_matrix``); used only when the rule has a votes test.

    Returns:
        A CascadeResult. ``definite`` and ``possible`` include the roots themselves.
    """
    n = ownership.n
    roots = np.asarray(roots, dtype=bool)
    if len(roots) != n:
        raise UsageError(f"roots: {len(roots)} values for {n} entities")
    rpos = np.zeros(n, dtype=bool) if roots_possible is None else np.asarray(roots_possible, dtype=bool)
    rpos = rpos & ~roots
    a = ownership
    t_a = rule_spec.ownership
    has_b = rule_spec.votes is not None
    b = votes if (has_b and votes is not None) else (a if has_b else _empty_matrix(n))
    t_b = rule_spec.votes if rule_spec.votes is not None else Test()
    def_mask, agg_lo, vlo = _run_pass(False, roots, a, t_a, b, t_b, has_b)
    pos_mask, agg_hi, vhi = _run_pass(True, roots | rpos, a, t_a, b, t_b, has_b)
    # the upper pass reaches every entity the lower pass reaches, with values at least as high
    return CascadeResult(
        spec=rule_spec,
        designated=roots,
        root_possible=rpos,
        definite=def_mask,
        possible=pos_mask | def_mask,
        agg_lo=agg_lo,
        agg_hi=agg_hi,
        votes_lo=vlo if has_b else None,
        votes_hi=vhi if has_b else None,
    )


# ---- explanations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CaughtStake:
    """One stake in the chain that explains a verdict: `owner` (caught) holds [lo, hi] of `owned`."""

    owner: int
    owned: int
    lo: float
    hi: float
    test: str  # "ownership" or "votes"


def explain_cascade(
    result: CascadeResult,
    ownership: InStakes,
    target: int,
    votes: InStakes | None = None,
    max_stakes: int = 200,
) -> tuple[list[CaughtStake], list[int]]:
    """The stakes that carry a verdict from the roots to `target`, and the roots reached.

    Walks upward from `target` through owners that are caught (possibly caught, for a possible
    verdict), breadth first, each entity once, stopping at roots; at most `max_stakes` stakes.
    """
    in_a = ownership.of
    use_votes = result.spec.votes is not None and votes is not None and votes is not ownership
    in_b = votes.of if (use_votes and votes is not None) else None
    caught = result.possible if not result.definite[target] else result.definite
    stakes: list[CaughtStake] = []
    pairs: set[tuple[int, int, float, float]] = set()
    roots: list[int] = []
    seen = {int(target)}
    queue: deque[int] = deque([int(target)])
    is_root = result.designated | result.root_possible
    while queue and len(stakes) < max_stakes:
        v = queue.popleft()
        if is_root[v]:
            roots.append(v)
            if v != target:
                continue
        for test, lists in (("ownership", in_a), ("votes", in_b)):
            if lists is None:
                continue
            owners, los, his = lists(v)
            for i, lo, hi in zip(owners.tolist(), los.tolist(), his.tolist(), strict=True):
                if not caught[i] or (i, v, lo, hi) in pairs:
                    continue
                pairs.add((i, v, lo, hi))
                stakes.append(CaughtStake(i, v, lo, hi, test))
                if i not in seen:
                    seen.add(i)
                    queue.append(i)
                if len(stakes) >= max_stakes:
                    break
    return stakes, sorted(set(roots))


@dataclass(frozen=True)
class InStakes:
    """The transpose of a StakeMatrix: who holds each entity (build once with `in_stakes`)."""

    ptr: np.ndarray
    owner: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def of(self, v: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(owners, lo, hi) of the stakes held in entity `v`."""
        a, b = int(self.ptr[v]), int(self.ptr[v + 1])
        return self.owner[a:b], self.lo[a:b], self.hi[a:b]


def in_stakes(m: StakeMatrix) -> InStakes:
    """Transpose `m` (owners of every entity)."""
    owner = np.repeat(np.arange(m.n, dtype=np.int64), np.diff(m.ptr))
    order = np.argsort(m.idx, kind="stable")
    ptr = np.zeros(m.n + 1, dtype=np.int64)
    np.add.at(ptr, m.idx + 1, 1)
    np.cumsum(ptr, out=ptr)
    return InStakes(ptr, owner[order], m.lo[order], m.hi[order])


def flip_stakes(
    result: CascadeResult, ownership: InStakes, target: int, votes: InStakes | None = None
) -> list[tuple[CaughtStake, str]]:
    """For a `possible` verdict: the stakes in `target` whose true values decide it, with why.

    These are the stakes held by possibly caught owners that are ranged or unknown (their value
    decides whether the aggregate reaches the threshold), and the stakes of owners whose own
    status is only possible (their verdict decides whether their stake counts).
    """
    out: list[tuple[CaughtStake, str]] = []
    use_votes = result.spec.votes is not None and votes is not None and votes is not ownership
    for test, m in (("ownership", ownership), ("votes", votes if use_votes else None)):
        if m is None:
            continue
        owners, los, his = m.of(int(target))
        for i, lo, hi in zip(owners.tolist(), los.tolist(), his.tolist(), strict=True):
            if not result.possible[i]:
                continue
            reasons = []
            if hi - lo > TOL:
                reasons.append("unknown stake" if lo <= TOL and hi >= 1 - TOL else "ranged stake")
            if not result.definite[i]:
                reasons.append("owner only possibly caught")
            if reasons:
                out.append((CaughtStake(i, int(target), lo, hi, test), ", ".join(reasons)))
    return out


# ---- licence requirements (BIS) -------------------------------------------------------------


def licence_rank(text: str | None) -> int:
    """How restrictive a licence requirement is, by its wording (higher is stricter).

    4: all items subject to the EAR under a policy/presumption of denial; 3: all items subject
    to the EAR; 2: a presumption or policy of denial for some items; 1: any other recorded
    requirement; 0: none recorded. A heuristic over free text: the texts themselves are always
    shown beside the rank.
    """
    if text is None or not text.strip():
        return 0
    t = " ".join(text.lower().split())
    all_items = "all items" in t
    denial = "denial" in t
    if all_items and denial:
        return 4
    if all_items:
        return 3
    if denial:
        return 2
    return 1


def most_restrictive(texts: list[str | None]) -> tuple[int, list[int]]:
    """(best rank, indices of the texts with that rank) among licence requirement texts."""
    ranks = [licence_rank(t) for t in texts]
    if not ranks:
        return 0, []
    best = max(ranks)
    return best, [i for i, r in enumerate(ranks) if r == best]


# ---- outbound (31 CFR 850) --------------------------------------------------------------------

# Sector codes (statecap/model/taxonomies/sectors.yaml) against the covered activities of
# 31 CFR 850.217 (notifiable) and 850.224 (prohibited). "covered": every activity of the
# sub-sector is a covered activity (designing, fabricating or packaging any integrated circuit
# is at least notifiable); "maybe": covered only above technical thresholds or for certain end
# uses the data do not record (AI systems trained above 10^23 operations or meant for military,
# surveillance or cyber uses; quantum sensing and networking for military end uses; front-end
# equipment but not other tools).
OUTBOUND_SECTORS: dict[str, str] = {
    "semiconductors": "maybe",
    "semiconductors.design": "covered",
    "semiconductors.fabrication": "covered",
    "semiconductors.packaging": "covered",
    "semiconductors.memory": "covered",
    "semiconductors.eda": "covered",
    "semiconductors.equipment": "maybe",
    "semiconductors.materials": "maybe",
    "ai": "maybe",
    "ai.chips": "covered",
    "ai.models": "maybe",
    "ai.speech": "maybe",
    "ai.vision": "maybe",
    "ai.computing": "maybe",
    "quantum": "maybe",
    "quantum.computing": "covered",
    "quantum.communication": "maybe",
    "quantum.sensing": "maybe",
}

COUNTRIES_OF_CONCERN = ("cn", "hk", "mo")  # 31 CFR 850.202: the PRC, incl. Hong Kong and Macau


@dataclass
class OutboundResult:
    """31 CFR 850 covered foreign persons, per entity.

    Attributes:
        coc: the person-of-a-country-of-concern cascade (850.221).
        engaged_def, engaged_pos: the entity's own sectors make it engaged in a covered activity
            for sure / maybe (850.217, 850.224).
        direct_def, direct_pos: covered under 850.209(a)(1) (person of a country of concern
            engaged in a covered activity), definite / possible (pos includes def).
        holder_pos: candidates under 850.209(a)(2): entities holding an interest, directly or
            through a chain, in an (a)(1) person, whose revenue (or net income, capex, opex)
            share from such persons the data cannot settle.
        definite, possible: the combined verdicts (possible includes definite).
    """

    coc: CascadeResult
    engaged_def: np.ndarray
    engaged_pos: np.ndarray
    direct_def: np.ndarray
    direct_pos: np.ndarray
    holder_pos: np.ndarray
    definite: np.ndarray
    possible: np.ndarray


def sector_engagement(sector_lists: list[list[str] | None]) -> tuple[np.ndarray, np.ndarray]:
    """(covered for sure, maybe covered) per entity from its sector codes (``OUTBOUND_SECTORS``)."""
    n = len(sector_lists)
    sure = np.zeros(n, dtype=bool)
    maybe = np.zeros(n, dtype=bool)
    for i, codes in enumerate(sector_lists):
        for c in codes or ():
            level = OUTBOUND_SECTORS.get(c)
            if level == "covered":
                sure[i] = True
            elif level == "maybe":
                maybe[i] = True
    return sure, maybe & ~sure


def outbound(
    ownership: StakeMatrix,
    votes: StakeMatrix | None,
    coc_roots: np.ndarray,
    coc_roots_possible: np.ndarray,
    engaged_def: np.ndarray,
    engaged_pos: np.ndarray,
    holder_eligible: np.ndarray,
    holder_definite: np.ndarray | None = None,
) -> OutboundResult:
    """Covered foreign persons under 31 CFR 850.209.

    (a)(1): a person of a country of concern (850.221, the ``outbound`` cascade from
    `coc_roots`) engaged in a covered activity. (a)(2): a person holding a board seat, voting
    or equity interest, directly or indirectly, in (a)(1) persons from which it derives more
    than 50% of its revenue, net income, capex or opex; the holdings come from the graph, the
    shares of revenue from the caller (`holder_definite`: holders whose financials settle it).

    Args:
        ownership, votes: rule matrices (see ``graph_matrix``, ``votes_matrix``).
        coc_roots, coc_roots_possible: persons of a country of concern by their own country.
        engaged_def, engaged_pos: sector engagement (``sector_engagement``).
        holder_eligible: entities that can be (a)(2) persons (the caller leaves out state organs
            and US persons).
        holder_definite: holders known to derive more than 50% of revenue from (a)(1) persons.
    """
    n = ownership.n
    coc = cascade(SPECS["outbound"], ownership, coc_roots, coc_roots_possible, votes)
    e_def = np.asarray(engaged_def, bool)
    e_pos = np.asarray(engaged_pos, bool) | e_def
    direct_def = coc.definite & e_def
    direct_pos = coc.possible & e_pos
    # every entity with a chain of stakes (upper bound > 0) into an (a)(1) person
    up = _ancestors_of(ownership, direct_pos)
    if votes is not None:
        up |= _ancestors_of(votes, direct_pos)
    holder = up & np.asarray(holder_eligible, bool) & ~direct_pos
    hdef = np.zeros(n, bool) if holder_definite is None else np.asarray(holder_definite, bool) & holder
    definite = direct_def | hdef
    possible = direct_pos | holder | definite
    return OutboundResult(coc, e_def, e_pos & ~e_def, direct_def, direct_pos, holder, definite, possible)


@nb.njit(cache=True)
def _reverse_reach(ptr, idx, start):
    """Entities with a path of pairs into any `start` entity (start excluded unless on a path)."""
    n = len(start)
    # build in-lists
    deg = np.zeros(n + 1, np.int64)
    for e in range(len(idx)):
        deg[idx[e] + 1] += 1
    for v in range(n):
        deg[v + 1] += deg[v]
    fill = deg[:-1].copy()
    src = np.empty(len(idx), np.int64)
    for u in range(n):
        for e in range(ptr[u], ptr[u + 1]):
            j = idx[e]
            src[fill[j]] = u
            fill[j] += 1
    seen = np.zeros(n, np.bool_)
    out = np.zeros(n, np.bool_)
    queue = np.empty(n, np.int64)
    head = 0
    tail = 0
    for v in range(n):
        if start[v]:
            seen[v] = True
            queue[tail] = v
            tail += 1
    while head < tail:
        v = queue[head]
        head += 1
        for k in range(deg[v], deg[v + 1]):
            u = src[k]
            out[u] = True
            if not seen[u]:
                seen[u] = True
                queue[tail] = u
                tail += 1
    return out


def _ancestors_of(m: StakeMatrix, start: np.ndarray) -> np.ndarray:
    return np.asarray(_reverse_reach(m.ptr, m.idx, np.asarray(start, dtype=np.bool_)), dtype=bool)
