"""Run every benchmark module in bench/ (each must define main(argv) and accept --quick)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_")
    )
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        run = getattr(module, "main", None)
        if run is None:
            continue
        print(f"\n=== bench.{name} ===", flush=True)
        run(["--quick"] if quick else [])


if __name__ == "__main__":
    main()
