"""What several test files share: the textbook model, averaging the gradient estimates of many updates, the
measures that compare an estimate with the exact gradient, comparing VecEnv steps, and reading benchmark tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from reinforce_sb3 import REINFORCE


def flat(tensors: Iterable[th.Tensor]) -> th.Tensor:
    """The tensors flattened into one vector."""
    return th.cat([t.flatten() for t in tensors])


def cosine(a: th.Tensor, b: th.Tensor) -> float:
    return th.nn.functional.cosine_similarity(a, b, dim=0).item()


def relative_error(estimate: th.Tensor, truth: th.Tensor) -> float:
    return ((estimate - truth).norm() / truth.norm()).item()


def textbook_model(
    env: VecEnv, n_episodes: int, learning_rate: float = 1.0, seed: int = 0, policy_kwargs: Any = None, **kwargs: Any
) -> REINFORCE:
    """
    REINFORCE as the textbook estimator (gamma 1, raw returns, sum over steps / episodes, no clipping; ``kwargs``
    override them) with plain SGD,
    on an MLP policy of 16 units with PyTorch's default initialisation (far from uniform, so its gradient is worth
    checking). With learning rate 1, one update moves the parameters by exactly the gradient estimate; with
    learning rate 0, they stay put and every batch estimates the same gradient.
    """
    estimator = {"gamma": 1.0, "normalize_returns": False, "loss_reduction": "episodes", **kwargs}
    return REINFORCE(
        "MlpPolicy",
        env,
        learning_rate=learning_rate,
        n_episodes=n_episodes,
        seed=seed,
        device="cpu",
        policy_kwargs={"net_arch": [16], "ortho_init": False, "optimizer_class": th.optim.SGD, **(policy_kwargs or {})},
        **estimator,
    )


class AverageGradient(BaseCallback):
    """Collect the gradient estimate of each update (``-grad`` of the loss) for ``n_batches`` updates, then stop.
    The last update's gradient is not read: :attr:`average` is over the first ``n_batches - 1``."""

    def __init__(self, n_batches: int) -> None:
        super().__init__()
        self.n_batches = n_batches
        self.estimates: list[th.Tensor] = []

    def _on_rollout_start(self) -> None:
        if self.model._n_updates > 0:  # the previous update left its gradient in .grad
            self.estimates.append(-flat(p.grad for p in self.model.policy.parameters()))

    def _on_step(self) -> bool:
        return self.model._n_updates < self.n_batches

    @property
    def average(self) -> th.Tensor:
        return th.stack(self.estimates).mean(dim=0)


FORK = {"start_method": "fork"}  # the quickest start on Linux; the workers only run gym envs


def assert_same_step(step: Any, step2: Any) -> None:
    """Two ``VecEnv.step`` returns are equal (observations, rewards and dtypes, dones, info dicts)."""
    obs, rewards, dones, infos = step
    obs2, rewards2, dones2, infos2 = step2
    np.testing.assert_array_equal(obs, obs2)
    np.testing.assert_array_equal(rewards, rewards2)
    assert rewards.dtype == rewards2.dtype
    np.testing.assert_array_equal(dones, dones2)
    for info, info2 in zip(infos, infos2, strict=True):
        assert info.keys() == info2.keys()
        for key in info:
            if key == "episode":
                assert (info[key]["r"], info[key]["l"]) == (info2[key]["r"], info2[key]["l"])
            else:
                np.testing.assert_array_equal(info[key], info2[key])


def rows(markdown: str) -> list[list[str]]:
    """The body rows of the markdown table in ``markdown``."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def number(cell: str) -> float:
    """A table cell such as "12,345" as a number."""
    return float(cell.replace(",", ""))


def printed(main: Callable[[list[str]], Any], argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What ``main(argv)`` prints, once its first line is checked to state the machine and one torch thread."""
    threads = th.get_num_threads()
    try:
        main(argv)
    finally:
        th.set_num_threads(threads)  # the benchmarks set one thread; the rest of the suite keeps its own
    out = capsys.readouterr().out
    assert out.startswith("Machine: ") and "with 1 thread(s)" in out.splitlines()[0]
    return out
