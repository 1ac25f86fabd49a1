"""Argument checks shared by the env, the vector env and the exact analysis."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_integer(name: str, value: Any, low: int, high: int, hint: str = "") -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) in ``[low, high]``, else a ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}]{hint}, got {value!r}")
    return int(value)
