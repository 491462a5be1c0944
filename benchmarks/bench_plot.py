"""Plot decision time against table size and token size for each contender.

The figures come from the same measurements as ``bench_compare.py``, with shorter
rounds: scopeguard, Canvas's check (patterns compiled per request, as Canvas does),
casbin, and Starlette's in-order scan. The plot is saved as ``docs/scaling.png``, with
both axes logarithmic. matplotlib and casbin come with the ``bench`` extra.

Run it from the repository root::

    python benchmarks/bench_plot.py                 # writes docs/scaling.png
    python benchmarks/bench_plot.py --output x.png  # writes elsewhere
    python benchmarks/bench_plot.py --quick         # smoke run, into a new temporary file
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench_compare import (
    Settings,
    casbin_enforcer,
    casbin_for,
    compiling_for,
    median_us,
    ours_for,
    requests_for,
    starlette_for,
    starlette_routes,
)
from bench_decision import build_table, spread_positions

from scopeguard import Policy, Route, load_routes

ROUTE_FILE = Path(__file__).resolve().parent.parent / "tests" / "data" / "canvas_api_routes.tsv"
OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "scaling.png"
TABLE_SIZES = (10, 100, 1_000, 10_000)
TOKEN_SIZES = (10, 100, 500)
SETTINGS = Settings(rounds=3, round_time=0.1)


def quick_output() -> Path:
    """Return a new temporary file for a smoke run's plot."""
    handle, name = tempfile.mkstemp(prefix="scopeguard-scaling-", suffix=".png")
    os.close(handle)
    return Path(name)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, draw and save the plot; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--output",
        type=Path,
        help=f"the PNG file to write (default: {OUTPUT}, or a new temporary file with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="two small tables, a smoke run")
    options = parser.parse_args(argv)
    # A smoke run's plot never replaces the page's plot unless --output names it.
    output: Path = options.output or (quick_output() if options.quick else OUTPUT)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (the bench extra has it); no plot written")
        return 0
    sizes = (10, 100) if options.quick else TABLE_SIZES
    settings = Settings(rounds=1, round_time=0.01) if options.quick else SETTINGS

    canvas_routes: list[Route] = list(load_routes(ROUTE_FILE).routes)
    largest = build_table(canvas_routes, max(TABLE_SIZES))
    scopes = list(dict.fromkeys(route.scope for route in largest))
    pool = [scopes[i] for i in spread_positions(len(scopes), max(TOKEN_SIZES))]

    by_table: dict[str, list[float]] = {"scopeguard": [], "starlette": [], "casbin": []}
    for size in sizes:
        table = build_table(canvas_routes, size)
        requests = requests_for(table, pool)
        count = len(requests.paths)
        policy = Policy(table)
        by_table["scopeguard"].append(
            median_us(ours_for(policy, requests, requests.scopes[100]), count, settings)
        )
        routes = starlette_routes(table)
        by_table["starlette"].append(median_us(starlette_for(routes, requests), count, settings))
        try:
            enforcer = casbin_enforcer(table)
            by_table["casbin"].append(median_us(casbin_for(enforcer, requests), count, settings))
        except ImportError:
            by_table.pop("casbin", None)

    canvas_table = build_table(canvas_routes, 1_299)
    requests = requests_for(canvas_table, pool)
    policy = Policy(canvas_table)
    by_token: dict[str, list[float]] = {"scopeguard": [], "canvas, compiled per request": []}
    for tokens in TOKEN_SIZES:
        sets = requests.scopes[tokens]
        ordered = [sorted(scopes) for scopes in sets]
        count = len(requests.paths)
        by_token["scopeguard"].append(median_us(ours_for(policy, requests, sets), count, settings))
        by_token["canvas, compiled per request"].append(
            median_us(compiling_for(requests, ordered), count, settings)
        )

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, values in by_table.items():
        left.plot(sizes, values, marker="o", label=name)
    left.set(xscale="log", yscale="log", xlabel="routes in the table", ylabel="µs per decision")
    left.set_title("By table size, 100-scope tokens")
    left.legend()
    for name, values in by_token.items():
        right.plot(TOKEN_SIZES, values, marker="o", label=name)
    right.set(xscale="log", yscale="log", xlabel="scopes in the token", ylabel="µs per decision")
    right.set_title("By token size, Canvas table")
    right.legend()
    figure.tight_layout()
    figure.savefig(output, dpi=100)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
