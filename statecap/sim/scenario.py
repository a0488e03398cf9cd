"""Scenario files: loading, inheritance, overrides and validation.

A scenario is a YAML mapping (see docs/model.md, "Scenario files"): horizon, agent settings,
drivers by sector and year, levers (state money by mechanism, sector and year; fund phases;
talent; tech parks), behaviour parameters and sector parameters. Each parameter is a value or a
distribution and carries its source or a stated prior.

A scenario may ``extends:`` another (a built-in name or a path); the child is merged key by key
over the parent, and a key set to null removes the parent's entry. Overrides (from the CLI's
``--set`` or the API) are merged last, with dotted keys allowed (``parameters.x.value``).

Every problem is reported with the file, the line where known, the key path and the reason.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from statecap.errors import DataError, Problem
from statecap.model.dataset import GuardedYAMLLoader
from statecap.model.taxonomy import load_taxonomy
from statecap.sim.model import GLOBAL_PARAMS, SECTOR_PARAMS
from statecap.sim.params import ParamSpec

DRIVERS = (
    "export_controls",
    "acquisition_openness",
    "foreign_tech_access",
    "domestic_demand_share",
    "soe_reform",
)
SERIES_LEVERS = ("talent", "tech_parks")
YEAR_RANGE = (1990, 2100)
OVERRIDES = "<overrides>"

# The range each parameter may take (inclusive); a distribution must stay inside it.
DOMAINS: dict[str, tuple[float, float]] = {
    "soe_efficiency_discount": (0.0, 0.95),
    "fund_crowding": (-1.0, 5.0),
    "knowledge_productivity": (0.0, 10.0),
    "research_elasticity": (0.05, 1.5),
    "knowledge_spillover": (-2.0, 0.99),
    "learning_rate": (0.0, 0.6),
    "tech_transfer_rate": (0.0, 1.0),
    "debt_financed_share": (0.0, 1.0),
    "debt_repayment_rate": (0.0, 1.0),
    "control_demand_shift": (0.0, 1.0),
    "control_foreign_supply_cut": (0.0, 1.0),
    "foreign_input_dependence": (0.0, 1.0),
    "acquisition_gain": (0.0, 1.0),
    "state_acquirer_penalty": (0.0, 1.0),
    "designated_acquirer_penalty": (0.0, 1.0),
    "deal_size_cny_bn": (1e-3, 1e4),
    "talent_effect": (0.0, 5.0),
    "talent_half_cny_bn": (1e-3, 1e5),
    "park_effectiveness": (0.0, 1.0),
    "jv_cost_cny_bn": (1e-3, 1e4),
    "quality_elasticity": (0.0, 10.0),
    "investment_response": (0.0, 5.0),
    "depreciation": (0.0, 0.5),
    "rd_shock_sigma": (0.0, 2.0),
    "private_liability_ratio": (0.0, 0.99),
    "build_years": (1.0, 10.0),
    "state_capital_yield": (0.0, 1.0),
    "market_size_cny_bn": (1e-3, 1e7),
    "market_growth": (-0.5, 1.0),
    "frontier_growth": (0.0, 1.0),
    "margin": (0.0, 1.0),
    "rd_intensity": (1e-4, 1.0),
    "capital_intensity": (1e-3, 100.0),
    "initial_self_sufficiency": (0.01, 99.99),
    "onshore_foreign_share": (0.0, 0.99),
    "initial_capability": (0.01, 1.0),
    "input_dependence": (0.0, 1.0),
    "state_controlled_capital_share": (0.0, 1.0),
    "initial_soe_liability_ratio": (0.0, 99.0),
}

AGENT_SETTINGS = {
    "from_atlas": bool,
    "synthetic_private_per_sector": int,
    "synthetic_foreign_per_sector": int,
    "min_soes_per_sector": int,
    "synthetic_size_sigma": float,
}


@dataclass(frozen=True)
class AgentSettings:
    """How the population is built: atlas agents plus synthetic firms per sector."""

    from_atlas: bool = True
    synthetic_private_per_sector: int = 120
    synthetic_foreign_per_sector: int = 15
    min_soes_per_sector: int = 4
    synthetic_size_sigma: float = 1.0


@dataclass(frozen=True)
class MoneyEntry:
    """State money for one mechanism and sector: CNY bn per year, by year."""

    name: str
    mechanism: str
    sector: str
    years: dict[int, float]
    until: int | None
    source: str | None
    prior: str | None
    fund: str | None = None


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: everything needed, with atlas data, to build model inputs."""

    name: str
    description: str
    file: str
    horizon: tuple[int, int]
    agents: AgentSettings
    use_observations: bool
    drivers: dict[str, dict[str, dict[int, float]]]
    driver_sources: dict[str, str]
    from_atlas_through: int | None
    money: tuple[MoneyEntry, ...]
    series_levers: dict[str, dict[str, dict[int, float]]]
    params: dict[str, ParamSpec]
    sector_params: dict[str, dict[str, ParamSpec]]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def years(self) -> list[int]:
        return list(range(self.horizon[0], self.horizon[1] + 1))

    def all_params(self) -> dict[str, ParamSpec]:
        """Global and sector parameters by dotted name."""
        out = dict(self.params)
        for fld, by_sector in self.sector_params.items():
            for s, spec in by_sector.items():
                out[f"sectors.{s}.{fld}"] = spec
        return out


