"""Run every benchmark in one go and rewrite docs/benchmarks.md with the results.

Each script runs in a fresh interpreter, one after another, so no measurement shares the
machine with another. The page is built from ``benchmarks/page.md``: its placeholders take
the machine, the versions of Python and the libraries, the command, a summary of every
target and each script's tables. The plot is drawn again into ``docs/scaling.png``.

Run it from the repository root, with the ``bench`` extra installed and Debian's wrk for
the end-to-end benchmark and valgrind for the instruction counts::

    python -m benchmarks          # full run, about 6 minutes on 2 cores
    python -m benchmarks --quick  # smoke run of about a minute, into a temporary folder

A failing script stops the run with its error output, and the page and the plot are left
as they were.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TEMPLATE = HERE / "page.md"
PAGE = ROOT / "docs" / "benchmarks.md"
PLOT_NAME = "scaling.png"
# Libraries whose versions the figures depend on, in the order the page lists them.
LIBRARIES = (
    "scopeguard",
    "starlette",
    "uvicorn",
    "h11",
    "PyJWT",
    "cryptography",
    "httpx",
    "casbin",
    "matplotlib",
)
# The maximum time in seconds one script may take before the run stops it.
SCRIPT_TIMEOUT = 15 * 60


@dataclass(frozen=True)
class Step:
    """One benchmark script and the placeholder its output fills."""

    name: str
    script: str
    arguments: tuple[str, ...] = ()
    quick: bool = True  # whether the script takes --quick


STEPS = (
    Step("decision", "bench_decision.py", ("--profile",)),
    Step("tokens", "bench_tokens.py"),
    Step("compare", "bench_compare.py"),
    Step("plot", "bench_plot.py"),
    Step("e2e", "bench_e2e.py"),
    Step("instructions", "bench_instructions.py"),
    Step("memory", "bench_memory.py", quick=False),
    Step("catalogue", "bench_catalogue.py"),
)


@dataclass
class Result:
    """The output of one script and its duration."""

    step: Step
    output: str
    seconds: float


def run(step: Step, quick: bool, plot: Path) -> Result:
    """Run one script and return its output. Raises ``RuntimeError`` when it fails."""
    command = [sys.executable, str(HERE / step.script), *step.arguments]
    if step.name == "plot":
        command += ["--output", str(plot)]
    if quick and step.quick:
        command.append("--quick")
    print(f"running {step.script}", file=sys.stderr, flush=True)
    started = time.monotonic()
    completed = subprocess.run(  # noqa: S603 - this interpreter and a script of this folder
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"{step.script} failed with exit status {completed.returncode}:\n{completed.stderr}"
        )
    return Result(step, completed.stdout, time.monotonic() - started)


def section(output: str) -> str:
    """Return a script's output for the page: without its title and machine line, which the
    page gives once, and with every heading one level lower."""
    lines = []
    for line in output.strip().splitlines():
        if line.startswith("# ") or line.startswith("Machine: "):
            continue
        lines.append("#" + line if line.startswith("##") else line)
    return "\n".join(lines).strip()


def targets(results: Sequence[Result]) -> list[list[str]]:
    """Return a row per target that any script reports: benchmark, target, measured, result."""
    rows = []
    for result in results:
        in_targets = False
        for line in result.output.splitlines():
            if line.startswith("#"):
                in_targets = line.lstrip("#").strip() in ("Target", "Targets")
                continue
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if in_targets and line.startswith("|") and len(cells) == 3:
                if cells[0] == "target" or set(cells[0]) <= {":", "-"}:
                    continue  # the header and the rule under it
                rows.append([result.step.script, *cells])
    return rows


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int) -> str:
    """Return a Markdown table whose first ``text_columns`` columns are left-aligned text
    and the others right-aligned numbers."""
    rules = [":" + "-" * (len(cell) + 1) for cell in header[:text_columns]]
    rules += ["-" * (len(cell) + 1) + ":" for cell in header[text_columns:]]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rules) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine_rows() -> list[list[str]]:
    """Return the rows of the machine table: hardware, system, Python and library versions."""
    model = platform.processor() or "unknown"
    memory = "unknown"
    for path, key in ((Path("/proc/cpuinfo"), "model name"), (Path("/proc/meminfo"), "MemTotal")):
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(key):
                value = line.partition(":")[2].strip()
                if key == "MemTotal":
                    memory = f"{int(value.split()[0]) / 2**20:.1f} GiB"
                else:
                    model = value
                break
    rows = [
        ["logical CPUs", str(os.cpu_count())],
        ["CPU model", model],
        ["memory", memory],
        ["system", f"{platform.system()} {platform.release()}, {platform.machine()}"],
        ["Python", f"{platform.python_version()} ({platform.python_implementation()})"],
    ]
    for library in LIBRARIES:
        try:
            version = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        rows.append([library, version])
    rows.append(["wrk", tool_version("wrk", "-v", r"wrk (\S+)")])
    rows.append(["valgrind", tool_version("valgrind", "--version", r"valgrind-(\S+)")])
    return rows


def tool_version(name: str, flag: str, pattern: str) -> str:
    """Return the version a program prints with ``flag``, or ``not installed``."""
    path = shutil.which(name)
    if path is None:
        return "not installed"
    # wrk prints its version with its usage, and exits with status 1.
    completed = subprocess.run(  # noqa: S603 - a program found on PATH, with a fixed flag
        [path, flag], capture_output=True, text=True, timeout=10, check=False
    )
    match = re.search(pattern, completed.stdout + completed.stderr)
    return match.group(1) if match else "unknown version"


def commit() -> str:
    """Return the checked-out commit, marked when the work tree has changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} with uncommitted changes" if status else head


