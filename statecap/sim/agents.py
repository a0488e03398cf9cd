"""Seeding: firms and funds from the atlas plus synthetic firms, as agent arrays.

A pure function of its inputs (a table of atlas firms, settings and a Generator): no store, no
files. The atlas names the firms that matter most (SOEs, funds, designated champions); the
synthetic firms stand for the rest of each sector, which no dataset lists firm by firm.

Per top-level sector the population is:
- the atlas's domestic firms (state share from the ownership core), its foreign firms and its
  state funds;
- synthetic state-controlled firms up to ``min_soes_per_sector`` (local SOEs not in the atlas);
- ``synthetic_private_per_sector`` synthetic private firms with log-normal sizes;
- ``synthetic_foreign_per_sector`` synthetic foreign firms near the frontier;
- a synthetic fund when the atlas has none in the sector (guidance money needs a channel).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from statecap.sim.model import KIND_DOMESTIC, KIND_FOREIGN, KIND_FUND, NEVER, Agents
from statecap.sim.scenario import AgentSettings

ATLAS_CAPABILITY = 1.2  # atlas firms are the sector's recorded leaders (stated prior)
SYNTHETIC_CAPABILITY = (0.9, 0.25)  # median multiplier, log-sd (stated prior)
FOREIGN_CAPABILITY = (0.85, 1.0)  # synthetic foreign firms: uniform range, ratio to frontier
ATLAS_FOREIGN_CAPABILITY = 0.95
SYNTHETIC_JV_SHARE = 0.15  # share of synthetic domestic firms with a foreign JV (stated prior)
MAX_FIRM_SHARE = 0.3  # no firm holds more than this of its group's capital (group accounts
# of conglomerates overstate their size in one sector)


def _normalise(raw: np.ndarray, cap: float = MAX_FIRM_SHARE) -> np.ndarray:
    if raw.size == 0:
        return raw
    w = raw / raw.sum()
    if raw.size * cap >= 1.0:
        for _ in range(20):
            over = w > cap
            if not over.any():
                break
            excess = (w[over] - cap).sum()
            w[over] = cap
            free = ~over
            w[free] += excess * w[free] / w[free].sum()
    return w


def _sizes(known: np.ndarray, n_synth: int, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Raw sizes: known atlas sizes, median of known for the unknown, log-normal synthetic."""
    known = np.asarray(known, dtype=float)
    ok = np.isfinite(known) & (known > 0)
    ref = float(np.median(known[ok])) if ok.any() else 20.0
    atlas = np.where(ok, known, ref)
    synth = (ref / 20.0) * np.exp(sigma * rng.standard_normal(n_synth))
    return np.concatenate([atlas, synth])


