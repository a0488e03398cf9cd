"""Load benchmark: many concurrent clients against `statecap serve` on loopback, for a fixed time.

The server is the real command (`statecap serve`, one uvicorn process) over a store built from
the built-in dataset (or a synthetic registry with ``--synth N``). Each client is an asyncio task
with its own keep-alive connection (httpx); it picks an endpoint (entity profile, owners,
screening) and an entity at random, waits for the answer, records the latency and status, and
goes again until the time is up. Any answer other than 200, or any transport error, is an error.
The load generator runs on the same machine, so it competes with the server for the CPU.

Usage: python -m bench.load [--quick] [--clients 50] [--seconds 30] [--synth N] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN = "<!-- bench.load: begin -->"
END = "<!-- bench.load: end -->"
ENDPOINTS = {
    "entity": "/api/entities/{id}",
    "owners": "/api/entities/{id}/owners",
    "screen": "/api/entities/{id}/screen",
}
SEED = 11


@dataclass
class LoadResult:
    """Latencies (seconds) per endpoint, errors, and the wall time the clients ran."""

    clients: int
    seconds: float
    load_average: tuple[float, float] = (float("nan"), float("nan"))  # 1-minute, before and after
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def percentiles(self, name: str | None = None) -> dict[str, float]:
        """p50/p95/p99/max in milliseconds, for one endpoint or all of them."""
        values = self.latencies.get(name, []) if name else [x for v in self.latencies.values() for x in v]
        if not values:
            return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
        a = np.asarray(values) * 1000.0
        p50, p95, p99 = np.percentile(a, [50, 95, 99])
        return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "max": float(a.max())}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(db: Path, port: int | None = None, timeout: float = 180.0) -> Iterator[str]:
    """Run `statecap serve` on 127.0.0.1 in a child process; yield its base URL once it answers."""
    import httpx

    port = port or free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("STATECAP_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "statecap", "serve", "--port", str(port), "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"statecap serve exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                if httpx.get(f"{url}/api/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("statecap serve did not answer")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _client(client: Any, ids: list[str], rng: random.Random, stop: float, result: LoadResult) -> None:
    names = list(ENDPOINTS)
    while time.perf_counter() < stop:
        name = rng.choice(names)
        path = ENDPOINTS[name].format(id=rng.choice(ids))
        t0 = time.perf_counter()
        try:
            r = await client.get(path)
            ok = r.status_code == 200
            why = f"{r.status_code} {path}"
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
            ok, why = False, f"{type(exc).__name__} {path}"
        elapsed = time.perf_counter() - t0
        if ok:
            result.latencies.setdefault(name, []).append(elapsed)
        else:
            result.errors.append(why)


async def run_load(url: str, ids: list[str], clients: int, seconds: float, seed: int = SEED) -> LoadResult:
    """`clients` concurrent clients for `seconds` against `url`; stops by itself."""
    import httpx

    result = LoadResult(clients=clients, seconds=seconds)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120.0) as client:
        stop = time.perf_counter() + seconds
        master = random.Random(seed)
        t0 = time.perf_counter()
        before = os.getloadavg()[0]
        await asyncio.gather(
            *(_client(client, ids, random.Random(master.random()), stop, result) for _ in range(clients))
        )
        result.seconds = time.perf_counter() - t0
        result.load_average = (before, os.getloadavg()[0])
    return result


def sample_entities(db: Path, n: int, seed: int = SEED) -> list[str]:
    """Up to `n` entities that have an owner (so the owners and screening answers are not empty)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        ids = [r[0] for r in con.execute("SELECT DISTINCT owned FROM stakes ORDER BY owned").fetchall()]
    finally:
        con.close()
    random.Random(seed).shuffle(ids)
    return ids[:n]


def build(workdir: Path, synth: int | None) -> Path:
    db = workdir / "atlas.duckdb"
    if synth:
        subprocess.run(
            [sys.executable, "-m", "statecap", "synth", "--entities", str(synth), "--db", str(db)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    else:
        from statecap.store.build import build_store

        build_store(None, db)
    return db


def report(result: LoadResult, store: str, entities: int, alone: LoadResult | None = None) -> str:
    lines = [
        BEGIN,
        "## bench.load — concurrent clients on loopback (`python -m bench.load`)",
        "",
        f"Run {dt.date.today().isoformat()} on {platform.machine()} with {os.cpu_count()} cores, Python "
        f"{platform.python_version()}: `statecap serve` (one uvicorn process) over {store}; "
        f"{result.clients} concurrent clients (httpx, asyncio, keep-alive) in the same machine for "
        f"{result.seconds:.0f} s, each picking one of three endpoints and one of {entities} owned entities "
        "at random. Latency is from sending the request to reading the whole answer.",
        "",
        "| endpoint | requests | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in [*ENDPOINTS, None]:
        p = result.percentiles(name)
        count = len(result.latencies.get(name, [])) if name else result.requests
        label = f"`{ENDPOINTS[name]}`" if name else "**all**"
        lines.append(
            f"| {label} | {count:,} | {p['p50']:.1f} | {p['p95']:.1f} | {p['p99']:.1f} | {p['max']:.1f} |"
        )
    if alone is not None:
        p = {name: alone.percentiles(name)["p50"] for name in ENDPOINTS}
        lines += [
            "",
            f"One client alone ({alone.seconds:.0f} s before the run, {alone.requests} requests, "
            f"{len(alone.errors)} errors), p50: "
            + ", ".join(f"{name} {p[name]:.0f} ms" for name in ENDPOINTS)
            + ": the difference under load is waiting for the server's CPU.",
        ]
    lines += [
        "",
        f"Throughput {result.requests / result.seconds:,.0f} requests/s; **errors: {len(result.errors)}** "
        "(any status other than 200, or a transport error). One-minute load average "
        f"{result.load_average[0]:.1f} before and {result.load_average[1]:.1f} after the run (other "
        "processes share the machine; the clients themselves take part of the CPU).",
    ]
    if result.errors:
        lines.append("First errors: " + "; ".join(sorted(set(result.errors))[:5]))
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in old and END in old:
        new = old[: old.index(BEGIN)] + text + old[old.index(END) + len(END) + 1 :]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 clients for 5 s")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--entities", type=int, default=300, help="how many owned entities to draw from")
    ap.add_argument("--synth", type=int, default=None, help="serve a synthetic registry of N entities")
    ap.add_argument("--alone", type=float, default=10.0, help="seconds of one client alone first (0: none)")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = ap.parse_args(argv)
    clients, seconds = (10, 5.0) if args.quick else (args.clients, args.seconds)
    with tempfile.TemporaryDirectory(prefix="statecap-load-") as tmp:
        db = build(Path(tmp), args.synth)
        ids = sample_entities(db, args.entities)
        store = (
            f"a synthetic registry of {args.synth:,} entities"
            if args.synth
            else "the store built from the built-in dataset"
        )
        with serve(db) as url:
            alone = (
                asyncio.run(run_load(url, ids, 1, args.alone)) if args.alone > 0 and not args.quick else None
            )
            result = asyncio.run(run_load(url, ids, clients, seconds))
    text = report(result, store, len(ids), alone)
    print(text)
    if not args.no_write and not args.quick:
        write_section(text)
    if result.errors or (alone is not None and alone.errors):
        sys.exit(1)


if __name__ == "__main__":
    main()
