"""Seeding agents from atlas rows plus synthetic firms, and reading the atlas from a store."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from statecap.sim.agents import MAX_FIRM_SHARE, seed_agents
from statecap.sim.atlas import FxTable, empty_atlas, read_atlas
from statecap.sim.model import KIND_DOMESTIC, KIND_FOREIGN, KIND_FUND, NEVER
from statecap.sim.scenario import AgentSettings

SECTORS = ["semiconductors", "ai"]


def firm(id_, role, sector, ss=0.0, assets=np.nan, **kw):
    row = {
        "id": id_, "kind": "company", "role": role, "sector": sector, "state_share": ss,
        "state_share_lo": ss, "state_share_hi": ss, "assets_cny_bn": assets, "liability_ratio": np.nan,
        "rd_intensity": np.nan, "designated_from": NEVER, "jv": False,
    }  # fmt: skip
    row.update(kw)
    return row


def groups_sum_to_one(ag):
    for s in range(len(SECTORS)):
        here = ag.sector == s
        dom = here & (ag.kind == KIND_DOMESTIC)
        for mask in (dom & (ag.state_share >= 0.5), dom & (ag.state_share < 0.5)):
            if mask.any():
                assert ag.size[mask].sum() == pytest.approx(1.0)
        for kind in (KIND_FOREIGN, KIND_FUND):
            assert ag.size[here & (ag.kind == kind)].sum() == pytest.approx(1.0)


def test_synthetic_population_without_an_atlas():
    settings = AgentSettings(
        synthetic_private_per_sector=7, synthetic_foreign_per_sector=3, min_soes_per_sector=2
    )
    ag = seed_agents(empty_atlas().firms, SECTORS, settings, np.random.default_rng(0))
    for s in range(2):
        here = ag.sector == s
        dom = here & (ag.kind == KIND_DOMESTIC)
        assert (dom & (ag.state_share >= 0.5)).sum() == 2
        assert (dom & (ag.state_share == 0)).sum() == 7
        assert (here & (ag.kind == KIND_FOREIGN)).sum() == 3
        assert (here & (ag.kind == KIND_FUND)).sum() == 1
    assert all(str(i).startswith("synthetic:") for i in ag.ids)
    groups_sum_to_one(ag)


def test_atlas_firms_keep_their_identity_and_fill_up_to_the_minimum_of_soes():
    firms = pd.DataFrame(
        [
            firm("cn-a", "domestic", "semiconductors", 1.0, 100.0),
            firm("cn-b", "domestic", "semiconductors", 0.6),
            firm("cn-c", "domestic", "semiconductors", 0.1, 50.0, designated_from=2020, jv=True),
            firm("us-x", "foreign", "semiconductors", assets=500.0),
            firm("cn-fund", "fund", "ai", 1.0),
        ]
    )
    settings = AgentSettings(
        synthetic_private_per_sector=5, synthetic_foreign_per_sector=2, min_soes_per_sector=4
    )
    ag = seed_agents(firms, SECTORS, settings, np.random.default_rng(1))
    ids = list(ag.ids)
    a, b, c = ids.index("cn-a"), ids.index("cn-b"), ids.index("cn-c")
    assert ag.state_share[[a, b, c]].tolist() == [1.0, 0.6, 0.1]
    assert ag.designated_from[c] == 2020 and ag.jv[c]
    # an unknown size takes the median of the group's known ones: a and b are equal
    assert ag.size[a] == pytest.approx(ag.size[b])
    semis_soes = (ag.sector == 0) & (ag.kind == KIND_DOMESTIC) & (ag.state_share >= 0.5)
    assert semis_soes.sum() == 4  # two from the atlas, two synthetic
    assert (ag.kind[ag.sector == 1] == KIND_FUND).sum() == 1 and "cn-fund" in ids
    assert "synthetic:fund:semiconductors" in ids
    groups_sum_to_one(ag)
    again = seed_agents(firms, SECTORS, settings, np.random.default_rng(1))
    assert np.array_equal(again.size, ag.size) and np.array_equal(again.capability, ag.capability)
    off = seed_agents(firms, SECTORS, AgentSettings(from_atlas=False), np.random.default_rng(1))
    assert "cn-a" not in set(off.ids)


def test_no_firm_holds_more_than_the_cap_of_its_group():
    firms = pd.DataFrame([firm("cn-giant", "domestic", "ai", 0.0, 1e6)])
    ag = seed_agents(firms, SECTORS, AgentSettings(synthetic_private_per_sector=10), np.random.default_rng(2))
    assert ag.size[list(ag.ids).index("cn-giant")] == pytest.approx(MAX_FIRM_SHARE)
    groups_sum_to_one(ag)


def test_read_atlas_from_the_mini_store(mini_db):
    with duckdb.connect(str(mini_db), read_only=True) as con:
        atlas = read_atlas(con, 2014)
    roles = {(r.id, r.sector): r.role for r in atlas.firms.itertuples()}
    assert roles[("cn-chipco", "semiconductors")] == "domestic"
    assert roles[("cn-aico", "ai")] == "domestic"
    # recorded state money: the fund's portfolio investments (commitments into it count once, there)
    flows = atlas.flows.sort_values(["year", "sector"])[["mechanism", "sector", "year", "amount_cny_bn"]]
    assert flows.values.tolist() == [
        ["guidance_fund", "semiconductors", 2015, pytest.approx(0.2)],
        ["guidance_fund", "semiconductors", 2016, pytest.approx(0.1)],
        ["guidance_fund", "ai", 2018, pytest.approx(0.05)],
    ]
    assert atlas.digest and atlas.db_path == str(mini_db)


def test_fx_comes_from_the_store_series_else_a_stated_fallback():
    obs = pd.DataFrame(
        {"series": ["fx_cny_per_usd", "fx_cny_per_usd"], "year": [2015, 2020], "value": [6.2, 6.9], "unit": ["x"] * 2,
         "sector": [None] * 2, "entity": [None] * 2}
    )  # fmt: skip
    fx = FxTable(obs)
    assert fx.to_cny_bn(1e9, "USD", 2016) == pytest.approx(6.2)  # nearest year
    assert fx.to_cny_bn(1e9, "USD", 2019) == pytest.approx(6.9)
    assert fx.to_cny_bn(2e9, "CNY", 2019) == pytest.approx(2.0)
    assert fx.to_cny_bn(1e9, "EUR", 2019) == pytest.approx(7.6)  # no series: the fallback table


def test_state_shares_from_the_ownership_core_use_the_midpoint(mini_db, monkeypatch):
    """Intervals from the ownership core: the midpoint is used; a state kind with no owner is the state's."""
    import statecap.sim.atlas as atlas_mod

    intervals = {"cn-chipco": (0.2, 0.4), "cn-fund": (1.0, 1.0), "cn-aico": (0.0, 1.0)}
    monkeypatch.setattr(
        atlas_mod, "_state_shares", lambda con, as_of: (intervals, "the ownership core (test)")
    )
    with duckdb.connect(str(mini_db), read_only=True) as con:
        atlas = read_atlas(con, 2014)
    share = dict(zip(atlas.firms["id"], atlas.firms["state_share"], strict=True))
    assert share["cn-chipco"] == pytest.approx(0.3)
    assert share["cn-aico"] == pytest.approx(0.5)
    assert share["cn-chipdesign"] == 0.0  # a company the core knows nothing about
    assert atlas.state_share_source.startswith("the ownership core (test)")
