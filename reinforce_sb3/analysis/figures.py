"""Matplotlib for the pictures of :mod:`reinforce_sb3.analysis` (the ``plots`` extra): loaded on first use."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 120
"""The resolution of the PNGs written by :func:`save`, in pixels per inch."""


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or an ImportError naming the extra to install."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("pictures need matplotlib: pip install 'reinforce-sb3[plots]'") from error
    return plt


def save(figure: Figure, path: str | Path | None) -> Figure:
    """Write ``figure`` as a PNG to ``path`` (nothing for None), making its folder if need be, and return it."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return figure
