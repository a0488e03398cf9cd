"""BODS streaming import at scale: time and peak memory for a generated 1M-statement file.

A synthetic register (entities in a tree, one shareholding relationship per owned entity, some
persons) is written as one BODS 0.4 JSON array, then imported into an empty store in a child
process whose peak resident memory is read from the OS. Peak memory staying near flat while the
file grows tenfold is what "streamed, not loaded whole" means. The 1-minute load average is
sampled while each import runs (the development machine is shared). Usage:
``python -m bench.io [--quick] [--statements N ...] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PUB = {"publicationDate": "2026-01-01", "bodsVersion": "0.4", "publisher": {"name": "statecap bench"}}
SRC = {
    "type": ["officialRegister"],
    "description": "synthetic register",
    "url": "https://example.org/register",
}


def _stmt(n: int, rid: str, rtype: str, details: dict) -> dict:
    return {
        "statementId": f"bench-statement-{n:024d}",
        "declarationSubject": rid,
        "statementDate": "2026-01-01",
        "publicationDetails": PUB,
        "source": SRC,
        "recordId": rid,
        "recordStatus": "new",
        "recordType": rtype,
        "recordDetails": details,
    }


def write_register(path: Path, statements: int, seed: int = 7) -> int:
    """Write exactly `statements` BODS statements: entities and persons (one in ten), each
    entity after the first owned through one relationship statement by an earlier node."""
    rng = random.Random(seed)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[\n")
        for i in itertools.count():
            if count >= statements:
                break
            if i % 10 == 9:
                st = _stmt(count, f"p{i}", "person", {
                    "isComponent": False, "personType": "knownPerson", "names": [{"type": "legal", "fullName": f"Person {i}"}],
                })  # fmt: skip
            else:
                etype = "stateBody" if i == 0 else "registeredEntity"
                st = _stmt(count, f"e{i}", "entity", {
                    "isComponent": False, "entityType": {"type": etype}, "name": f"Entity {i}",
                    "jurisdiction": {"name": "China", "code": "CN"}, "foundingDate": "2000-01-01",
                })  # fmt: skip
            fh.write(("" if count == 0 else ",\n") + json.dumps(st))
            count += 1
            if i > 0 and count < statements and i % 10 != 9:
                parent = (i - 1) // 3
                party = f"p{parent}" if parent % 10 == 9 else f"e{parent}"
                share = rng.choice(
                    [{"exact": round(rng.uniform(1, 100), 2)}, {"minimum": 25, "maximum": 50}, None]
                )
                interest = {"type": "shareholding", "directOrIndirect": "direct", "startDate": "2010-01-01"}
                if share is not None:
                    interest["share"] = share
                st = _stmt(count, f"r{i}", "relationship", {
                    "isComponent": False, "subject": f"e{i}", "interestedParty": party, "interests": [interest],
                })  # fmt: skip
                fh.write(",\n" + json.dumps(st))
                count += 1
        fh.write("\n]\n")
    return count


CHILD = """
import sys, time, resource
from pathlib import Path
from statecap.io import import_files
t = time.perf_counter()
res = import_files("bods", [Path(sys.argv[1])], Path(sys.argv[2]))
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux: this process's own peak
print(dt, res.items, res.counts.get("entities", 0), res.counts.get("stakes", 0), peak)
"""


def run(statements: int, workdir: Path) -> dict:
    src = workdir / f"register-{statements}.json"
    n = write_register(src, statements)
    db = workdir / f"store-{statements}.duckdb"
    db.unlink(missing_ok=True)
    loads: list[float] = []
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(src), str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        while proc.poll() is None:
            loads.append(os.getloadavg()[0])
            time.sleep(min(5.0, 0.5 + len(loads) * 0.5))
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(err[-3000:])
    secs, items, ents, stakes, peak_kib = out.split()
    return {
        "statements": n,
        "file_mib": src.stat().st_size / 2**20,
        "seconds": float(secs),
        "statements_per_s": n / float(secs),
        "peak_rss_mib": int(peak_kib) / 1024,
        "entities": int(ents),
        "stakes": int(stakes),
        "store_mib": db.stat().st_size / 2**20,
        "load_mean": sum(loads) / len(loads) if loads else os.getloadavg()[0],
        "load_max": max(loads) if loads else os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="20k and 100k statements only")
    ap.add_argument("--statements", type=int, nargs="*", default=None)
    ap.add_argument(
        "--workdir", type=Path, default=None, help="where files and stores go (default: a temp dir)"
    )
    args = ap.parse_args(argv)
    sizes = args.statements or ([20_000, 100_000] if args.quick else [100_000, 1_000_000])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        "statements | file MiB | seconds | statements/s | peak RSS MiB | entities | stakes | store MiB"
        " | 1-min load mean (max)"
    )
    with tempfile.TemporaryDirectory(prefix="statecap-bench-io-", dir=args.workdir) as tmp:
        for n in sizes:
            # each size in a fresh child process that reports its own peak resident memory
            r = run(n, Path(tmp))
            print(
                f"{r['statements']:,} | {r['file_mib']:.0f} | {r['seconds']:.1f} | {r['statements_per_s']:,.0f} | "
                f"{r['peak_rss_mib']:.0f} | {r['entities']:,} | {r['stakes']:,} | {r['store_mib']:.0f} | "
                f"{r['load_mean']:.1f} ({r['load_max']:.1f})",
                flush=True,
            )
            Path(tmp, f"register-{n}.json").unlink()
            Path(tmp, f"store-{n}.duckdb").unlink()


if __name__ == "__main__":
    main()
