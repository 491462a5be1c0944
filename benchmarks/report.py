"""Helpers shared by the benchmark scripts: the machine line and Markdown tables."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["format_ratio", "machine_summary", "print_table"]


def machine_summary() -> str:
    """Return the Python version, architecture, CPU count and CPU model of this machine."""
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.machine()}, {os.cpu_count()} logical CPUs, {model}"
    )


def print_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Print a Markdown table whose first column is text and the others numbers."""
    print("| " + " | ".join(header) + " |")
    # The first column is left-aligned and the others, which hold numbers, right-aligned.
    rules = [":" + "-" * (len(header[0]) + 1)] + [
        "-" * (len(cell) + 1) + ":" for cell in header[1:]
    ]
    print("|" + "|".join(rules) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def format_ratio(ratio: float) -> str:
    """Return a ratio such as ``9.5x`` or ``5,318x``: with one decimal below 100, so that a
    ratio just under a target never prints as the target itself."""
    return f"{ratio:.1f}x" if ratio < 100 else f"{ratio:,.0f}x"
