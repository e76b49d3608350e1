"""Run the benchmarks: ``python benchmarks/run.py [NAME...] [--json]``.

Discovers ``benchmarks/bench_*.py`` (each with ``NAME`` and ``run() -> list[Result]``),
runs the ones named (all by default) and prints one line per result: the name, the
figure, the reference measured in the same run, the ratio, the goal and PASS/MISS.
Exit status 0 when every goal is met, 1 when one is missed, 2 for an unknown name.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):  # tests.peers (real peers) and benchmarks' common
    if p not in sys.path:
        sys.path.insert(0, p)

from common import Result  # noqa: E402


def discover() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(HERE.glob("bench_*.py")):
        found[path.stem.removeprefix("bench_")] = path
    return found


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f"benchmarks_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    available = discover()
    unknown = [n for n in args.names if n not in available]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}",
            file=sys.stderr,
        )
        return 2
    results: list[Result] = []
    failed = False
    for name in args.names or list(available):
        mod = load(available[name])
        if not args.json:
            print(f"# {getattr(mod, 'NAME', name)}: {(mod.__doc__ or '').strip().splitlines()[0]}")
        try:
            got = list(mod.run())
        except Exception:
            traceback.print_exc()
            print(f"{name}: ERROR", file=sys.stderr)
            failed = True
            continue
        results += got
        if not args.json:
            for r in got:
                print(r.line(), flush=True)
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    if failed or any(r.passed is False for r in results):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
