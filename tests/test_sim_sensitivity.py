"""Sobol indices through SALib on functions with known answers, and on the model."""

from __future__ import annotations

import numpy as np
import pytest

from statecap.errors import UsageError
from statecap.sim.sensitivity import SOBOL_OUTPUTS, sensitivity, sobol_indices

pytest.importorskip("SALib")

TOL = 0.02  # absolute, on indices in [0, 1]


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[list[float], list[float]]:
    """Analytic first-order and total indices of the Ishigami function on [-pi, pi]^3."""
    pi = np.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return [v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v]


def test_ishigami_indices_match_the_analytic_answer():
    s1_true, st_true = ishigami_indices()
    np.testing.assert_allclose(s1_true, [0.3139, 0.4424, 0.0], atol=1e-4)
    res = sobol_indices(ishigami, ["x1", "x2", "x3"], 4096, seed=1, ppf=lambda u: -np.pi + 2 * np.pi * u)[0]
    for i, name in enumerate(("x1", "x2", "x3")):
        assert res[name]["S1"] == pytest.approx(s1_true[i], abs=TOL)
        assert res[name]["ST"] == pytest.approx(st_true[i], abs=TOL)
        assert 0 < res[name]["ST_conf"] < 0.1


def test_an_additive_function_splits_its_variance_by_the_squared_weights():
    def f(x: np.ndarray) -> np.ndarray:
        return np.column_stack([x[:, 0] + 2 * x[:, 1], np.full(len(x), 3.0)])

    linear, constant = sobol_indices(f, ["a", "b", "c"], 2048, seed=2)
    for name, share in (("a", 0.2), ("b", 0.8), ("c", 0.0)):
        assert linear[name]["S1"] == pytest.approx(share, abs=TOL)
        assert linear[name]["ST"] == pytest.approx(share, abs=TOL)
    assert all(v["S1"] is None for v in constant.values())  # no variance, no indices


def test_the_base_sample_must_be_a_power_of_two():
    with pytest.raises(UsageError, match="power of two"):
        sobol_indices(ishigami, ["x1", "x2", "x3"], 100)


def test_sensitivity_of_the_model_reports_every_output_with_intervals():
    small = {
        "agents.synthetic_private_per_sector": 6,
        "agents.synthetic_foreign_per_sector": 2,
        "horizon": [2014, 2022],
    }
    r = sensitivity("baseline", small, n_base=8, seed=0, sector="ai", calibration=None)
    assert (r["sector"], r["year"], r["n_base"]) == ("ai", 2022, 8)
    names = list(r["parameters"])
    assert "soe_efficiency_discount" in names and "sectors.ai.initial_capability" in names
    assert not any(n.startswith("sectors.semiconductors.") for n in names)
    assert r["evaluations"] == 8 * (len(names) + 2)
    assert set(r["indices"]) == set(SOBOL_OUTPUTS)
    ix = r["indices"]["self_sufficiency"]["sectors.ai.initial_self_sufficiency"]
    assert ix["ST"] is not None and ix["ST_conf"] is not None
    assert "too small" in r["warning"]
    with pytest.raises(UsageError, match="unknown sector"):
        sensitivity("baseline", small, n_base=8, sector="atlantis", calibration=None)
