"""Model parameters: a value or a distribution, each with its source or a stated prior.

A parameter spec is what a scenario file says about one parameter; `sample` turns it into one
value per Monte Carlo run. Sampling is by the quantile function (`ppf`), which Sobol analysis
uses too, so Monte Carlo and sensitivity follow the same distributions exactly.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

DISTRIBUTIONS = ("fixed", "uniform", "triangular", "normal", "lognormal")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: a fixed value or a distribution, with where it comes from.

    Attributes:
        name: dotted name (``soe_efficiency_discount``, ``sectors.semiconductors.market_growth``).
        dist: one of DISTRIBUTIONS.
        args: the distribution's arguments: fixed ``(value,)``; uniform ``(low, high)``;
            triangular ``(low, mode, high)``; normal ``(mean, sd, low, high)`` truncated to
            ``[low, high]``; lognormal ``(median, sigma)``.
        source: citation for the value, or None.
        prior: the stated prior when there is no source, or None.
        calibrate: the parameter is fitted by `statecap calibrate` (its spec is the search range).
        unit: a short unit label for reports.
    """

    name: str
    dist: str
    args: tuple[float, ...]
    source: str | None = None
    prior: str | None = None
    calibrate: bool = False
    unit: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_random(self) -> bool:
        return self.dist != "fixed"

    @property
    def bounds(self) -> tuple[float, float]:
        """The range the parameter can take (the search range for calibration)."""
        a = self.args
        if self.dist == "fixed":
            return (a[0], a[0])
        if self.dist == "uniform":
            return (a[0], a[1])
        if self.dist == "triangular":
            return (a[0], a[2])
        if self.dist == "normal":
            return (a[2], a[3])
        z = 3.090232306167813  # the standard normal's 99.9% quantile
        return (float(a[0] * np.exp(-z * a[1])), float(a[0] * np.exp(z * a[1])))

    @property
    def central(self) -> float:
        """The median of the distribution (the value used when a parameter is held fixed)."""
        return float(self.ppf(np.array([0.5]))[0])

    def ppf(self, q: np.ndarray) -> np.ndarray:
        """Quantile function: maps uniform numbers in (0, 1) to parameter values."""
        a = self.args
        q = np.asarray(q, dtype=float)
        if self.dist == "fixed":
            return np.full(q.shape, a[0])
        if self.dist == "uniform":
            return a[0] + q * (a[1] - a[0])
        from scipy import stats  # only the non-uniform distributions need it

        if self.dist == "triangular":
            lo, mode, hi = a
            if hi == lo:
                return np.full(q.shape, lo)
            c = (mode - lo) / (hi - lo)
            return np.asarray(stats.triang.ppf(q, c, loc=lo, scale=hi - lo), dtype=float)
        if self.dist == "normal":
            mean, sd, lo, hi = a
            alpha, beta = (lo - mean) / sd, (hi - mean) / sd
            return np.asarray(stats.truncnorm.ppf(q, alpha, beta, loc=mean, scale=sd), dtype=float)
        median, sigma = a
        return np.asarray(stats.lognorm.ppf(q, sigma, scale=median), dtype=float)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` independent draws (inverse-CDF sampling, so one uniform per draw)."""
        return self.ppf(rng.random(n))

    def fixed_at(self, value: float, source: str) -> ParamSpec:
        """This parameter held at `value` (an override or a calibrated fit)."""
        return replace(self, dist="fixed", args=(float(value),), source=source, prior=None)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description: value or distribution, source or prior."""
        out: dict[str, Any] = {"dist": self.dist}
        if self.dist == "fixed":
            out["value"] = self.args[0]
        else:
            keys = {
                "uniform": ("low", "high"),
                "triangular": ("low", "mode", "high"),
                "normal": ("mean", "sd", "low", "high"),
                "lognormal": ("median", "sigma"),
            }[self.dist]
            out.update(dict(zip(keys, self.args, strict=True)))
        if self.source is not None:
            out["source"] = self.source
        if self.prior is not None:
            out["prior"] = self.prior
        if self.calibrate:
            out["calibrate"] = True
        if self.unit:
            out["unit"] = self.unit
        return out


def stream_key(name: str) -> int:
    """A stable integer for a name, used to give each parameter its own random stream."""
    return zlib.crc32(name.encode("utf-8"))


def param_rng(seed: int, name: str) -> np.random.Generator:
    """The random stream for parameter `name` under `seed`.

    Each parameter draws from its own stream, so two scenarios that share a parameter's
    distribution share its draws run by run (common random numbers for `compare`).
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, stream_key(name))))
