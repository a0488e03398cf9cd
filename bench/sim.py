"""Policy-lab benchmark: statecap's vectorised kernel against the same rules in Mesa 3.

Measures, in one run on this machine:

1. statecap alone: 1,000 runs of `baseline` over the built-in atlas (target: within 20 s);
2. statecap and Mesa (bench/mesa_model.py) on the same population of about 2,000 agents over
   20 years, 200 runs each: the time of each, their ratio, and two-sample Kolmogorov-Smirnov
   tests of the headline outputs' final-year distributions (independent parameter draws and
   shocks per implementation, so agreement is distributional);
3. a deterministic cross-check: with shocks and random events switched off, both give the
   same yearly outputs to rounding.

Wall and CPU (process) times are both reported: the development machine is shared, so wall
time includes waiting for the CPU. Writes its section of bench/RESULTS.md.

Usage: python -m bench.sim [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import ks_2samp

from statecap.sim.compile import draw_params
from statecap.sim.model import OUTPUTS
from statecap.sim.montecarlo import prepare, run_compiled

RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN = "<!-- bench.sim: begin -->"
END = "<!-- bench.sim: end -->"
KS_OUTPUTS = (
    "self_sufficiency",
    "capability",
    "soe_debt_ratio",
    "return_on_state_capital",
    "private_capital_cum",
)
POPULATION = {
    "agents.from_atlas": False,
    "agents.synthetic_private_per_sector": 225,
    "agents.synthetic_foreign_per_sector": 60,
    "agents.min_soes_per_sector": 4,
    "horizon": [2014, 2033],
}


def _timed(fn: Any) -> tuple[Any, float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    res = fn()
    return res, time.perf_counter() - w0, time.process_time() - c0


def _builtin_atlas() -> tuple[Any, str]:
    """The built-in atlas, built into a temporary store; None (synthetic only) if it fails."""
    import duckdb

    from statecap.sim.atlas import read_atlas
    from statecap.store.build import build_store

    try:
        path = Path(tempfile.mkdtemp(prefix="statecap-bench-sim-")) / "atlas.duckdb"
        build_store(None, path)
        with duckdb.connect(str(path), read_only=True) as con:
            return read_atlas(con, 2014), "built-in atlas"
    except Exception as exc:  # noqa: BLE001 - the dataset may be mid-edit; report and go on
        return None, f"synthetic agents only (built-in atlas failed to build: {type(exc).__name__})"


def bench_baseline(runs: int) -> dict[str, Any]:
    atlas, label = _builtin_atlas()
    comp, _ = prepare("baseline", seed=0, atlas=atlas, calibration=None)
    run_compiled(comp, 10, 0)  # warm-up
    _, wall, cpu = _timed(lambda: run_compiled(comp, runs, 0))
    return {
        "runs": runs,
        "agents": len(comp.inputs.agents),
        "years": len(comp.inputs.years),
        "wall_s": wall,
        "cpu_s": cpu,
        "atlas": label,
    }


def bench_mesa(runs: int) -> dict[str, Any]:
    from bench.mesa_model import run_mesa

    comp, _ = prepare("baseline", POPULATION, seed=0, atlas=None, calibration=None)
    n_agents = len(comp.inputs.agents)
    p_a = draw_params(comp, runs, 11)
    p_b = draw_params(comp, runs, 12)
    (out_a, _), wall_a, cpu_a = _timed(lambda: run_compiled(comp, runs, 11, params=p_a))
    out_b, wall_b, cpu_b = _timed(
        lambda: run_mesa(comp.inputs, dict(p_b.values), dict(p_b.sector_values), 12)
    )
    semis = comp.inputs.sectors.index("semiconductors")
    ks = {}
    for o in KS_OUTPUTS:
        k = OUTPUTS.index(o)
        x, y = out_a[:, -1, semis, k], out_b[:, -1, semis, k]
        res = ks_2samp(x, y)
        ks[o] = {
            "statistic": float(res.statistic),
            "p": float(res.pvalue),
            "median_statecap": float(np.median(x)),
            "median_mesa": float(np.median(y)),
        }

    # deterministic cross-check: no shocks, no acquisition or joint-venture money
    det = {
        **POPULATION,
        "parameters.rd_shock_sigma": 0.0,
        "levers.state_capital.ic-overseas-ma": None,
        "agents.synthetic_private_per_sector": 20,
        "agents.synthetic_foreign_per_sector": 5,
    }
    comp_d, _ = prepare("baseline", det, seed=1, atlas=None, calibration=None)
    pd_ = draw_params(comp_d, 3, 1)
    out_k, _ = run_compiled(comp_d, 3, 1, params=pd_)
    out_m = run_mesa(comp_d.inputs, dict(pd_.values), dict(pd_.sector_values), 1)
    rel = float(np.max(np.abs(out_k - out_m) / np.maximum(1.0, np.abs(out_k))))
    return {
        "runs": runs,
        "agents": n_agents,
        "years": len(comp.inputs.years),
        "statecap_wall_s": wall_a,
        "statecap_cpu_s": cpu_a,
        "mesa_wall_s": wall_b,
        "mesa_cpu_s": cpu_b,
        "speedup_wall": wall_b / wall_a,
        "speedup_cpu": cpu_b / cpu_a,
        "ks": ks,
        "bonferroni_alpha": 0.05 / len(KS_OUTPUTS),
        "deterministic_max_rel_diff": rel,
    }


def render(base: dict[str, Any], mesa: dict[str, Any], quick: bool) -> str:
    import mesa as mesa_pkg

    lines = [
        BEGIN,
        "## bench.sim — policy lab (statecap kernel vs Mesa 3)",
        "",
        f"Run {time.strftime('%Y-%m-%d')} with `python -m bench.sim{' --quick' if quick else ''}` "
        f"(Python {platform.python_version()}, numpy {np.__version__}, Mesa {mesa_pkg.__version__}). "
        "Wall time includes waiting for a shared CPU; CPU time is the process's own.",
        "",
        f"**statecap alone**: {base['runs']} runs of `baseline` ({base['agents']} agents, {base['years']} years, "
        f"{base['atlas']}): {base['wall_s']:.2f} s wall, {base['cpu_s']:.2f} s CPU "
        f"(target: within 20 s).",
        "",
        f"**statecap vs Mesa**: the same rules on {mesa['agents']} agents x {mesa['years']} years x "
        f"{mesa['runs']} runs each.",
        "",
        "| implementation | wall s | CPU s |",
        "|---|---:|---:|",
        f"| statecap (numpy, runs x agents arrays) | {mesa['statecap_wall_s']:.2f} | {mesa['statecap_cpu_s']:.2f} |",
        f"| Mesa 3 (one Python object per agent) | {mesa['mesa_wall_s']:.1f} | {mesa['mesa_cpu_s']:.1f} |",
        f"| **speed-up** | **{mesa['speedup_wall']:.0f}x** | **{mesa['speedup_cpu']:.0f}x** |",
        "",
        "Two-sample KS tests, semiconductors, final year (independent draws per implementation; "
        f"agreement at 5% with Bonferroni over {len(mesa['ks'])} outputs means p > {mesa['bonferroni_alpha']:.3f}):",
        "",
        "| output | median statecap | median Mesa | KS statistic | p | agree |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for o, r in mesa["ks"].items():
        agree = "yes" if r["p"] > mesa["bonferroni_alpha"] else "**no**"
        lines.append(
            f"| {o} | {r['median_statecap']:.3g} | {r['median_mesa']:.3g} | {r['statistic']:.3f} | {r['p']:.3f} | {agree} |"
        )
    lines += [
        "",
        "Deterministic cross-check (shocks off, no acquisition or joint-venture money): largest "
        f"relative difference between the two implementations over every output, year and sector: "
        f"{mesa['deterministic_max_rel_diff']:.1e}.",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        new = head + text.rstrip("\n") + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.sim", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs (a smoke test of the benchmark)")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = ap.parse_args(argv)
    base = bench_baseline(100 if args.quick else 1000)
    print(
        f"baseline: {base['runs']} runs, {base['agents']} agents: {base['wall_s']:.2f} s wall, {base['cpu_s']:.2f} s CPU",
        flush=True,
    )
    mesa = bench_mesa(20 if args.quick else 200)
    text = render(base, mesa, args.quick)
    print(text)
    if not args.no_write and not args.quick:
        write_section(text)


if __name__ == "__main__":
    main()
