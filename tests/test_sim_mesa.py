"""The vectorised kernel against the same rules written agent by agent in Mesa (bench/)."""

from __future__ import annotations

import numpy as np
import pytest

from statecap.sim.compile import draw_params
from statecap.sim.model import run_model
from statecap.sim.montecarlo import prepare

pytest.importorskip("mesa")
mesa_model = pytest.importorskip("bench.mesa_model")

DETERMINISTIC = {
    "agents.synthetic_private_per_sector": 8,
    "agents.synthetic_foreign_per_sector": 3,
    "parameters.rd_shock_sigma": 0.0,
    "levers.state_capital.ic-overseas-ma": None,  # no acquisition attempts: no coin flips
    "horizon": [2014, 2026],
}


@pytest.mark.parametrize("scenario", ["baseline", "controls-tighten", "soe-reform"])
def test_kernel_and_mesa_give_the_same_years_without_shocks(scenario):
    comp, _ = prepare(scenario, DETERMINISTIC, seed=4, calibration=None)
    par = draw_params(comp, 3, 4)  # parameters drawn from the scenario's priors
    kernel = run_model(comp.inputs, par, np.random.default_rng(0)).outputs
    mesa = mesa_model.run_mesa(comp.inputs, dict(par.values), dict(par.sector_values), seed=0)
    np.testing.assert_allclose(mesa, kernel, rtol=1e-9, atol=1e-9)
