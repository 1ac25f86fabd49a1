"""REINFORCE from scratch on the tree game (PGToy-v0): one file, gymnasium + numpy + torch, read top to bottom.

The optimum expected return is 11 (left, right, right); "always right" earns 10. Its update is that of
``REINFORCE("MlpPolicy", "PGToy-v0", loss_reduction="episodes")``, and with ``--no-normalize-returns`` that of
``REINFORCE(..., normalize_returns=False, loss_reduction="episodes")``, the textbook estimator: the same gamma
(0.99, without gamma^t), episodes per batch, learning rate and optimizer (Adam) as the library's defaults.
The library's default ``loss_reduction="mean"`` divides by the batch's steps instead of its episodes, a scale
per batch. tests/test_reinforce_from_scratch.py checks that the gradients agree on the same batch.

    python examples/reinforce_from_scratch.py [--seed 1] [--total-timesteps 20000] [--no-normalize-returns]
"""

from __future__ import annotations

import argparse
import dataclasses

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

import gym_pgtoy
from gym_pgtoy import exact

gym.register_envs(gym_pgtoy)  # registers PGToy-v0
ENV_ID = "PGToy-v0"


# args
@dataclasses.dataclass
class Args:
    seed: int = 1
    """seed of the environment and of torch (the initial weights and the sampled actions)"""
    total_timesteps: int = 20_000
    """environment steps to train for"""
    n_episodes: int = 8
    """complete episodes per gradient step"""
    learning_rate: float = 3e-3
    """Adam's learning rate"""
    gamma: float = 0.99
    """discount factor of the reward-to-go"""
    hidden_size: int = 64
    """width of the two hidden layers"""
    normalize_returns: bool = True
    """standardise the batch's returns: subtract their mean (a baseline) and divide by their std"""

    def __post_init__(self) -> None:
        for name in ("total_timesteps", "n_episodes", "learning_rate", "hidden_size"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")


# policy
def layer_init(layer: nn.Linear, std: float = np.sqrt(2)) -> nn.Linear:
    """Orthogonal weights and zero biases, as in SB3 and CleanRL."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.zeros_(layer.bias)
    return layer


class Policy(nn.Module):
    """Observation (cell, diamond) -> one-hot of each, concatenated -> MLP -> Categorical over the actions."""

    def __init__(self, nvec: np.ndarray, n_actions: int, hidden_size: int) -> None:
        super().__init__()
        self.nvec = [int(n) for n in nvec]
        self.net = nn.Sequential(
            layer_init(nn.Linear(sum(self.nvec), hidden_size)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden_size, hidden_size)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden_size, n_actions), std=0.01),  # small logits: the policy starts near 50/50
        )

    def forward(self, obs: torch.Tensor) -> Categorical:
        one_hot = [nn.functional.one_hot(obs[:, i].long(), n) for i, n in enumerate(self.nvec)]
        return Categorical(logits=self.net(torch.cat(one_hot, dim=1).float()))


# returns
def reward_to_go(rewards: list[float], gamma: float) -> list[float]:
    """G_t = r_t + gamma * G_{t+1} for every step t of one episode, computed backwards from G_T = 0."""
    returns, g = [], 0.0
    for r in reversed(rewards):
        g = r + gamma * g
        returns.append(g)
    return returns[::-1]


def normalize(returns: torch.Tensor) -> torch.Tensor:
    """(G - mean) / std over the batch (zeros when all returns are equal)."""
    return (returns - returns.mean()) / (returns.std(correction=0) + 1e-8)


# update
def update_loss(
    policy: Policy, obs: torch.Tensor, actions: torch.Tensor, returns: torch.Tensor, n_episodes: int
) -> torch.Tensor:
    """REINFORCE's surrogate loss, -sum_t log pi(a_t|s_t) * G_t / n_episodes: minus its gradient is the estimate.

    With raw returns (--no-normalize-returns) and gamma = 1 that estimate is unbiased for grad J, the gradient of
    the expected return; standardised returns rescale and re-centre it per batch. The minus is there to descend.
    """
    log_prob = policy(obs).log_prob(actions)
    return -(log_prob * returns).sum() / n_episodes


# evaluation
def exact_return(policy: Policy) -> float:
    """The policy's exact expected return (undiscounted), by dynamic programming over the game tree."""

    def probability_fn(obs: np.ndarray) -> np.ndarray:  # obs -> (p_left, p_right)
        with torch.no_grad():
            return policy(torch.as_tensor(obs[None])).probs[0].numpy()

    return exact.expected_return(ENV_ID, probability_fn)


def train(args: Args) -> Policy:
    # env
    env = gym.make(ENV_ID)  # observations [cell, diamond], actions LEFT=0 / RIGHT=1, at most 3 steps
    obs, _ = env.reset(seed=args.seed)
    # policy
    torch.manual_seed(args.seed)
    policy = Policy(env.observation_space.nvec, int(env.action_space.n), args.hidden_size)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.learning_rate)
    global_step, next_print = 0, 0
    while global_step < args.total_timesteps:
        # rollout: n_episodes complete episodes with the current policy
        batch_obs, batch_actions, batch_rewards = [], [], []
        for _ in range(args.n_episodes):
            rewards, done = [], False
            while not done:
                with torch.no_grad():
                    action = policy(torch.as_tensor(obs[None])).sample().item()
                batch_obs.append(obs)
                batch_actions.append(action)
                obs, reward, terminated, truncated, _ = env.step(action)
                rewards.append(float(reward))
                done = terminated or truncated
                global_step += 1
            obs, _ = env.reset()
            batch_rewards.append(rewards)
        # returns: every step is weighted by the reward that follows it
        returns = torch.tensor([g for rewards in batch_rewards for g in reward_to_go(rewards, args.gamma)])
        if args.normalize_returns:
            returns = normalize(returns)
        # update: one gradient step on the batch
        loss = update_loss(
            policy, torch.tensor(np.array(batch_obs)), torch.tensor(batch_actions), returns, args.n_episodes
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if global_step >= next_print:
            print(f"step {global_step:6d}  exact expected return {exact_return(policy):.3f}")
            next_print += args.total_timesteps // 10
    return policy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in dataclasses.fields(Args):  # --seed 2, --total-timesteps 5000, --no-normalize-returns, ...
        flag = f"--{field.name.replace('_', '-')}"
        if isinstance(field.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default)
        else:
            parser.add_argument(flag, type=type(field.default), default=field.default)
    try:
        args = Args(**vars(parser.parse_args(argv)))
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(1)  # a tiny network: more threads only wait on each other
    policy = train(args)
    optimum = exact.solve(ENV_ID).expected_return  # 11: left for the diamond, then right, right
    print(f"Exact expected return of the learned policy: {exact_return(policy):.3f} (optimum {optimum:.3f})")


if __name__ == "__main__":
    main()
