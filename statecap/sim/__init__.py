"""The policy lab: scenarios, a vectorised agent model seeded from the atlas, Monte Carlo,
calibration with a holdout, and Sobol sensitivity.

Library entry points (the CLI and the API call these):

- `simulate(scenario, overrides, runs, seed, con=...)` -> result dict
- `compare(a, b, runs, seed, con=...)` -> differences with bands
- `calibrate(scenario, con=...)` -> fit dict (`save_fit` writes it beside the store)
- `sensitivity(scenario, con=...)` -> Sobol indices with confidence intervals
- `builtin_scenarios()`, `load_scenario(spec, overrides)`

The kernel (`statecap.sim.model.run_model`) is pure: arrays, parameters and a Generator in,
arrays out. See docs/model.md for every equation and parameter.
"""

from statecap.sim.calibrate import calibrate, save_fit
from statecap.sim.montecarlo import compare, run_simulation, simulate, summarize
from statecap.sim.scenario import builtin_scenarios, load_scenario
from statecap.sim.sensitivity import sensitivity, sobol_indices

__all__ = [
    "builtin_scenarios",
    "calibrate",
    "compare",
    "load_scenario",
    "run_simulation",
    "save_fit",
    "sensitivity",
    "simulate",
    "sobol_indices",
    "summarize",
]