def seed_agents(
    firms: pd.DataFrame,
    sectors: list[str] | tuple[str, ...],
    settings: AgentSettings,
    rng: np.random.Generator,
) -> Agents:
    """The agent population.

    Args:
        firms: atlas firms and funds, one row per (entity, top-level sector), with columns id,
            role (domestic, foreign, fund), sector, state_share (0-1), assets_cny_bn,
            liability_ratio, rd_intensity, designated_from, jv. May be empty.
        sectors: the model's sectors (top-level codes), in index order.
        settings: synthetic counts and size spread.
        rng: the only source of randomness.
    """
    cols: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "ids", "kind", "sector", "state_share", "size", "capability", "liability_ratio",
            "rd_intensity", "designated_from", "jv", "origin",
        )
    }  # fmt: skip
    use = firms if settings.from_atlas else firms.iloc[0:0]

    def add(**arrays: np.ndarray) -> None:
        n = len(arrays["ids"])
        for k in cols:
            cols[k].append(np.asarray(arrays[k]) if k in arrays else np.full(n, np.nan))

    for s_idx, sector in enumerate(sectors):
        here = use[use["sector"] == sector]
        dom = here[here["role"] == "domestic"]
        ss = dom["state_share"].to_numpy(dtype=float).clip(0.0, 1.0)
        n_soe_atlas = int((ss >= 0.5).sum())
        n_soe_synth = max(0, settings.min_soes_per_sector - n_soe_atlas)
        n_priv_synth = settings.synthetic_private_per_sector
        if n_priv_synth == 0 and not (ss < 0.5).any():
            n_priv_synth = 1
        if n_soe_synth == 0 and n_soe_atlas == 0 and n_priv_synth == 0:
            n_priv_synth = 1
        assets = dom["assets_cny_bn"].to_numpy(dtype=float)
        soe_mask = ss >= 0.5
        soe_raw = _sizes(assets[soe_mask], n_soe_synth, rng, settings.synthetic_size_sigma)
        priv_raw = _sizes(assets[~soe_mask], n_priv_synth, rng, settings.synthetic_size_sigma)
        soe_w = _normalise(soe_raw)
        priv_w = _normalise(priv_raw)
        n_atlas = len(dom)
        size = np.empty(n_atlas + n_soe_synth + n_priv_synth)
        atlas_size = np.empty(n_atlas)
        atlas_size[soe_mask] = soe_w[: int(soe_mask.sum())]
        atlas_size[~soe_mask] = priv_w[: int((~soe_mask).sum())]
        size[:n_atlas] = atlas_size
        size[n_atlas : n_atlas + n_soe_synth] = soe_w[int(soe_mask.sum()) :]
        size[n_atlas + n_soe_synth :] = priv_w[int((~soe_mask).sum()) :]
        n_synth = n_soe_synth + n_priv_synth
        synth_cap = SYNTHETIC_CAPABILITY[0] * np.exp(SYNTHETIC_CAPABILITY[1] * rng.standard_normal(n_synth))
        synth_jv = rng.random(n_synth) < SYNTHETIC_JV_SHARE
        add(
            ids=np.concatenate(
                [
                    dom["id"].to_numpy(dtype=object),
                    np.array([f"synthetic:soe:{sector}:{i}" for i in range(n_soe_synth)], dtype=object),
                    np.array([f"synthetic:private:{sector}:{i}" for i in range(n_priv_synth)], dtype=object),
                ]
            ),
            kind=np.full(n_atlas + n_synth, KIND_DOMESTIC, dtype=np.int8),
            sector=np.full(n_atlas + n_synth, s_idx, dtype=np.int32),
            state_share=np.concatenate([ss, np.ones(n_soe_synth), np.zeros(n_priv_synth)]),
            size=size,
            capability=np.concatenate([np.full(n_atlas, ATLAS_CAPABILITY), synth_cap]),
            liability_ratio=np.concatenate(
                [dom["liability_ratio"].to_numpy(dtype=float).clip(0.0, 0.99), np.full(n_synth, np.nan)]
            ),
            rd_intensity=np.concatenate(
                [dom["rd_intensity"].to_numpy(dtype=float).clip(0.0, 1.0), np.full(n_synth, np.nan)]
            ),
            designated_from=np.concatenate(
                [dom["designated_from"].to_numpy(dtype=np.int64), np.full(n_synth, NEVER, dtype=np.int64)]
            ),
            jv=np.concatenate([dom["jv"].to_numpy(dtype=bool), synth_jv]),
            origin=np.array(["atlas"] * n_atlas + ["synthetic"] * n_synth, dtype=object),
        )

        foreign = here[here["role"] == "foreign"]
        n_fa = len(foreign)
        n_fs = (
            settings.synthetic_foreign_per_sector if n_fa + settings.synthetic_foreign_per_sector > 0 else 1
        )
        f_raw = _sizes(
            foreign["assets_cny_bn"].to_numpy(dtype=float), n_fs, rng, settings.synthetic_size_sigma
        )
        add(
            ids=np.concatenate(
                [
                    foreign["id"].to_numpy(dtype=object),
                    np.array([f"synthetic:foreign:{sector}:{i}" for i in range(n_fs)], dtype=object),
                ]
            ),
            kind=np.full(n_fa + n_fs, KIND_FOREIGN, dtype=np.int8),
            sector=np.full(n_fa + n_fs, s_idx, dtype=np.int32),
            state_share=np.zeros(n_fa + n_fs),
            size=_normalise(f_raw),
            capability=np.concatenate(
                [np.full(n_fa, ATLAS_FOREIGN_CAPABILITY), rng.uniform(*FOREIGN_CAPABILITY, size=n_fs)]
            ),
            designated_from=np.concatenate(
                [foreign["designated_from"].to_numpy(dtype=np.int64), np.full(n_fs, NEVER, dtype=np.int64)]
            ),
            jv=np.zeros(n_fa + n_fs, dtype=bool),
            origin=np.array(["atlas"] * n_fa + ["synthetic"] * n_fs, dtype=object),
        )

        funds = here[here["role"] == "fund"]
        ids = funds["id"].to_numpy(dtype=object)
        origin = ["atlas"] * len(ids)
        if len(ids) == 0:
            ids = np.array([f"synthetic:fund:{sector}"], dtype=object)
            origin = ["synthetic"]
        nf = len(ids)
        add(
            ids=ids,
            kind=np.full(nf, KIND_FUND, dtype=np.int8),
            sector=np.full(nf, s_idx, dtype=np.int32),
            state_share=np.ones(nf),
            size=np.full(nf, 1.0 / nf),
            capability=np.zeros(nf),
            designated_from=np.full(nf, NEVER, dtype=np.int64),
            jv=np.zeros(nf, dtype=bool),
            origin=np.array(origin, dtype=object),
        )

    def cat(k: str, dtype: type | str) -> np.ndarray:
        parts = cols[k]
        return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)

    return Agents(
        ids=cat("ids", object),
        kind=cat("kind", np.int8),
        sector=cat("sector", np.int32),
        state_share=cat("state_share", float),
        size=cat("size", float),
        capability=cat("capability", float),
        liability_ratio=cat("liability_ratio", float),
        rd_intensity=cat("rd_intensity", float),
        designated_from=cat("designated_from", np.int64),
        jv=cat("jv", bool),
        origin=cat("origin", object),
    )
