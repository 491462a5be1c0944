"""Measure memory: a 10,000-route table, and a verified-token cache filled to its size.

Each structure is built in a fresh interpreter, so one measurement cannot inherit
another's freed memory. The script reports two figures for each:

* **traced**: the bytes Python allocated for it and still holds, from ``tracemalloc``.
* **resident**: the growth of the process's resident set (``VmRSS`` in
  ``/proc/self/status``), which includes the allocator's overhead.

Run it from the repository root::

    python benchmarks/bench_memory.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from report import machine_summary, print_table

# Each child builds one structure and prints its two figures as JSON.
CHILD = """
import gc, json, sys, time, tracemalloc
from pathlib import Path

sys.path.insert(0, sys.argv[2])
from bench_decision import build_table

from scopeguard import JWTVerifier, load_routes, mint_token


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


kind = sys.argv[1]
if kind == "cache":
    secret = "scopeguard-memory-benchmark-secret-0123456789"
    scopes = [f"url:GET|/api/v1/courses/:course_id/item{index}" for index in range(10)]
    tokens = [mint_token(secret, scopes, subject=f"user-{index}") for index in range(1024)]
    verifier = JWTVerifier(key=secret, algorithms=["HS256"], cache_size=1024)
    import asyncio
    loop = asyncio.new_event_loop()
canvas = list(load_routes(Path(sys.argv[2]).parent / "tests" / "data" / "canvas_api_routes.tsv"))
gc.collect()
tracemalloc.start()
before = rss()
if kind == "table":
    structure = build_table(canvas, 10_000)
else:
    async def fill():
        for token in tokens:
            await verifier.verify(token)
    loop.run_until_complete(fill())
    structure = verifier
gc.collect()
traced = tracemalloc.get_traced_memory()[0]
print(json.dumps({"traced": traced, "resident": rss() - before}))
"""


def measure(kind: str, folder: str) -> dict[str, int]:
    result = subprocess.run(  # noqa: S603 - this interpreter and the code above
        [sys.executable, "-c", CHILD, kind, folder],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    figures: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Measure both structures, print the table and return the exit status."""
    # No --quick: the full measurement takes a few seconds.
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.parse_args(argv)
    folder = str(Path(__file__).resolve().parent)
    table = measure("table", folder)
    cache = measure("cache", folder)
    print("# scopeguard memory benchmark\n")
    print(f"Machine: {machine_summary()}\n")
    rows = [
        [
            "RouteTable of 10,000 routes",
            f"{table['traced'] / 2**20:.1f}",
            f"{table['resident'] / 2**20:.1f}",
        ],
        [
            "JWTVerifier cache, 1,024 tokens of 10 scopes",
            f"{cache['traced'] / 2**20:.2f}",
            f"{cache['resident'] / 2**20:.2f}",
        ],
    ]
    print_table(["structure", "traced MiB", "resident MiB"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
