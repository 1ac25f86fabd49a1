"""The integer check that every module of the project uses (``reinforce_sb3`` too).

Each module checks its own arguments with this, against limits it defines beside the code they
protect: ``MAX_HILL_LENGTH`` and ``MAX_EPISODE_STEPS`` in :mod:`gym_pgtoy.slippery_hill` (the
exact analysis's horizon too), ``MAX_NUM_ENVS`` in :mod:`gym_pgtoy.vector`.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def check_integer(name: str, value: Any, low: int = 1, high: int | None = None, hint: str = "") -> int:
    """
    ``value`` as an ``int`` if it is an integer (not a bool) in ``[low, high]`` (``>= low`` if ``high`` is None),
    else a ``ValueError`` naming it, what is allowed (and ``hint``) and the value.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < low
        or (high is not None and value > high)
    ):
        allowed = f">= {low}" if high is None else f"in [{low}, {high:_}]"
        raise ValueError(f"{name} must be an integer {allowed}{hint}, got {value!r}")
    return int(value)
