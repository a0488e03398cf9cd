"""Model against observations: which outputs match which stored series, errors, verdicts.

Calibration fits on TRAIN_YEARS and reports the error on HOLDOUT_YEARS. A fit is judged
against the simplest forecast there is, carrying the last training observation forward: a model
that does worse than that on the holdout is called poor, whatever its training error, and so is
one whose holdout RMSE exceeds POOR_RMSE_PP. Good needs RMSE <= GOOD_RMSE_PP and enough training
observations for the free parameters; everything else is fair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from statecap.sim.model import OUTPUTS

TRAIN_YEARS = (2014, 2019)
HOLDOUT_YEARS = (2020, 2022)
YEAR_MIN = 1900
GOOD_RMSE_PP = 1.0  # a holdout RMSE at or below this (percentage points) with skill counts as good
POOR_RMSE_PP = 3.0  # a holdout RMSE above this is poor whatever the naive forecast does


@dataclass(frozen=True)
class Target:
    """A stored series the model reproduces.

    Attributes:
        series: observation series code.
        sector: the observation's sector (None: economy-wide, sector field empty).
        output: the model output it is compared with.
        model_sector: the model sector to read, or None to aggregate over sectors.
        params: the calibrated parameters this series informs (dotted names; sector
            parameters as ``sectors.<sector>.<name>``).
    """

    series: str
    sector: str | None
    output: str
    model_sector: str | None
    params: tuple[str, ...]


TARGETS = (
    Target(
        "ic_self_sufficiency",
        "semiconductors",
        "self_sufficiency",
        "semiconductors",
        (
            "sectors.semiconductors.knowledge_productivity",
            "sectors.semiconductors.control_demand_shift",
            "sectors.semiconductors.state_capital_yield",
        ),
    ),
    Target("soe_liability_ratio", None, "soe_debt_ratio", None, ("debt_repayment_rate",)),
)
HEADLINE_TARGET = TARGETS[0]


def observed(observations: pd.DataFrame, target: Target, years: tuple[int, int]) -> pd.DataFrame:
    """The target's observations (year, value in percent) within `years`, one per year."""
    o = observations[(observations["series"] == target.series) & observations["entity"].isna()]
    o = o[o["sector"].isna()] if target.sector is None else o[o["sector"] == target.sector]
    o = o[(o["year"] >= years[0]) & (o["year"] <= years[1])]
    if o.empty:
        return pd.DataFrame({"year": pd.Series(dtype=int), "value": pd.Series(dtype=float)})
    unit = str(o["unit"].iloc[0])
    vals = o["value"].astype(float) * (100.0 if unit in ("ratio", "fraction") else 1.0)
    out = pd.DataFrame({"year": o["year"].astype(int), "value": vals})
    return out.groupby("year", as_index=False)["value"].mean().sort_values("year")


def model_paths(outputs: np.ndarray, sectors: tuple[str, ...], target: Target) -> np.ndarray:
    """The target's output per run and year, (R, T)."""
    if target.model_sector is not None:
        return outputs[:, :, sectors.index(target.model_sector), OUTPUTS.index(target.output)]
    if target.output == "soe_debt_ratio":
        liab = outputs[..., OUTPUTS.index("soe_liabilities")].sum(axis=2)
        assets = outputs[..., OUTPUTS.index("soe_assets")].sum(axis=2)
        return 100.0 * np.divide(liab, assets, out=np.full_like(liab, np.nan), where=assets > 0)
    raise ValueError(f"no economy-wide aggregate for {target.output}")


def rmse(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float | None:
    if len(a) == 0:
        return None
    return float(math.sqrt(float(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2))))


def verdict(
    holdout_rmse: float | None, naive_rmse: float | None, n_train: int, n_free: int
) -> tuple[str, str]:
    """A one-word verdict and a plain sentence."""
    if holdout_rmse is None:
        return "unknown", "no holdout observations in the store: the model's error is unknown"
    under = n_train < max(n_free, 1)
    if naive_rmse is not None and holdout_rmse > naive_rmse:
        word = "poor"
        text = (
            f"holdout RMSE {holdout_rmse:.2f} pp is worse than carrying the last training "
            f"observation forward ({naive_rmse:.2f} pp): the fit is poor"
        )
    elif holdout_rmse > POOR_RMSE_PP:
        word = "poor"
        text = f"holdout RMSE {holdout_rmse:.2f} pp is above {POOR_RMSE_PP:g} pp: the fit is poor"
    elif holdout_rmse <= GOOD_RMSE_PP:
        word, text = (
            "good",
            f"holdout RMSE {holdout_rmse:.2f} pp, better than carrying the last observation forward",
        )
    else:
        word, text = (
            "fair",
            f"holdout RMSE {holdout_rmse:.2f} pp, better than carrying the last observation forward",
        )
    if under:
        text += f"; only {n_train} training observation(s) for {n_free} free parameter(s): underdetermined"
        if word == "good":
            word = "fair"
    return word, text


def backtest_target(
    outputs: np.ndarray,
    years: np.ndarray,
    sectors: tuple[str, ...],
    observations: pd.DataFrame,
    target: Target,
    n_free: int = 0,
) -> dict[str, Any]:
    """Median model path against the target's training and holdout observations."""
    paths = model_paths(outputs, sectors, target)
    p5, p50, p95 = np.nanpercentile(paths, [5, 50, 95], axis=0)
    year_list = [int(y) for y in years]

    def compare(window: tuple[int, int]) -> list[dict[str, float]]:
        obs = observed(observations, target, window)
        rows = []
        for y, v in zip(obs["year"], obs["value"], strict=True):
            if int(y) in year_list:
                i = year_list.index(int(y))
                rows.append(
                    {
                        "year": int(y),
                        "observed": float(v),
                        "p5": float(p5[i]),
                        "p50": float(p50[i]),
                        "p95": float(p95[i]),
                    }
                )
        return rows

    train = compare(TRAIN_YEARS)
    hold = compare(HOLDOUT_YEARS)
    train_rmse = rmse([r["p50"] for r in train], [r["observed"] for r in train])
    hold_rmse = rmse([r["p50"] for r in hold], [r["observed"] for r in hold])
    last_train = observed(observations, target, (YEAR_MIN, TRAIN_YEARS[1]))
    naive = None
    if hold and not last_train.empty:
        last = float(last_train["value"].iloc[-1])
        naive = rmse([last] * len(hold), [r["observed"] for r in hold])
    word, text = verdict(hold_rmse, naive, len(train), n_free)
    return {
        "series": target.series,
        "output": target.output,
        "sector": target.model_sector,
        "train_years": list(TRAIN_YEARS),
        "holdout_years": [r["year"] for r in hold],
        "train_rmse_pp": train_rmse,
        "rmse_pp": hold_rmse,
        "naive_rmse_pp": naive,
        "fit": word,
        "message": text,
        "train": train,
        "holdout": hold,
    }
