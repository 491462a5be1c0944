"""Smoke tests of the benchmark scripts. They check the output's shape, never timings."""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_decision.py"

EXPECTED_HEADINGS = (
    "# scopeguard decision benchmark",
    "## Policy.decide: route resolution and scope check",
    "## Policy.decide: the 10 requests of the 10-route table against every table, 10 scopes",
    "## Middleware check: ScopeGuardMiddleware with a cached token",
    "## Token lookup: bearer_token and a cached JWTVerifier.verify",
    "## Whole request: trivial ASGI app, 10-scope token",
    "## Targets",
)


def test_quick_run_prints_every_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scripts import their shared helpers from their own folder, as Python finds them
    # when a script runs.
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    # run_name keeps the script's "if __name__ == '__main__'" block from running.
    namespace = runpy.run_path(str(SCRIPT), run_name="bench_decision")

    status = namespace["main"](["--quick"])

    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    for heading in EXPECTED_HEADINGS:
        assert heading in lines
    for size in ("| 10 |", "| 100 |", "| 1,000 |", "| 10,000 |"):
        assert any(line.startswith(size) for line in lines), f"no row for {size}"
    assert any(line.startswith("| ratio 10,000 / 10 |") for line in lines)


TOKEN_SCRIPT = SCRIPT.parent / "bench_tokens.py"


def test_token_benchmark_quick_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(TOKEN_SCRIPT.parent))
    namespace = runpy.run_path(str(TOKEN_SCRIPT), run_name="bench_tokens")

    status = namespace["main"](["--quick"])

    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert "## Verification and decision" in lines
    assert "## Target" in lines
    for algorithm in ("HS256", "RS256"):
        assert any(line.startswith(f"| {algorithm} |") for line in lines), algorithm


COMPARE_SCRIPT = SCRIPT.parent / "bench_compare.py"


def test_compare_benchmark_quick_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(COMPARE_SCRIPT.parent))
    namespace = runpy.run_path(str(COMPARE_SCRIPT), run_name="bench_compare")

    status = namespace["main"](["--quick"])

    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert "## Decision by table size and token size" in lines
    assert any(line.startswith("| 100 |") for line in lines)
    assert "## Starlette's scan against scopeguard, by route position in the Canvas table" in lines


def test_canvas_algorithm_matches_scopes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison's model of Canvas's check grants what Canvas's scopes grant."""
    monkeypatch.syspath_prepend(str(COMPARE_SCRIPT.parent))
    namespace = runpy.run_path(str(COMPARE_SCRIPT), run_name="bench_compare_model")
    allows = namespace["canvas_allows"]

    assert allows("GET", "/api/v1/courses/7", ["url:GET|/api/v1/courses/:id"])
    assert allows("GET", "/files/3/download.pdf", ["url:GET|/files/:id/download(.:format)"])
    assert allows("GET", "/a/b/c", ["url:GET|/a/*path"])
    assert not allows("POST", "/api/v1/courses/7", ["url:GET|/api/v1/courses/:id"])
    assert not allows("GET", "/api/v1/courses/7/files", ["url:GET|/api/v1/courses/:id"])


E2E_SCRIPT = SCRIPT.parent / "bench_e2e.py"


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_e2e_benchmark_quick_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(E2E_SCRIPT.parent))
    namespace = runpy.run_path(str(E2E_SCRIPT), run_name="bench_e2e")

    status = namespace["main"](["--quick"])

    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("| bare |") for line in lines)
    assert any(line.startswith("| wrapped |") for line in lines)


MEMORY_SCRIPT = SCRIPT.parent / "bench_memory.py"


def test_memory_benchmark_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(MEMORY_SCRIPT.parent))
    namespace = runpy.run_path(str(MEMORY_SCRIPT), run_name="bench_memory")

    status = namespace["main"]([])

    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("| RouteTable of 10,000 routes |") for line in lines)
    assert any(line.startswith("| JWTVerifier cache, 1,024 tokens") for line in lines)


PLOT_SCRIPT = SCRIPT.parent / "bench_plot.py"


def test_plot_quick_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib comes with the bench extra")
    monkeypatch.syspath_prepend(str(PLOT_SCRIPT.parent))
    namespace = runpy.run_path(str(PLOT_SCRIPT), run_name="bench_plot")
    output = tmp_path / "scaling.png"

    status = namespace["main"](["--quick", "--output", str(output)])

    assert status == 0
    assert output.read_bytes().startswith(b"\x89PNG")
