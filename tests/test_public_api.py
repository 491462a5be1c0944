"""The package root re-exports the public API under a sorted, complete ``__all__``."""

from __future__ import annotations

import importlib
import pkgutil

import scopeguard


def _isort_key(name: str) -> tuple[int, str]:
    """Order constants first, then classes, then functions, as ruff's RUF022 sorts."""
    if name.isupper():
        return (0, name)
    if name[0].isupper():
        return (1, name)
    return (2, name)


def test_all_is_sorted() -> None:
    assert scopeguard.__all__ == sorted(scopeguard.__all__, key=_isort_key)


def test_all_names_exist() -> None:
    missing = [name for name in scopeguard.__all__ if not hasattr(scopeguard, name)]
    assert missing == []


def test_module_exports_reach_root() -> None:
    """Every name a public module exports is importable from the package root."""
    # The command line, the demo app and the response writer of the middleware are not
    # library API. The test helpers and the pytest plugin are imported from their own
    # modules, so that an app never loads test code.
    skipped = {
        "scopeguard.cli",
        "scopeguard.demo",
        "scopeguard.responses",
        "scopeguard.testing",
        "scopeguard.pytest_plugin",
    }
    absent: list[str] = []
    for module_info in pkgutil.iter_modules(scopeguard.__path__, "scopeguard."):
        if module_info.name.rsplit(".", 1)[-1].startswith("_") or module_info.name in skipped:
            continue
        module = importlib.import_module(module_info.name)
        for name in getattr(module, "__all__", []):
            if not hasattr(scopeguard, name):
                absent.append(f"{module_info.name}.{name}")
    assert absent == []
