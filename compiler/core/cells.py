"""A cell (one value per dimension) and its one canonical label, used by every file and export."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

Cell = tuple[tuple[str, str], ...]  # ((dimension, value), ...) in the spec's dimension order


def cell_items(cell: Cell | Mapping[str, str], order: Sequence[str] = ()) -> Cell:
    """The cell's (dimension, value) pairs: dimensions named in `order` first, in that order, then the rest sorted."""
    pairs: Iterable[tuple[str, str]] = cell.items() if isinstance(cell, Mapping) else cell
    items = tuple((str(d), str(v)) for d, v in pairs)
    if not order:
        return items
    rank = {name: i for i, name in enumerate(order)}
    return tuple(sorted(items, key=lambda dv: (rank.get(dv[0], len(rank)), dv[0])))


def cell_label(cell: Cell | Mapping[str, str], order: Sequence[str] = ()) -> str:
    """`intent=refund, difficulty=hard`: the cell's pairs in declaration order (see `cell_items`)."""
    return ", ".join(f"{d}={v}" for d, v in cell_items(cell, order))
