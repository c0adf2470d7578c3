"""Push at least a million mutated frames through every wire codec; count what escapes.

    .venv/bin/python benchmarks/bench_fuzz.py [--inputs 1000000] [--codec tvs] [--seed 1]

Prints one line per codec: `fuzz <codec> inputs=N rejected=N escapes=N per_s=N`, and
the first escaping inputs (hex) when there are any; exit 1 if anything escaped.
Codecs run in parallel processes, one per core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from harness.fuzz import FuzzResult, fuzz
from harness.wire_codecs import CODECS


def _run(name: str, count: int, seed: int) -> tuple[FuzzResult, float]:
    started = time.perf_counter()
    result = fuzz(CODECS[name], count, seed)
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000, help="inputs per codec")
    parser.add_argument("--codec", action="append", choices=sorted(CODECS),
                        help="only these codecs (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.inputs < 1:
        parser.error("--inputs must be at least 1")
    names = args.codec or sorted(CODECS)
    escaped = 0
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = [pool.submit(_run, name, args.inputs, args.seed) for name in names]
        for future in futures:
            result, seconds = future.result()
            escaped += result.escapes
            print(f"fuzz {result.codec} inputs={result.inputs} rejected={result.rejected} "
                  f"escapes={result.escapes} per_s={result.inputs / seconds:.0f}", flush=True)
            for error, data in result.examples:
                print(f"  escape {error} input={data.hex()}", flush=True)
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
