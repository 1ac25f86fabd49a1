"""The old module paths, kept for one release as aliases that warn: removed in 0.3.0.

``reinforce_sb3.diagnostics``, ``.plots``, ``.train``, ``.enjoy`` and ``.record_video`` moved to
:mod:`reinforce_sb3.analysis` and :mod:`reinforce_sb3.zoo`. Each old module calls :func:`alias`,
the one mechanism: imported, it is the new module (with a ``DeprecationWarning``); run with
``python -m``, it runs the new module as ``python -m`` would (with a ``DeprecationWarning``, which
Python shows there by default).
"""

from __future__ import annotations

import importlib
import runpy
import sys
import warnings

REMOVED_IN = "0.3.0"
"""The release that removes the aliases."""


def alias(old: str, new: str, main: bool) -> None:
    """
    Make the module ``old`` the module ``new``, or run ``new`` as the program, with a ``DeprecationWarning``.

    :param old: the old module path (``"reinforce_sb3.train"``)
    :param new: where it lives now (``"reinforce_sb3.zoo.train"``)
    :param main: whether ``old`` runs as the program (``python -m old``: its ``__name__ == "__main__"``)
    """
    if main:
        message = f"python -m {old} is deprecated and will be removed in {REMOVED_IN}: use python -m {new}"
        warnings.warn(message, DeprecationWarning, stacklevel=2)  # in __main__: shown by default
        runpy.run_module(new, run_name="__main__", alter_sys=True)
    else:
        message = f"{old} is deprecated and will be removed in {REMOVED_IN}: import {new}"
        warnings.warn(message, DeprecationWarning, stacklevel=3)  # at the import (importlib's frames are skipped)
        sys.modules[old] = importlib.import_module(new)