# --- YAML with line numbers -------------------------------------------------------------------


def _node_lines(node: yaml.Node, prefix: str, file: str, out: dict[str, tuple[str, int]]) -> None:
    out.setdefault(prefix, (file, node.start_mark.line + 1))
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = str(k.value)
            path = f"{prefix}.{key}" if prefix else key
            out[path] = (file, k.start_mark.line + 1)
            _node_lines(v, path, file, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _node_lines(v, f"{prefix}[{i}]", file, out)


def _read_yaml(path: Path) -> tuple[Any, dict[str, tuple[str, int]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(Problem(str(path), None, None, f"cannot read: {exc.strerror or exc}")) from None
    except UnicodeDecodeError as exc:
        raise DataError(Problem(str(path), None, None, f"not valid UTF-8 (byte {exc.start})")) from None
    loader = None
    try:
        loader = GuardedYAMLLoader(text)  # no aliases (billion laughs), no deep nesting
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
            line = text[: exc.position].count("\n") + 1
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DataError(Problem(str(path), None, None, f"not valid YAML: {reason}", line)) from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[str, tuple[str, int]] = {}
    if node is not None:
        _node_lines(node, "", str(path), lines)
    return data, lines


# --- built-in scenarios -----------------------------------------------------------------------


def scenarios_dir() -> Path:
    """The folder of built-in scenario files."""
    return Path(str(resources.files("statecap.sim") / "scenarios"))


def builtin_scenarios() -> list[dict[str, Any]]:
    """The built-in scenarios: name, description, file, in a stable order (baseline first)."""
    out = []
    for path in sorted(scenarios_dir().glob("*.yaml")):
        data, _ = _read_yaml(path)
        if not isinstance(data, dict):
            continue
        out.append(
            {
                "name": str(data.get("name", path.stem)),
                "description": str(data.get("description", "")).strip(),
                "extends": data.get("extends"),
                "file": str(path),
            }
        )
    out.sort(key=lambda d: (d["name"] != "baseline", d["name"]))
    return out


def _locate(ref: str | Path, relative_to: Path | None = None) -> Path:
    ref_s = str(ref)
    builtin = scenarios_dir() / f"{ref_s}.yaml"
    if "/" not in ref_s and not ref_s.endswith((".yaml", ".yml")) and builtin.exists():
        return builtin
    path = Path(ref_s).expanduser()
    if not path.is_absolute() and relative_to is not None and (relative_to / path).exists():
        path = relative_to / path
    if path.exists():
        return path
    names = ", ".join(s["name"] for s in builtin_scenarios())
    raise DataError(
        Problem(ref_s, None, None, f"no built-in scenario or file by this name (built-in: {names})")
    )


# --- merging ----------------------------------------------------------------------------------


class _ReplaceSpec(dict[str, Any]):
    """A mapping that replaces, rather than merges into, what it overrides."""


def deep_merge(base: Any, over: Any) -> Any:
    """`over` merged into `base`: mappings key by key, anything else replaced; None deletes.

    A `_ReplaceSpec` (an override that gives a whole parameter spec) replaces what it overrides.
    """
    if isinstance(over, _ReplaceSpec):
        return dict(over)
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = deep_merge(out[k], v)
            else:
                out[k] = deep_merge(None, v)
        return out
    if isinstance(over, dict):
        return {k: deep_merge(None, v) for k, v in over.items() if v is not None}
    return copy.deepcopy(over)


def expand_dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b.c": 1}`` -> ``{"a": {"b": {"c": 1}}}``; nested mappings are expanded too."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = str(key).split(".")
        if isinstance(value, dict):
            value = expand_dotted(value)
        node = out
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = {}
                node[p] = nxt
            node = nxt
        last = parts[-1]
        if isinstance(node.get(last), dict) and isinstance(value, dict):
            node[last] = deep_merge(node[last], value)
        else:
            node[last] = value
    return out


def _load_chain(path: Path, seen: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, tuple[str, int]]]:
    key = str(path.resolve())
    if key in seen:
        raise DataError(Problem(str(path), None, "extends", "scenarios extend each other in a loop"))
    data, lines = _read_yaml(path)
    if not isinstance(data, dict):
        raise DataError(Problem(str(path), None, None, "a scenario file must be a YAML mapping", 1))
    parent_ref = data.get("extends")
    if parent_ref is None:
        return data, lines
    if not isinstance(parent_ref, str):
        line = lines.get("extends", (str(path), None))[1]
        raise DataError(Problem(str(path), None, "extends", "must be a scenario name or path", line))
    try:
        parent_path = _locate(parent_ref, path.parent)
    except DataError:
        line = lines.get("extends", (str(path), None))[1]
        raise DataError(
            Problem(str(path), None, "extends", f"no scenario {parent_ref!r} to extend", line)
        ) from None
    parent, parent_lines = _load_chain(parent_path, (*seen, key))
    child = _replacing_specs({k: v for k, v in data.items() if k != "extends"})
    merged = deep_merge(parent, child)
    merged_lines = dict(parent_lines)
    merged_lines.update(lines)
    return merged, merged_lines


# --- validation -------------------------------------------------------------------------------


class _Checker:
    """Collects problems with their file and line, by key path."""

    def __init__(self, file: str, lines: dict[str, tuple[str, int]]):
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, path: str, reason: str) -> None:
        probe = path
        while probe and probe not in self.lines:
            probe = probe.rsplit(".", 1)[0] if "." in probe else ""
        file, line = self.lines.get(probe, (self.file, None)) if probe else (self.file, None)
        self.problems.append(Problem(file, None, path, reason, line))

    def number(self, path: str, value: Any, lo: float | None = None, hi: float | None = None) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(path, f"must be a number, not {value!r}")
            return None
        x = float(value)
        if x != x or x in (float("inf"), float("-inf")):
            self.add(path, "must be a finite number")
            return None
        if lo is not None and x < lo:
            self.add(path, f"must be at least {lo:g}, not {x:g}")
            return None
        if hi is not None and x > hi:
            self.add(path, f"must be at most {hi:g}, not {x:g}")
            return None
        return x

    def year(self, path: str, value: Any) -> int | None:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"must be a year (an integer), not {value!r}")
            return None
        if not YEAR_RANGE[0] <= value <= YEAR_RANGE[1]:
            self.add(path, f"year {value} is outside {YEAR_RANGE[0]}-{YEAR_RANGE[1]}")
            return None
        return value

    def text(self, path: str, value: Any) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.add(path, "must be non-empty text")
            return None
        return value.strip()

    def mapping(self, path: str, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping, not {type(value).__name__}")
            return None
        return value

    def series(self, path: str, value: Any, lo: float, hi: float | None) -> dict[int, float] | None:
        m = self.mapping(path, value)
        if m is None:
            return None
        if not m:
            self.add(path, "needs at least one year: value")
            return None
        out: dict[int, float] = {}
        for k, v in m.items():
            y = self.year(f"{path}.{k}", k)
            x = self.number(f"{path}.{k}", v, lo, hi)
            if y is not None and x is not None:
                out[y] = x
        return dict(sorted(out.items()))


_DIST_KEYS = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "normal": ("mean", "sd", "low", "high"),
    "lognormal": ("median", "sigma"),
}
_SPEC_EXTRA = {"dist", "source", "prior", "calibrate", "unit", "note"}


