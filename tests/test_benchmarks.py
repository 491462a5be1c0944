"""Smoke tests of the benchmark scripts. They check the output's shape, never timings."""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    assert any(line.startswith("| 1,299 |") for line in lines)
    assert "## Targets" in lines
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
    # Canvas also grants a format extension and the preview twin of a download route.
    assert allows("GET", "/api/v1/courses/7.json", ["url:GET|/api/v1/courses/:id"])
    assert allows("GET", "/files/3/preview", ["url:GET|/files/:id/download"])
    assert not allows("GET", "/files/3/delete", ["url:GET|/files/:id/download"])


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


RUNNER = SCRIPT.parent / "__main__.py"
TEMPLATE = SCRIPT.parent / "page.md"
SCRIPT_OUTPUT = """# scopeguard example benchmark

Machine: Python 3.11.7 (CPython), x86_64, 2 logical CPUs
Mode: full.

## Figures

| size | µs |
|:-----|---:|
| 10 | 3.10 |

## Targets

| target | measured | result |
|:-------|---------:|-------:|
| decision under 10 µs | 3.10 µs | met |
| whole request ≥ 0.95 of bare | 0.81 | missed |
"""


@pytest.fixture(name="runner")
def runner_fixture() -> dict[str, Any]:
    return runpy.run_path(str(RUNNER), run_name="benchmarks_runner")


def test_runner_section_drops_title_and_machine(runner: dict[str, Any]) -> None:
    section = runner["section"](SCRIPT_OUTPUT)

    assert "# scopeguard example benchmark" not in section
    assert "Machine:" not in section
    assert section.startswith("Mode: full.")
    assert "### Figures" in section.splitlines()
    assert "### Targets" in section.splitlines()


def test_runner_collects_every_target_row(runner: dict[str, Any]) -> None:
    step = runner["Step"]("example", "bench_example.py")
    result = runner["Result"](step, SCRIPT_OUTPUT, 1.0)

    rows = runner["targets"]([result])

    assert rows == [
        ["bench_example.py", "decision under 10 µs", "3.10 µs", "met"],
        ["bench_example.py", "whole request ≥ 0.95 of bare", "0.81", "missed"],
    ]


def test_runner_rejects_unknown_placeholder(runner: dict[str, Any]) -> None:
    with pytest.raises(KeyError):
        runner["render"]("{{decision}} and {{missing}}", {"decision": "tables"})


def test_template_fills_every_placeholder(runner: dict[str, Any]) -> None:
    placeholders = set(re.findall(r"\{\{(\w+)\}\}", TEMPLATE.read_text(encoding="utf-8")))
    steps = {step.name for step in runner["STEPS"]}

    assert placeholders == steps | {"command", "run", "machine", "targets"}


def test_runner_quick_run_writes_page(tmp_path: Path) -> None:
    page = tmp_path / "docs" / "benchmarks.md"

    completed = subprocess.run(  # noqa: S603 - this interpreter and the project's own runner
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(page)],
        cwd=RUNNER.parent.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    text = page.read_text(encoding="utf-8")
    assert "{{" not in text
    assert "It was a smoke run (--quick)" in text
    for heading in ("## Machine", "## Targets", "## Decision", "## End to end under uvicorn"):
        assert heading in text.splitlines()
    assert "| bench_decision.py | Policy.decide: slowest median under 10 µs, for 1, 10" in text
    assert "Smoke run: these results" in text
    assert "### Policy.decide: route resolution and scope check" in text.splitlines()


def test_runner_quick_run_keeps_docs(runner: dict[str, Any], tmp_path: Path) -> None:
    template = tmp_path / "page.md"
    template.write_text("{{command}}\n{{run}}\n{{machine}}\n{{targets}}\n", encoding="utf-8")
    module = runner["main"].__globals__
    # The default page points into tmp_path, so a regression cannot touch docs/.
    default_page = tmp_path / "docs" / "benchmarks.md"
    module["STEPS"], module["TEMPLATE"], module["PAGE"] = (), template, default_page

    status = runner["main"](["--quick"])

    assert status == 0
    assert not default_page.parent.exists()