def render(template: str, values: dict[str, str]) -> str:
    """Fill the ``{{name}}`` placeholders of ``template``. Raises ``KeyError`` for an
    unknown one, so that a renamed step cannot leave a placeholder on the page."""
    return re.sub(r"\{\{(\w+)\}\}", lambda match: values[match.group(1)], template)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every benchmark, write the page and return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke runs, whose figures mean nothing"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"the page to write (default: {PAGE}, or a new temporary folder with --quick)",
    )
    options = parser.parse_args(argv)
    # A smoke run's page and plot never replace the real ones unless --output names them.
    page: Path = options.output or (
        Path(tempfile.mkdtemp(prefix="scopeguard-benchmarks-")) / PAGE.name
        if options.quick
        else PAGE
    )
    plot = page.parent / PLOT_NAME
    page.parent.mkdir(parents=True, exist_ok=True)
    # The plot is drawn beside the page under another name, and replaces the old plot only
    # when every script has passed.
    new_plot = page.parent / f".new-{PLOT_NAME}"

    # Read before the run, which draws the plot again and so changes the work tree.
    checked_out = commit()
    started = time.monotonic()
    try:
        results = [run(step, options.quick, new_plot) for step in STEPS]
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        new_plot.unlink(missing_ok=True)
        print(f"python -m benchmarks: {exc}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started

    command = "python -m benchmarks" + (" --quick" if options.quick else "")
    if options.output is not None:
        command += f" --output {shlex.quote(str(page))}"
    durations = ", ".join(f"{result.step.script} {result.seconds:.0f} s" for result in results)
    today = datetime.datetime.now(datetime.timezone.utc).date()
    run_line = (
        f"This page was written on {today} from commit {checked_out}. The run took "
        f"{elapsed / 60:.1f} minutes: {durations}."
    )
    if options.quick:
        run_line += " It was a smoke run (--quick), whose figures mean nothing."
    values = {
        "command": command,
        "run": run_line,
        "machine": markdown_table(["item", "value"], machine_rows(), text_columns=2),
        "targets": markdown_table(
            ["benchmark", "target", "measured", "result"], targets(results), text_columns=2
        ),
        **{result.step.name: section(result.output) for result in results},
    }
    if new_plot.exists():
        new_plot.replace(plot)
        values["plot"] = (
            f"![Decision time against table size and token size, log scales]({PLOT_NAME})"
        )
    if options.quick:
        values["targets"] = (
            "Smoke run: these results come from a few requests each and mean nothing.\n\n"
            + values["targets"]
        )
    page.write_text(render(TEMPLATE.read_text(encoding="utf-8"), values), encoding="utf-8")
    print(f"wrote {page} in {elapsed / 60:.1f} minutes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