def parse_param(
    ck: _Checker, path: str, name: str, value: Any, inherited: tuple[str | None, str | None] = (None, None)
) -> ParamSpec | None:
    """A parameter spec from YAML: a mapping with a value or distribution, and a source or prior.

    A bare number is accepted where a source or prior is inherited (a sector block's, or an
    override's).
    """
    domain = DOMAINS.get(name, (float("-inf"), float("inf")))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if inherited == (None, None):
            ck.add(path, "give {value: ..., source: ...} (or prior: ...); a bare number has no source")
            return None
        x = ck.number(path, value, *domain)
        if x is None:
            return None
        return ParamSpec(path, "fixed", (x,), source=inherited[0], prior=inherited[1])
    m = ck.mapping(path, value)
    if m is None:
        return None
    dist = m.get("dist", "fixed" if "value" in m else None)
    if dist is None:
        ck.add(path, "needs value: or dist: (fixed, uniform, triangular, normal, lognormal)")
        return None
    if dist not in _DIST_KEYS:
        ck.add(f"{path}.dist", f"unknown distribution {dist!r}; use one of {', '.join(_DIST_KEYS)}")
        return None
    keys = _DIST_KEYS[dist]
    unknown = set(m) - set(keys) - _SPEC_EXTRA
    if dist == "normal":
        unknown -= {"low", "high"}
    for k in sorted(unknown):
        ck.add(f"{path}.{k}", f"unknown key for a {dist} parameter (expected {', '.join(keys)})")
    args: list[float] = []
    ok = True
    for k in keys:
        if k not in m:
            if dist == "normal" and k in ("low", "high"):
                args.append(domain[0] if k == "low" else domain[1])
                continue
            ck.add(path, f"a {dist} parameter needs {k}")
            ok = False
            continue
        lo, hi = (0.0, None) if k in ("sd", "sigma") else domain
        if dist == "lognormal" and k == "median":
            lo = max(domain[0], 1e-12)
        x = ck.number(f"{path}.{k}", m[k], lo, hi)
        if x is None:
            ok = False
        else:
            args.append(x)
    if not ok:
        return None
    if dist == "uniform" and not args[0] < args[1]:
        ck.add(f"{path}.low", f"low ({args[0]:g}) must be below high ({args[1]:g})")
        return None
    if (
        dist == "triangular"
        and not args[0] <= args[1] <= args[2]
        or dist == "triangular"
        and args[0] == args[2]
    ):
        ck.add(path, "a triangular parameter needs low <= mode <= high and low < high")
        return None
    if dist == "normal" and (args[1] <= 0 or not args[2] < args[3]):
        ck.add(path, "a normal parameter needs sd > 0 and low < high")
        return None
    if dist == "lognormal":
        if args[1] <= 0:
            ck.add(f"{path}.sigma", "must be above 0")
            return None
        spec = ParamSpec(path, dist, tuple(args))
        lo, hi = spec.bounds
        if lo < domain[0] or hi > domain[1]:
            ck.add(path, f"the distribution's 0.1-99.9% range [{lo:g}, {hi:g}] leaves {domain}")
            return None
    source = m.get("source", inherited[0] if "prior" not in m else None)
    prior = m.get("prior", inherited[1] if "source" not in m else None)
    if source is None and prior is None:
        ck.add(path, "needs source: (a citation) or prior: (the stated prior and why)")
        return None
    for k, v in (("source", source), ("prior", prior)):
        if v is not None and (not isinstance(v, str) or not v.strip()):
            ck.add(f"{path}.{k}", "must be non-empty text")
            return None
    calibrate = m.get("calibrate", False)
    if not isinstance(calibrate, bool):
        ck.add(f"{path}.calibrate", "must be true or false")
        return None
    if calibrate and dist == "fixed":
        ck.add(f"{path}.calibrate", "a calibrated parameter needs a range (a distribution) to search")
        return None
    return ParamSpec(
        name=path,
        dist=dist,
        args=tuple(args),
        source=source.strip() if isinstance(source, str) else None,
        prior=prior.strip() if isinstance(prior, str) else None,
        calibrate=calibrate,
        unit=str(m.get("unit", "")),
    )


