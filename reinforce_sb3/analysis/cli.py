"""What the analysis command lines share: ``--env`` and ``--continuous``, the ``--device`` type and loading
``--model`` for an env.

The error contract itself (one line on stderr, exit status 2, ``--debug``) is :mod:`gym_pgtoy.cli`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import gymnasium as gym
import torch as th

from reinforce_sb3.analysis.policy_adapter import check_spaces

if TYPE_CHECKING:
    from reinforce_sb3 import REINFORCE


def torch_device(text: str) -> str:
    """An argparse ``type``: a torch device string (``cpu``, ``cuda``, ``cuda:1``, ``auto``), else an argument error."""
    if text == "auto":
        return text
    try:
        th.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f"must be a torch device such as cpu, cuda, cuda:0 or auto, got {text!r}"
        ) from None
    return text


def add_env_arguments(parser: argparse.ArgumentParser) -> None:
    """``--env`` (an id of the tree-game family) and ``--continuous`` (its Box-action variant)."""
    parser.add_argument("--env", default="PGToy-v0", help="PGToy-v0, SlipperyHill-v0 (or another id of the family)")
    parser.add_argument(
        "--continuous", action="store_true", help="the continuous variant: Box actions, below 0 left, else right"
    )


def env_from_args(args: argparse.Namespace) -> str | gym.Env:
    """The env of ``--env`` and ``--continuous``: the id itself, or the continuous variant made from it."""
    return gym.make(args.env, continuous=True) if args.continuous else str(args.env)


def load_model(path: str | Path, env: str | gym.Env, device: str = "cpu") -> REINFORCE:
    """The REINFORCE model saved at ``path``, checked to be made for the spaces of ``env``.

    :raises FileNotFoundError: no file at ``path`` (nor at ``path.zip``)
    :raises ValueError: the file is not a saved model, or the model was made for another game variant
    """
    from reinforce_sb3 import REINFORCE

    if not Path(path).is_file() and not Path(f"{path}.zip").is_file():
        raise FileNotFoundError(f"no saved model at {str(path)!r}")
    model = REINFORCE.load(path, device=device)
    game = gym.make(env) if isinstance(env, str) else env
    check_spaces(model.policy, game.observation_space, game.action_space)
    return model
