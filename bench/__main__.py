"""`make bench`: benchmarks measured side by side with a floor in the same run.

Results are data (bench/results/*.json), never assertions. Run one with
`python -m bench accounts-list` (the default runs them all).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench import accounts_list, pages, platform_load

BENCHMARKS = {
    "accounts-list": accounts_list.main,
    "platform": platform_load.main,
    "pages": pages.main,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "names", nargs="*", metavar="name", help=f"one of {', '.join(BENCHMARKS)} (default: all)"
    )
    parser.add_argument("--accounts", type=int, default=None, help="size of the dataset")
    parser.add_argument("--iterations", type=int, default=200, help="timed runs per query shape")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (one of {', '.join(BENCHMARKS)})")
    for name in args.names or BENCHMARKS:
        sizes = {"accounts": args.accounts} if args.accounts else {}
        asyncio.run(BENCHMARKS[name](iterations=args.iterations, **sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