def _sector_series(
    ck: _Checker, path: str, value: Any, sectors: list[str], lo: float, hi: float | None, need_default: bool
) -> tuple[dict[str, dict[int, float]], str | None]:
    m = ck.mapping(path, value)
    if m is None:
        return {}, None
    note = m.get("source") or m.get("prior")
    if note is None:
        ck.add(path, "needs source: (a citation) or prior: (the stated prior)")
    out: dict[str, dict[int, float]] = {}
    for k, v in m.items():
        if k in ("source", "prior", "note"):
            continue
        if k != "default" and k not in sectors:
            ck.add(
                f"{path}.{k}",
                f"unknown sector {k!r}; use a top-level sector ({', '.join(sectors)}) or default",
            )
            continue
        series = ck.series(f"{path}.{k}", v, lo, hi)
        if series is not None:
            out[str(k)] = series
    if need_default and "default" not in out and not all(s in out for s in sectors):
        ck.add(path, "needs a default: series (or one series per sector)")
    return out, str(note) if note is not None else None


def validate_scenario(
    data: dict[str, Any], file: str, lines: dict[str, tuple[str, int]] | None = None
) -> Scenario:
    """Check a merged scenario mapping and build a Scenario; raises DataError with every problem."""
    ck = _Checker(file, lines or {})
    tax = load_taxonomy()
    sectors = tax.top_sectors
    mechanisms = list(tax.mechanisms)
    known = {
        "name", "description", "extends", "horizon", "agents", "observations", "drivers", "levers",
        "parameters", "sectors",
    }  # fmt: skip
    for k in data:
        if k not in known:
            ck.add(str(k), f"unknown key; expected one of {', '.join(sorted(known))}")

    name = ck.text("name", data.get("name", Path(file).stem)) or Path(file).stem
    description = str(data.get("description", "")).strip()

    horizon: tuple[int, int] = (2014, 2035)
    h = data.get("horizon")
    if not isinstance(h, list) or len(h) != 2:
        ck.add("horizon", "must be [first year, last year]")
    else:
        y0, y1 = ck.year("horizon[0]", h[0]), ck.year("horizon[1]", h[1])
        if y0 is not None and y1 is not None:
            if y1 < y0:
                ck.add("horizon", f"last year {y1} is before first year {y0}")
            else:
                horizon = (y0, y1)

    agents_raw = data.get("agents", {}) or {}
    settings: dict[str, Any] = {}
    if ck.mapping("agents", agents_raw) is not None:
        for k, v in agents_raw.items():
            typ = AGENT_SETTINGS.get(k)
            if typ is None:
                ck.add(f"agents.{k}", f"unknown setting; expected one of {', '.join(AGENT_SETTINGS)}")
            elif typ is bool:
                if not isinstance(v, bool):
                    ck.add(f"agents.{k}", "must be true or false")
                else:
                    settings[k] = v
            elif typ is int:
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 100_000:
                    ck.add(f"agents.{k}", "must be a whole number from 0 to 100000")
                else:
                    settings[k] = v
            else:
                x = ck.number(f"agents.{k}", v, 0.0, 5.0)
                if x is not None:
                    settings[k] = x
    agent_settings = AgentSettings(**settings)
    if agent_settings.synthetic_foreign_per_sector < 1:
        ck.add("agents.synthetic_foreign_per_sector", "at least one foreign firm per sector is needed")

    use_obs = data.get("observations", True)
    if not isinstance(use_obs, bool):
        ck.add("observations", "must be true or false")
        use_obs = True

    drivers: dict[str, dict[str, dict[int, float]]] = {}
    driver_sources: dict[str, str] = {}
    d_raw = data.get("drivers")
    if ck.mapping("drivers", d_raw) is not None:
        assert isinstance(d_raw, dict)
        for k in d_raw:
            if k not in DRIVERS:
                ck.add(f"drivers.{k}", f"unknown driver; expected one of {', '.join(DRIVERS)}")
        for dname in DRIVERS:
            if dname not in d_raw:
                ck.add(f"drivers.{dname}", "missing driver")
                continue
            series, note = _sector_series(ck, f"drivers.{dname}", d_raw[dname], sectors, 0.0, 1.0, True)
            drivers[dname] = series
            if note is not None:
                driver_sources[dname] = note

    money: list[MoneyEntry] = []
    series_levers: dict[str, dict[str, dict[int, float]]] = {}
    through: int | None = None
    lv = data.get("levers", {}) or {}
    if ck.mapping("levers", lv) is not None:
        for k in lv:
            if k not in ("from_atlas", "state_capital", "fund_phases", *SERIES_LEVERS):
                ck.add(
                    f"levers.{k}",
                    "unknown lever; expected from_atlas, state_capital, fund_phases, talent, tech_parks",
                )
        fa = lv.get("from_atlas", False)
        if fa is False:
            through = None
        elif isinstance(fa, dict):
            unknown = set(fa) - {"through", "note"}
            for k in sorted(unknown):
                ck.add(f"levers.from_atlas.{k}", "unknown key; expected through")
            if "through" not in fa:
                ck.add("levers.from_atlas", "needs through: (the last year of recorded flows to use)")
            else:
                through = ck.year("levers.from_atlas.through", fa["through"])
        else:
            ck.add("levers.from_atlas", "must be false or {through: YEAR}")
        sc = lv.get("state_capital", {}) or {}
        if ck.mapping("levers.state_capital", sc) is not None:
            for ename, entry in sc.items():
                p = f"levers.state_capital.{ename}"
                em = ck.mapping(p, entry)
                if em is None:
                    continue
                for k in em:
                    if k not in ("mechanism", "sector", "years", "until", "source", "prior", "note"):
                        ck.add(
                            f"{p}.{k}", "unknown key; expected mechanism, sector, years, until, source, prior"
                        )
                mech = em.get("mechanism")
                if mech not in mechanisms:
                    ck.add(
                        f"{p}.mechanism", f"unknown mechanism {mech!r}; use one of {', '.join(mechanisms)}"
                    )
                sect = em.get("sector")
                if sect not in sectors:
                    ck.add(f"{p}.sector", f"unknown sector {sect!r}; use one of {', '.join(sectors)}")
                yrs = ck.series(f"{p}.years", em.get("years"), 0.0, None)
                until = ck.year(f"{p}.until", em["until"]) if "until" in em else None
                if em.get("source") is None and em.get("prior") is None:
                    ck.add(p, "needs source: (a citation) or prior: (the stated prior)")
                if mech in mechanisms and sect in sectors and yrs is not None:
                    money.append(
                        MoneyEntry(str(ename), mech, sect, yrs, until, em.get("source"), em.get("prior"))
                    )
        fp = lv.get("fund_phases", {}) or {}
        if ck.mapping("levers.fund_phases", fp) is not None:
            for pname, entry in fp.items():
                p = f"levers.fund_phases.{pname}"
                em = ck.mapping(p, entry)
                if em is None:
                    continue
                for k in em:
                    if k not in (
                        "fund",
                        "mechanism",
                        "sector",
                        "amount_cny_bn",
                        "start",
                        "years",
                        "source",
                        "prior",
                        "note",
                    ):
                        ck.add(
                            f"{p}.{k}",
                            "unknown key; expected fund, mechanism, sector, amount_cny_bn, start, years, source",
                        )
                mech = em.get("mechanism", "guidance_fund")
                if mech not in mechanisms:
                    ck.add(f"{p}.mechanism", f"unknown mechanism {mech!r}")
                sect = em.get("sector")
                if sect not in sectors:
                    ck.add(f"{p}.sector", f"unknown sector {sect!r}; use one of {', '.join(sectors)}")
                amount = ck.number(f"{p}.amount_cny_bn", em.get("amount_cny_bn"), 0.0)
                start = ck.year(f"{p}.start", em.get("start"))
                n_years = em.get("years", 5)
                if isinstance(n_years, bool) or not isinstance(n_years, int) or not 1 <= n_years <= 50:
                    ck.add(f"{p}.years", "must be a whole number of years from 1 to 50")
                    n_years = None
                fund_id = em.get("fund")
                if fund_id is not None and not isinstance(fund_id, str):
                    ck.add(f"{p}.fund", "must be an entity id")
                    fund_id = None
                if em.get("source") is None and em.get("prior") is None:
                    ck.add(p, "needs source: (a citation) or prior: (the stated prior)")
                if None not in (amount, start, n_years) and mech in mechanisms and sect in sectors:
                    assert amount is not None and start is not None and isinstance(n_years, int)
                    per_year = amount / n_years
                    yrs = {start + i: per_year for i in range(n_years)}
                    money.append(
                        MoneyEntry(
                            str(pname), mech, sect, yrs, start + n_years - 1, em.get("source"),
                            em.get("prior"), fund=fund_id,
                        )
                    )  # fmt: skip
        for lname in SERIES_LEVERS:
            if lname in lv:
                series, _ = _sector_series(ck, f"levers.{lname}", lv[lname], sectors, 0.0, None, False)
                series_levers[lname] = series

    params: dict[str, ParamSpec] = {}
    pr = data.get("parameters")
    if ck.mapping("parameters", pr) is not None:
        assert isinstance(pr, dict)
        for k, v in pr.items():
            if k not in GLOBAL_PARAMS:
                hint = " (a sector parameter: put it under sectors:)" if k in SECTOR_PARAMS else ""
                ck.add(f"parameters.{k}", f"unknown parameter{hint}")
                continue
            spec = parse_param(ck, f"parameters.{k}", k, v)
            if spec is not None:
                params[k] = ParamSpec(
                    k, spec.dist, spec.args, spec.source, spec.prior, spec.calibrate, spec.unit
                )
        for k in GLOBAL_PARAMS:
            if k not in pr:
                ck.add(f"parameters.{k}", "missing parameter")

    sector_params: dict[str, dict[str, ParamSpec]] = {f: {} for f in SECTOR_PARAMS}
    sp = data.get("sectors")
    if ck.mapping("sectors", sp) is not None:
        assert isinstance(sp, dict)
        blocks: dict[str, dict[str, ParamSpec]] = {}
        for skey, block in sp.items():
            p = f"sectors.{skey}"
            if skey != "default" and skey not in sectors:
                ck.add(
                    p, f"unknown sector {skey!r}; use a top-level sector ({', '.join(sectors)}) or default"
                )
                continue
            bm = ck.mapping(p, block)
            if bm is None:
                continue
            inherited = (bm.get("source"), bm.get("prior"))
            blocks[skey] = {}
            for fld, v in bm.items():
                if fld in ("source", "prior", "note"):
                    continue
                if fld not in SECTOR_PARAMS:
                    hint = " (a global parameter: put it under parameters:)" if fld in GLOBAL_PARAMS else ""
                    ck.add(f"{p}.{fld}", f"unknown sector parameter{hint}")
                    continue
                spec = parse_param(ck, f"{p}.{fld}", fld, v, inherited)
                if spec is not None:
                    blocks[skey][fld] = spec
        for fld in SECTOR_PARAMS:
            for s in sectors:
                spec = blocks.get(s, {}).get(fld) or blocks.get("default", {}).get(fld)
                if spec is None:
                    ck.add(f"sectors.{s}.{fld}", "no value for this sector and no default")
                    continue
                sector_params[fld][s] = ParamSpec(
                    f"sectors.{s}.{fld}",
                    spec.dist,
                    spec.args,
                    spec.source,
                    spec.prior,
                    spec.calibrate,
                    spec.unit,
                )

    if ck.problems:
        raise DataError(ck.problems)
    return Scenario(
        name=name,
        description=description,
        file=file,
        horizon=horizon,
        agents=agent_settings,
        use_observations=bool(use_obs),
        drivers=drivers,
        driver_sources=driver_sources,
        from_atlas_through=through,
        money=tuple(money),
        series_levers=series_levers,
        params=params,
        sector_params=sector_params,
        raw=data,
    )


