"""Text forms of a scope catalogue for the ``scopeguard scopes`` command."""

from __future__ import annotations

from collections.abc import Sequence

from scopeguard.catalogue import GroupBy, ScopeInfo
from scopeguard.routefile import toml_string

__all__ = ["FORMATS", "format_scopes"]

FORMATS = ("table", "json", "toml")
_COLUMNS = ("resource_name", "verb", "scope", "controller", "action")


def format_scopes(
    catalogue: Sequence[ScopeInfo], output_format: str, group_by: GroupBy | None
) -> str:
    """Return ``catalogue`` as an aligned ``table`` or a ``toml`` document, grouped by
    ``group_by`` when it is set. JSON output comes from the endpoint's own renderer."""
    groups = _groups(catalogue, group_by)
    if output_format == "toml":
        return _toml(groups, group_by)
    return _table(groups, group_by)


def _groups(
    catalogue: Sequence[ScopeInfo], group_by: GroupBy | None
) -> list[tuple[str, list[ScopeInfo]]]:
    if group_by is None:
        return [("", list(catalogue))]
    groups: dict[str, list[ScopeInfo]] = {}
    for entry in catalogue:
        groups.setdefault(getattr(entry, group_by) or "", []).append(entry)
    return list(groups.items())


def _table(groups: list[tuple[str, list[ScopeInfo]]], group_by: GroupBy | None) -> str:
    headings = [column.upper() for column in _COLUMNS]
    rows = {
        key: [[getattr(entry, column) or "-" for column in _COLUMNS] for entry in members]
        for key, members in groups
    }
    every_row = [row for group_rows in rows.values() for row in group_rows]
    widths = [max(len(text) for text in cells) for cells in zip(headings, *every_row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    lines = [line(headings).rstrip()]
    for key, group_rows in rows.items():
        if group_by is not None:
            lines.append("")
            lines.append(f"{group_by}: {key or '(none)'}")
        lines.extend(line(row).rstrip() for row in group_rows)
    lines.append("")
    lines.append(f"{len(every_row)} scope{'' if len(every_row) == 1 else 's'}")
    return "\n".join(lines)


def _toml(groups: list[tuple[str, list[ScopeInfo]]], group_by: GroupBy | None) -> str:
    blocks: list[str] = []
    for key, members in groups:
        header = "[[scopes]]" if group_by is None else f"[[scopes.{toml_string(key)}]]"
        for entry in members:
            lines = [header]
            for field, value in entry.as_dict().items():
                if value is not None:
                    lines.append(f"{field} = {toml_string(value)}")
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
