"""Writing a simulation's runs: every run's yearly series as Parquet, with what produced them."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from statecap.sim.model import OUTPUTS
from statecap.sim.montecarlo import SimulationRun


def runs_table(run: SimulationRun) -> pa.Table:
    """One row per (run, year, sector) with every output as a column."""
    R, T, S, _ = run.outputs.shape
    run_col = np.repeat(np.arange(R, dtype=np.int32), T * S)
    year_col = np.tile(np.repeat(run.years.astype(np.int16), S), R)
    sector_idx = np.tile(np.arange(S, dtype=np.int32), R * T)
    flat = run.outputs.reshape(R * T * S, len(OUTPUTS))
    cols: dict[str, pa.Array] = {
        "run": pa.array(run_col),
        "year": pa.array(year_col),
        "sector": pa.DictionaryArray.from_arrays(pa.array(sector_idx), pa.array(list(run.sectors))),
    }
    for k, name in enumerate(OUTPUTS):
        cols[name] = pa.array(flat[:, k])
    return pa.table(cols)


def params_table(run: SimulationRun) -> pa.Table:
    """One row per run with every parameter's value (sector ones as ``sectors.<s>.<name>``)."""
    cols: dict[str, Any] = {"run": np.arange(run.runs, dtype=np.int32)}
    for name, values in sorted(run.params.values.items()):
        cols[name] = np.asarray(values, dtype=float)
    for name, values in sorted(run.params.sector_values.items()):
        for j, s in enumerate(run.sectors):
            cols[f"sectors.{s}.{name}"] = np.asarray(values[:, j], dtype=float)
    return pa.table(cols)


def write_runs(run: SimulationRun, out_dir: str | Path, summary: dict[str, Any]) -> list[Path]:
    """Write runs.parquet, parameters.parquet, summary.json and scenario.yaml into `out_dir`.

    The files are written to a temporary folder beside `out_dir` first and moved in one by one,
    so a failure leaves no half-written file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".statecap-sim-", dir=str(out)))
    try:
        pq.write_table(runs_table(run), tmp / "runs.parquet", compression="zstd")
        pq.write_table(params_table(run), tmp / "parameters.parquet", compression="zstd")
        (tmp / "summary.json").write_text(
            json.dumps(summary, indent=2, ensure_ascii=False, default=_json_default) + "\n", encoding="utf-8"
        )
        raw = json.loads(json.dumps(run.compiled.scenario.raw, default=_json_default))
        (tmp / "scenario.yaml").write_text(
            "# the scenario as run, with overrides merged\n"
            + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )
        written = []
        for name in ("runs.parquet", "parameters.parquet", "summary.json", "scenario.yaml"):
            os.replace(tmp / name, out / name)
            written.append(out / name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _json_default(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)
