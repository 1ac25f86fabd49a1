"""Saving that never loses a model, and reading a saved model with a clear error when it is not one."""

from __future__ import annotations

import io
import os
import pathlib
import uuid
import warnings
from collections.abc import Callable
from typing import Any

from stable_baselines3.common.save_util import load_from_zip_file


def save_target(path: str | pathlib.Path) -> pathlib.Path:
    """
    The file a save to ``path`` writes, as SB3's ``open_path`` chooses it: ``.zip`` added to a
    path without a suffix; ``<path>_2`` (with a warning) when ``path`` is a folder; missing parent
    folders created (with a warning); a symlink followed to its target, so the link stays a link.
    """
    target = pathlib.Path(path)
    if target.suffix == "":
        target = pathlib.Path(f"{target}.zip")
    while target.is_dir():
        warnings.warn(f"Path '{target}' is a folder. Will save instead to {target}_2", stacklevel=3)
        target = pathlib.Path(f"{target}_2")
    if target.is_symlink():
        target = pathlib.Path(os.path.realpath(target))
    if not target.parent.exists():
        warnings.warn(f"Path '{target.parent}' does not exist. Will create it.", stacklevel=3)
        target.parent.mkdir(parents=True, exist_ok=True)
    return target


def atomic_save(write: Callable[[pathlib.Path], None], path: str | pathlib.Path) -> pathlib.Path:
    """
    Call ``write(temporary_path)``, then move the file over the target in one step (``os.replace``).

    A crash or an error while writing leaves the old file as it was and no temporary file behind.

    :param write: writes the whole file to the path it is given
    :param path: where the file goes (see :func:`save_target`)
    :return: the file written
    """
    target = save_target(path)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def read_model_data(
    path: str | pathlib.Path | io.BufferedIOBase, custom_objects: dict[str, Any] | None
) -> dict[str, Any]:
    """
    The model data of a file saved by ``save``, or a ``ValueError`` saying why it is not one.

    The torch parameters are read too, so that a corrupt ``policy.pth`` is caught here.
    """
    if isinstance(path, (str, pathlib.Path)):
        candidates = [pathlib.Path(path), pathlib.Path(f"{path}.zip")]
        if not any(candidate.is_file() for candidate in candidates):
            raise FileNotFoundError(f"no saved model at {str(path)!r} (nor at {str(candidates[1])!r})")
    try:
        data, _, _ = load_from_zip_file(path, load_data=True, custom_objects=custom_objects, device="cpu")
    except FileNotFoundError:
        raise
    except Exception as error:  # torch and pickle raise many kinds of error for a corrupt file
        raise ValueError(
            f"path {str(path)!r} is not a readable saved model ({type(error).__name__}: {error})"
        ) from error
    finally:
        if isinstance(path, io.BufferedIOBase):
            path.seek(0)
    if data is None or "policy_class" not in data:
        raise ValueError(f"path {str(path)!r} is not a saved Stable-Baselines3 model (it holds no model data)")
    return data
