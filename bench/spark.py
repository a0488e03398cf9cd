"""Spark engine benchmark: the same ownership answers on Spark local[2] and on the local engine.

For each size (1M and 10M entities; 20k with --quick): generate the synthetic registry as
Parquet (`statecap synth`), run the local engine and the Spark engine (``local[2]``) on it, each
in a fresh process (its wall time per step and the peak memory of its whole process tree,
the JVM included), write both answers as Parquet and compare them row by row (1e-9).

Usage: python -m bench.spark [--quick] [--sizes 1000000,10000000] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "RESULTS.md"
SECTION = "## Spark engine (bench/spark.py)"
DAY = dt.date(2026, 1, 1)


def _pss_bytes(pid: int) -> int | None:
    """A process's proportional set size (shared pages divided among their users), or None."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _tree_rss_mb(pid: int) -> float:
    """Memory of a process tree in MB: the sum of proportional set sizes where the kernel reports
    them (Spark's Python workers are forked and share pages, which a sum of RSS counts again for
    each worker), else the sum of resident sizes."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for q in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            pss = _pss_bytes(q.pid)
            total += pss if pss is not None else q.memory_info().rss
    return total / 2**20


def _run_measured(cmd: list[str], timeout: float, log: Path) -> tuple[dict[str, Any], float, float]:
    """Run `cmd` (prints one JSON line last), sampling its process tree's RSS: (json, wall, peak MB).

    The child's stderr goes to `log`.
    """
    t = time.perf_counter()
    peak = [0.0]
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)

        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
                time.sleep(0.5)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        out, _ = proc.communicate(timeout=timeout)
    wall = time.perf_counter() - t
    th.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with code {proc.returncode} (see {log})")
    return json.loads(out.strip().splitlines()[-1]), wall, peak[0]


def one(engine: str, registry: str, out: str, master: str, driver_memory: str) -> None:
    """Child process: run one engine and print its step times as JSON."""
    from statecap.engines import get_engine, open_source

    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    last = [t0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        steps[stage] = steps.get(stage, 0.0) + now - last[0]
        last[0] = now

    opts: dict[str, Any] = {}
    if engine == "spark":
        opts = {"driver_memory": driver_memory, "shuffle_partitions": 8, "progress": progress}
    eng = get_engine(engine, master, **opts)
    started = time.perf_counter()
    path = eng.write_ownership(open_source(registry), out, as_of=DAY)
    done = time.perf_counter()
    eng.close()
    steps["rest"] = done - last[0] if engine == "spark" else 0.0
    print(json.dumps({"start_s": started - t0, "run_s": done - started, "steps": steps, "path": str(path)}))


def compare(a: str, b: str) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from statecap.engines import compare_ownership

    return compare_ownership(pq.read_table(a), pq.read_table(b))


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def write_results(text: str) -> None:
    body = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if SECTION in body:
        start = body.index(SECTION)
        # the section ends where the next one (or another benchmark's begin marker) starts
        ends = [i for i in (body.find("\n## ", start + len(SECTION)), body.find("\n<!-- ", start)) if i >= 0]
        nxt = min(ends) if ends else -1
        body = body[:start] + text.rstrip("\n") + "\n" + (body[nxt:] if nxt >= 0 else "")
    else:
        body = body.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(body if body.endswith("\n") else body + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench.spark")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default=None)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="14g")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--report-from", default=None, help="write RESULTS.md from a finished run's results.json")
    ap.add_argument("--note", default="", help="a sentence added to the report (conditions of the run)")
    ap.add_argument("--one", nargs=4, metavar=("ENGINE", "REGISTRY", "OUT", "MASTER"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        one(*args.one, driver_memory=args.driver_memory)
        return
    sizes = [int(s) for s in (args.sizes or ("20000" if args.quick else "1000000,10000000")).split(",")]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-spark-"))
    rows: list[dict[str, Any]] = []
    if args.report_from:
        rows = json.loads((Path(args.report_from) / "results.json").read_text())
        sizes = []
    for n in sizes:
        reg = work / f"synth-{n}-{args.seed}"
        if not (reg / "stakes.parquet").exists():
            from statecap.graph.synth import generate, write_parquet

            write_parquet(generate(n, args.seed), reg)
        import pyarrow.parquet as pq

        stakes = pq.ParquetFile(reg / "stakes.parquet").metadata.num_rows
        row: dict[str, Any] = {"entities": n, "stakes": stakes}
        for engine in ("local", "spark"):
            out = work / f"out-{engine}-{n}"
            cmd = [
                sys.executable,
                "-m",
                "bench.spark",
                "--driver-memory",
                args.driver_memory,
                "--one",
                engine,
                str(reg),
                str(out),
                args.master,
            ]
            res, wall, peak = _run_measured(cmd, timeout=6 * 3600, log=work / f"{engine}-{n}.log")
            row[engine] = {**res, "wall_s": wall, "peak_mb": peak}
            print(f"{n:,} {engine}: {wall:.1f} s, peak {peak:.0f} MB, steps {res['steps']}", flush=True)
        row["compare"] = compare(row["local"]["path"], row["spark"]["path"])
        print(f"{n:,} compare: {row['compare']}", flush=True)
        rows.append(row)
        (work / "results.json").write_text(json.dumps(rows, indent=1))
    if args.no_write:
        return
    lines = [
        SECTION,
        "",
        f"Run: {time.strftime('%Y-%m-%d')}, {machine()}; seed {args.seed}; master `{args.master}`; "
        f"`python -m bench.spark{' --quick' if args.quick else ''}`. Both engines answer the whole ownership "
        "table (state share bounds, La Porta 20%/10% bounds, majority chains, state class) for every entity, "
        "as of 2026-01-01, and write it as Parquet; each runs in a fresh process, and peak memory is the whole "
        "process tree's (the JVM and Python workers included; proportional set sizes, so pages the forked workers share count once).",
        "",
        "| entities | stakes | engine | wall (s) | start-up (s) | run (s) | of which load + levels (s) | bounds (s) | control + write (s) | peak memory (MB) |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for engine in ("local", "spark"):
            e = r[engine]
            st = e["steps"]
            parts = (
                f"{st.get('levels', 0):.1f} | {st.get('bounds', 0):.1f} | {st.get('rest', 0):.1f}"
                if engine == "spark"
                else "- | - | -"
            )
            lines.append(
                f"| {r['entities']:,} | {r['stakes']:,} | {engine} | {e['wall_s']:.1f} | {e['start_s']:.1f} | "
                f"{e['run_s']:.1f} | {parts} | {e['peak_mb']:.0f} |"
            )
    lines += [
        "",
        "| entities | rows compared | mismatches (beyond 1e-9 or unequal) | max abs diff (pp) |",
        "|---:|---:|---|---:|",
    ]
    for r in rows:
        c = r["compare"]
        lines.append(
            f"| {r['entities']:,} | {c['rows']:,} | {c['mismatches'] or 'none'} | {max(c['max_abs_diff'].values()):.2g} |"
        )
    if args.note:
        lines += ["", args.note]
    write_results("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
