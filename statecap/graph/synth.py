"""A synthetic company registry for benchmarks and tests: same seed, same files.

Shape (chosen to look like a large corporate registry with a state sector):

* about 1% state organs (roots), the rest spread over twelve levels so chains of eight or more
  stakes exist; every stake goes from a lower level to a higher one, except cross-holdings;
  half the top level is held by state organs, the other half by nobody recorded (private
  groups); state organs also hold 3% of the stakes further down;
* heavy-tailed holdings: owners are drawn with a strong preference for the first entities of
  the levels above (funds and holding companies that own thousands);
* about 2.5 stakes per entity; owners of one entity hold 30-95% of it in total;
* ranges (10%) and unknown percentages (4%) among the stakes; some stakes ended in the past
  (they drop out of an as-of-today graph) and some start later than others;
* cross-holding cycles: back stakes from a held entity to its owner;
* designations (0.1% of entities) on the BIS Entity List or the OFAC SDN list.

Everything is generated with numpy and pyarrow from one ``numpy.random.Generator``; no
Python loop runs per entity or per stake.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from statecap.errors import UsageError

LEVELS = 12
SECTORS = (
    "semiconductors.design",
    "semiconductors.fabrication",
    "semiconductors.equipment",
    "ai.models",
    "biotech",
    "new_energy.ev",
    "new_energy.batteries",
    "aerospace.aviation",
    "telecom.5g",
    "quantum",
)
KINDS = ("state_organ", "central_soe", "local_soe", "state_fund", "company", "foreign_company")
SOURCE_ID = "src-synthetic"


@dataclass
class SynthRegistry:
    """The generated tables, with the store's column names."""

    entities: pa.Table
    stakes: pa.Table
    designations: pa.Table


def _ids(prefix: str, n: int) -> pa.Array:
    width = max(1, len(str(max(n - 1, 0))))
    nums = pc.utf8_lpad(
        pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string()), width=width, padding="0"
    )
    return pc.binary_join_element_wise(pa.scalar(prefix), nums, "")


def _dates(days: np.ndarray, valid: np.ndarray) -> pa.Array:
    base = np.datetime64("2000-01-01", "D")
    arr = (base + days.astype("timedelta64[D]")).astype("datetime64[D]")
    return pa.array(arr, type=pa.date32(), mask=~valid)