def load_scenario(spec: str | Path | dict[str, Any], overrides: dict[str, Any] | None = None) -> Scenario:
    """A validated scenario from a built-in name, a file path, or a mapping, with overrides.

    Args:
        spec: ``baseline`` (a built-in), a path to a YAML file, or an already-parsed mapping
            (which may say ``extends:``).
        overrides: nested or dotted keys merged over the scenario, e.g.
            ``{"parameters.soe_efficiency_discount": 0.1}``. A bare number given for a
            parameter holds it fixed at that value (its source becomes "override").

    Raises:
        DataError: naming the file (or ``<overrides>``), the line where known, the key path and
            the reason for every problem.
    """
    if isinstance(spec, dict):
        file = "<scenario>"
        data = dict(spec)
        lines: dict[str, tuple[str, int]] = {}
        parent_ref = data.pop("extends", None)
        if parent_ref is not None:
            parent, lines = _load_chain(_locate(str(parent_ref)))
            data = deep_merge(parent, data)
    else:
        path = _locate(spec)
        file = str(path)
        data, lines = _load_chain(path)
    if overrides:
        if not isinstance(overrides, dict):
            raise DataError(
                Problem(OVERRIDES, None, None, "overrides must be a mapping of key paths to values")
            )
        expanded = _wrap_override_numbers(expand_dotted(overrides))
        data = deep_merge(data, expanded)
        for path_key in _paths(expanded):
            lines[path_key] = (OVERRIDES, 0)
    return validate_scenario(data, file, _clean_lines(lines))