def generate(n_entities: int, seed: int) -> SynthRegistry:
    """A synthetic registry of `n_entities` entities (deterministic for a given seed)."""
    if n_entities < 10:
        raise UsageError("--entities must be at least 10")
    rng = np.random.default_rng(seed)
    n = int(n_entities)
    n_roots = max(1, round(0.01 * n))
    # levels: roots at 0, the rest over 1..LEVELS, fewer entities near the top
    weights = np.linspace(1.0, 3.0, LEVELS)
    rest = rng.choice(np.arange(1, LEVELS + 1), size=n - n_roots, p=weights / weights.sum())
    level = np.concatenate([np.zeros(n_roots, np.int64), np.sort(rest)])
    start = np.searchsorted(level, np.arange(LEVELS + 2))  # entities of level l: start[l]..start[l+1]

    kind = np.full(n, KINDS.index("company"), np.int64)
    kind[:n_roots] = 0
    r = rng.random(n)
    nonroot = np.arange(n) >= n_roots
    kind[nonroot & (r < 0.03)] = KINDS.index("central_soe")
    kind[nonroot & (r >= 0.03) & (r < 0.08)] = KINDS.index("local_soe")
    kind[nonroot & (r >= 0.08) & (r < 0.10)] = KINDS.index("state_fund")
    kind[nonroot & (r >= 0.10) & (r < 0.18)] = KINDS.index("foreign_company")

    # stakes: half the top-level entities belong to state organs (SOE groups, state funds), the
    # other half to nobody recorded (private groups); below them every entity has 1 + Poisson(1.5)
    # owners from the levels above
    deg = np.zeros(n, np.int64)
    top_level = level == 1
    deg[top_level] = np.where(
        rng.random(int(top_level.sum())) < 0.5, 0, 1 + rng.poisson(0.3, int(top_level.sum()))
    )
    lower = level >= 2
    deg[lower] = 1 + rng.poisson(1.5, size=int(lower.sum()))
    owned = np.repeat(np.arange(n, dtype=np.int64), deg)
    m = len(owned)
    above = start[level[owned]]  # entities with a lower level occupy 0..above-1
    # heavy tail: favour the first non-state entities of the candidate range (funds, holding companies)
    u = rng.random(m)
    owner = n_roots + ((above - n_roots) * u**3.0).astype(np.int64)
    # a third of the stakes come from the level just above (long chains)
    near = rng.random(m) < 0.35
    lo_near = start[np.maximum(level[owned] - 1, 0)]
    span = np.maximum(above - lo_near, 1)
    owner = np.where(near, lo_near + (rng.random(m) * span).astype(np.int64), owner)
    # state organs hold the top level, and a few stakes further down
    by_state = (level[owned] == 1) | (rng.random(m) < 0.03)
    owner = np.where(by_state, rng.integers(0, n_roots, size=m), owner)
    owner = np.minimum(owner, above - 1)
    # one owner per pair
    key = owned * n + owner
    _, first = np.unique(key, return_index=True)
    first.sort()
    owned, owner = owned[first], owner[first]
    m = len(owned)
    # shares: owners of one entity hold 30-95% in total, split by gamma weights
    g = rng.gamma(0.7, size=m)
    grp_start = np.flatnonzero(np.r_[True, owned[1:] != owned[:-1]])
    grp_sum = np.add.reduceat(g, grp_start)
    grp_of = np.repeat(np.arange(len(grp_start)), np.diff(np.r_[grp_start, m]))
    total = rng.uniform(0.3, 0.95, size=len(grp_start))
    share = g / grp_sum[grp_of] * total[grp_of] * 100.0
    # make some majority chains: a third of the single-owner entities get 51-100%
    single = np.diff(np.r_[grp_start, m]) == 1
    maj = single & (rng.random(len(grp_start)) < 0.5)
    share[grp_start[maj]] = rng.uniform(51.0, 95.0, size=int(maj.sum()))
    share = np.round(share, 2)
    lo = share.copy()
    hi = share.copy()
    kinds = np.zeros(m, np.int8)
    kr = rng.random(m)
    rng_mask = kr < 0.10
    lo[rng_mask] = np.round(share[rng_mask] * rng.uniform(0.6, 0.95, int(rng_mask.sum())), 2)
    hi[rng_mask] = np.minimum(
        100.0, np.round(share[rng_mask] * rng.uniform(1.05, 1.4, int(rng_mask.sum())), 2)
    )
    kinds[rng_mask] = 1
    unk = (kr >= 0.10) & (kr < 0.14)
    lo[unk] = 0.0
    hi[unk] = 100.0
    kinds[unk] = 2

    # cross-holdings: a held entity takes 1-5% of one of its owners (never of a state organ)
    # (only on stakes from the level just above, so cycles stay local, as in business groups)
    near_pair = near[first] & ~by_state[first]
    cand = np.flatnonzero((owner >= n_roots) & near_pair)
    pick = cand[rng.random(len(cand)) < 0.02]
    back_owner = owned[pick]
    back_owned = owner[pick]
    _, uniq = np.unique(back_owned, return_index=True)
    back_owner, back_owned = back_owner[uniq], back_owned[uniq]
    back_share = np.round(rng.uniform(1.0, 5.0, size=len(back_owner)), 2)
    # back stakes must fit: scale down the owned entity's other stakes if needed (totals <= 95%)
    owner = np.concatenate([owner, back_owner])
    owned = np.concatenate([owned, back_owned])
    lo = np.concatenate([lo, back_share])
    hi = np.concatenate([hi, back_share])
    kinds = np.concatenate([kinds, np.zeros(len(back_owner), np.int8)])
    m = len(owner)
    col_lo = np.bincount(owned, weights=lo, minlength=n)
    over = col_lo > 100.0
    if over.any():
        scale = np.where(over, 100.0 / np.maximum(col_lo, 1e-12), 1.0)[owned]
        lo = np.floor(lo * scale * 100.0) / 100.0
        hi = np.minimum(hi, np.maximum(lo, hi * scale))

    # dates: half start at some date, 3% ended in the past
    vf_days = rng.integers(0, 365 * 20, size=m)
    vf_valid = rng.random(m) < 0.5
    ended = rng.random(m) < 0.03
    vt_days = vf_days + rng.integers(30, 365 * 5, size=m)
    vt_valid = ended & (vt_days < 365 * 24)

    ids = _ids("syn-", n)
    share_kind_names = pa.array(["exact", "range", "unknown"])
    ents = pa.table(
        {
            "id": ids,
            "name": pc.binary_join_element_wise(
                pa.scalar("Synthetic "), pa.array(np.asarray(KINDS)[kind]), " ", ids, ""
            ),
            "name_zh": pa.nulls(n, pa.string()),
            "aliases": pa.nulls(n, pa.list_(pa.string())),
            "kind": pa.array(np.asarray(KINDS, dtype=object)[kind], type=pa.string()),
            "country": pa.array(np.where(kind == KINDS.index("foreign_company"), "us", "cn").astype(object)),
            "level": pa.nulls(n, pa.string()),
            "region": pa.nulls(n, pa.string()),
            "uscc": pa.nulls(n, pa.string()),
            "lei": pa.nulls(n, pa.string()),
            "tickers": pa.nulls(n, pa.list_(pa.string())),
            "wikidata": pa.nulls(n, pa.string()),
            "sectors": pa.ListArray.from_arrays(
                pa.array(np.arange(n + 1, dtype=np.int32)),
                pa.array(
                    np.asarray(SECTORS, dtype=object)[rng.integers(0, len(SECTORS), size=n)], type=pa.string()
                ),
            ),
            "description": pa.nulls(n, pa.string()),
            "founded": pa.nulls(n, pa.date32()),
            "dissolved": pa.nulls(n, pa.date32()),
            "confidence": pa.array(np.full(n, "low", dtype=object), type=pa.string()),
            "note": pa.nulls(n, pa.string()),
            "origin": pa.array(np.full(n, "synthetic", dtype=object), type=pa.string()),
        }
    )
    stakes = pa.table(
        {
            "id": _ids("syn-stake-", m),
            "owner": ids.take(pa.array(owner)),
            "owned": ids.take(pa.array(owned)),
            "share_lo": pa.array(lo),
            "share_hi": pa.array(hi),
            "share_kind": share_kind_names.take(pa.array(kinds.astype(np.int64))),
            "type": pa.array(np.full(m, "equity", dtype=object), type=pa.string()),
            "direct": pa.array(np.ones(m, dtype=bool)),
            "valid_from": _dates(vf_days, vf_valid),
            "valid_to": _dates(vt_days, vt_valid),
            "confidence": pa.array(np.full(m, "low", dtype=object), type=pa.string()),
            "note": pa.nulls(m, pa.string()),
            "origin": pa.array(np.full(m, "synthetic", dtype=object), type=pa.string()),
        }
    )
    n_des = max(1, n // 1000)
    des_ent = np.sort(rng.choice(np.arange(n_roots, n), size=min(n_des, n - n_roots), replace=False))
    lists = np.where(rng.random(len(des_ent)) < 0.8, "bis_entity_list", "ofac_sdn").astype(object)
    des_days = rng.integers(365 * 15, 365 * 24, size=len(des_ent))
    des_entity = ids.take(pa.array(des_ent))
    list_arr = pa.array(lists, type=pa.string())
    start_arr = _dates(des_days, np.ones(len(des_ent), bool))
    designations = pa.table(
        {
            "id": pc.binary_join_element_wise(pa.scalar("des:"), list_arr, des_entity, ":"),
            "entity": des_entity,
            "list": list_arr,
            "start": start_arr,
            "end": pa.nulls(len(des_ent), pa.date32()),
            "authority": pa.array(
                np.where(lists == "ofac_sdn", "us-ofac", "us-bis").astype(object), type=pa.string()
            ),
            "citation": pa.nulls(len(des_ent), pa.string()),
            "licence_requirement": pa.nulls(len(des_ent), pa.string()),
            "confidence": pa.array(np.full(len(des_ent), "low", dtype=object), type=pa.string()),
            "note": pa.nulls(len(des_ent), pa.string()),
        }
    )
    return SynthRegistry(ents, stakes, designations)


def write_parquet(reg: SynthRegistry, out_dir: str | Path) -> list[Path]:
    """Write entities.parquet, stakes.parquet and designations.parquet into `out_dir`."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in (
        ("entities", reg.entities),
        ("stakes", reg.stakes),
        ("designations", reg.designations),
    ):
        path = folder / f"{name}.parquet"
        pq.write_table(table, path, compression="zstd")
        paths.append(path)
    return paths


def write_store(reg: SynthRegistry, db: str | Path, seed: int | None = None) -> Path:
    """Write the registry as a statecap store (atomically), ready for every analytics command."""
    import duckdb

    from statecap import __version__
    from statecap.store.db import write_atomically
    from statecap.store.schema import SCHEMA_VERSION, create_all

    def fill(con: duckdb.DuckDBPyConnection) -> None:
        create_all(con)
        con.execute(
            "INSERT INTO sources (id, url, publisher, title, accessed, kind, confidence) VALUES "
            "(?, 'urn:statecap:synthetic', 'statecap', 'Synthetic registry (statecap synth)', ?, 'database', 'low')",
            [SOURCE_ID, dt.date(2026, 1, 1)],
        )
        for table, arrow in (
            ("entities", reg.entities),
            ("stakes", reg.stakes),
            ("designations", reg.designations),
        ):
            con.register("_synth", arrow)
            try:
                cols = ", ".join(f'"{c}"' for c in arrow.column_names)
                con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _synth")
            finally:
                con.unregister("_synth")
        for table in ("entities", "stakes", "designations"):
            con.execute(f"INSERT INTO record_sources SELECT '{table}', id, '{SOURCE_ID}' FROM {table}")
        con.execute(
            "INSERT INTO entity_terms SELECT id, lower(id), 0 FROM entities "
            "UNION ALL SELECT id, lower(name), 1 FROM entities"
        )
        meta = {
            "schema_version": SCHEMA_VERSION,
            "statecap_version": __version__,
            "data_digest": f"synthetic:{reg.entities.num_rows}:{seed}",
            "data_dir": "synthetic",
        }
        for k, v in sorted(meta.items()):
            con.execute("INSERT INTO meta VALUES (?, ?)", [k, v])

    return write_atomically(db, fill)