def _clean_lines(lines: dict[str, tuple[str, int]]) -> dict[str, tuple[str, int]]:
    return {k: (f, ln) for k, (f, ln) in lines.items()}


def _paths(d: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        p = f"{prefix}.{k}" if prefix else str(k)
        out.append(p)
        if isinstance(v, dict):
            out.extend(_paths(v, p))
    return out


def _wrap_override_numbers(ov: dict[str, Any]) -> dict[str, Any]:
    """Bare numbers given for parameters become fixed values with source "override"."""
    out = dict(ov)
    params = out.get("parameters")
    if isinstance(params, dict):
        out["parameters"] = {
            k: _override_value(v) if not isinstance(v, dict) else _replace_spec(v, "override")
            for k, v in params.items()
        }
    sectors = out.get("sectors")
    if isinstance(sectors, dict):
        out["sectors"] = {
            s: (
                {
                    k: _override_value(v) if not isinstance(v, dict) else _replace_spec(v, "override")
                    for k, v in block.items()
                }
                if isinstance(block, dict)
                else block
            )
            for s, block in sectors.items()
        }
    return out


def _replacing_specs(data: dict[str, Any]) -> dict[str, Any]:
    """A child's parameter specs that give a value or a distribution replace the parent's."""
    out = dict(data)
    params = out.get("parameters")
    if isinstance(params, dict):
        out["parameters"] = {k: _replace_spec(v) if isinstance(v, dict) else v for k, v in params.items()}
    sectors = out.get("sectors")
    if isinstance(sectors, dict):
        out["sectors"] = {
            s: {k: _replace_spec(v) if isinstance(v, dict) else v for k, v in block.items()}
            if isinstance(block, dict)
            else block
            for s, block in sectors.items()
        }
    return out


def _override_value(v: Any) -> Any:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return _ReplaceSpec({"value": v, "source": "override"})
    return v


def _replace_spec(v: dict[str, Any], default_source: str | None = None) -> Any:
    """A spec that gives a value or a distribution replaces the whole parameter spec."""
    if "dist" in v or "value" in v:
        spec = dict(v)
        if default_source is not None and "source" not in spec and "prior" not in spec:
            spec["source"] = default_source
        return _ReplaceSpec(spec)
    return v
