"""A numpy copy of a policy's actor, for sampling actions in the rollout on the CPU.

Per step, the rollout pushes a handful of observations through a small MLP. At that size
torch spends its time in per-call dispatch (about 7 us per module and op), not in
arithmetic: a 64x64 policy costs 70-110 us per step in torch and about 15 us in numpy.
So on the CPU the rollout samples from a numpy copy of the weights, taken once per batch;
the gradient step stays in torch. Policies the copy cannot reproduce exactly (other
features extractors, image or Dict observations, unknown activations, a GPU device) are
sampled in torch, so the choice never changes what is learned, only how fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import (
    BernoulliDistribution,
    CategoricalDistribution,
    DiagGaussianDistribution,
    MultiCategoricalDistribution,
    SquashedDiagGaussianDistribution,
)
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.torch_layers import FlattenExtractor
from torch import nn

from reinforce_sb3.policies import REINFORCEPolicy

Activation = Callable[[np.ndarray], np.ndarray]


def _activation(module: nn.Module) -> Activation | None:
    """The numpy function of a torch activation module, or None if it has none here."""
    if isinstance(module, nn.Tanh):
        return np.tanh
    if isinstance(module, nn.ReLU):
        return lambda x: np.maximum(x, 0.0, dtype=np.float32)
    if isinstance(module, nn.LeakyReLU):
        slope = np.float32(module.negative_slope)
        return lambda x: np.where(x > 0, x, x * slope)
    if isinstance(module, nn.ELU):
        alpha = np.float32(module.alpha)
        return lambda x: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    if isinstance(module, nn.Sigmoid):
        return _sigmoid
    if isinstance(module, nn.Identity):
        return lambda x: x
    return None


DISTRIBUTIONS = {
    CategoricalDistribution: "categorical",
    MultiCategoricalDistribution: "multi_categorical",
    DiagGaussianDistribution: "gaussian",
    SquashedDiagGaussianDistribution: "squashed_gaussian",
    BernoulliDistribution: "bernoulli",
}


class ActionSampler:
    """
    The rollout's one sampler per action distribution: actions drawn in numpy from the
    distribution's parameters (logits, or Gaussian means with the policy's standard deviation),
    whether those parameters came from the numpy actor or from torch.

    The squashed Gaussian (``squash_output=True``) returns ``tanh(u)`` of the Gaussian sample
    ``u``, in (-1, 1) before the collector rescales it to the action space's bounds: what
    ``SquashedDiagGaussianDistribution.log_prob`` is evaluated on (it recovers ``u`` by
    ``atanh``, clamped an epsilon inside +-1, so a sample that rounds to +-1 in float32 gives a
    finite log-probability).

    Build it with :meth:`from_policy`, which returns None for a distribution it does not know.

    :param distribution: "categorical", "multi_categorical", "gaussian", "squashed_gaussian" or "bernoulli"
    :param action_space: The policy's action space
    :param log_std: The Gaussian's log standard deviation (Box actions only)
    """

    def __init__(self, distribution: str, action_space: spaces.Space[Any], log_std: np.ndarray | None = None) -> None:
        self.distribution = distribution
        self.action_shape = action_space.shape or ()
        self._action_size = math.prod(self.action_shape)  # (np.prod costs more than a step's sampling)
        self.std = None if log_std is None else np.exp(log_std).astype(np.float32)
        if isinstance(action_space, spaces.MultiDiscrete):
            self._splits = np.cumsum(action_space.nvec.ravel())[:-1]

    @classmethod
    def from_policy(cls, policy: REINFORCEPolicy) -> ActionSampler | None:
        """The sampler of ``policy``'s action distribution (with its current standard deviation), or None."""
        distribution = DISTRIBUTIONS.get(type(policy.action_dist))
        if distribution is None:
            return None
        gaussian = distribution in ("gaussian", "squashed_gaussian")
        log_std = policy.log_std.detach().cpu().numpy() if gaussian else None
        return cls(distribution, policy.action_space, log_std)

    def sample(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One action per row of distribution parameters, shaped like the action space."""
        return self.from_noise(params, self.noise(rng, len(params)))

    def noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """The random numbers that :meth:`from_noise` turns into ``n`` actions (one row per action), drawn from
        ``rng`` as :meth:`sample` draws them."""
        if self.distribution == "categorical":
            return rng.random((n, 1))
        if self.distribution == "multi_categorical":
            return np.concatenate([rng.random((n, 1)) for _ in range(len(self._splits) + 1)], axis=1)
        size = (n, self._action_size)
        if self.distribution in ("gaussian", "squashed_gaussian"):
            return rng.standard_normal(size, dtype=np.float32)
        return rng.random(size, dtype=np.float32)

    def from_noise(self, params: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """One action per row of distribution parameters, from its row of :meth:`noise`, shaped like the action
        space: row i depends on row i of each only."""
        if self.distribution == "categorical":
            actions = _categorical(params, noise)
        elif self.distribution == "multi_categorical":
            logits = np.split(params, self._splits, axis=1)
            actions = np.stack([_categorical(part, noise[:, k : k + 1]) for k, part in enumerate(logits)], axis=1)
        elif self.distribution == "gaussian":
            assert self.std is not None  # a Gaussian sampler has its standard deviation
            actions = params + self.std * noise
        elif self.distribution == "squashed_gaussian":
            assert self.std is not None  # as above
            actions = np.tanh(params + self.std * noise)
        else:
            actions = (noise < _sigmoid(params)).astype(np.float32)
        return actions.reshape((-1, *self.action_shape))


class EnvActions:
    """
    The actions the envs receive, from those the sampler drew: Box actions clipped to the action
    space (a squashed sample, in (-1, 1), rescaled to the bounds first, as SB3's
    ``unscale_action`` does, the clip only catching rounding); other actions as they are.

    :param action_space: The envs' action space
    :param squash: Whether the policy squashes its Gaussian samples (``squash_output``)
    """

    def __init__(self, action_space: spaces.Space[Any], squash: bool) -> None:
        self.box = action_space if isinstance(action_space, spaces.Box) else None
        self.squash = squash and self.box is not None

    def __call__(self, actions: np.ndarray) -> np.ndarray:
        if self.box is None:
            return actions
        low, high = self.box.low, self.box.high
        box_actions = low + (0.5 * (actions + 1.0) * (high - low)) if self.squash else actions
        clipped: np.ndarray = np.minimum(np.maximum(box_actions, low), high)  # np.clip, without its dispatch
        return clipped


class NumpyActor:
    """
    The actor of a :class:`~reinforce_sb3.policies.REINFORCEPolicy` (features, hidden layers,
    action layer, action distribution) as numpy arrays, sampling the same distribution.

    Build it with :meth:`from_policy`, which returns None for a policy it cannot copy exactly.
    The copy does not follow later changes of the policy's parameters: take a new one after
    each gradient step.

    :param observation_space: The policy's observation space
    :param layers: The hidden and action layers in order: ``(weight.T, bias)`` of a linear
        layer, or an activation function
    :param sampler: The sampler of the policy's action distribution
    """

    def __init__(
        self,
        observation_space: spaces.Space[Any],
        layers: list[tuple[np.ndarray, np.ndarray] | Activation],
        sampler: ActionSampler,
    ) -> None:
        self.observation_space = observation_space
        self.layers = layers
        self.sampler = sampler
        if isinstance(observation_space, spaces.Discrete):
            self._one_hot: list[np.ndarray] = [np.eye(int(observation_space.n), dtype=np.float32)]
        elif isinstance(observation_space, spaces.MultiDiscrete):
            self._one_hot = [np.eye(int(n), dtype=np.float32) for n in observation_space.nvec.ravel()]
        if isinstance(observation_space, (spaces.Discrete, spaces.MultiDiscrete)):
            self._sizes = np.array([len(eye) for eye in self._one_hot])

    @classmethod
    def from_policy(cls, policy: REINFORCEPolicy, sampler: ActionSampler | None = None) -> NumpyActor | None:
        """
        A numpy copy of ``policy``'s actor, or None if ``policy`` is not an MLP on flat observations on the CPU.

        :param policy: the policy to copy
        :param sampler: the sampler of its action distribution, if the caller has built it
            (:meth:`ActionSampler.from_policy`, built here otherwise)
        """
        parameters = list(policy.parameters())
        if parameters and parameters[0].device.type != "cpu":
            return None
        observation_space = policy.observation_space
        if type(policy.features_extractor) is not FlattenExtractor:
            return None
        if not isinstance(observation_space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
            return None
        if isinstance(observation_space, spaces.Box) and is_image_space(observation_space):
            return None
        sampler = sampler or ActionSampler.from_policy(policy)
        if sampler is None or not isinstance(policy.action_net, nn.Linear):
            return None

        layers: list[tuple[np.ndarray, np.ndarray] | Activation] = []
        for module in [*policy.latent_net, policy.action_net]:
            if isinstance(module, nn.Linear):
                weight = module.weight.detach().numpy().T.astype(np.float32)
                bias = (th.zeros(module.out_features) if module.bias is None else module.bias.detach()).numpy()
                layers.append((np.ascontiguousarray(weight), bias.astype(np.float32)))
            else:
                activation = _activation(module)
                if activation is None:
                    return None
                layers.append(activation)
        return cls(observation_space, layers, sampler)

    def features(self, obs: np.ndarray) -> np.ndarray:
        """SB3's preprocessing and flattening of a batch of observations, as float32."""
        if isinstance(self.observation_space, (spaces.Discrete, spaces.MultiDiscrete)):
            columns = np.asarray(obs, dtype=np.int64).reshape(len(obs), -1)
            if (columns < 0).any() or (columns >= self._sizes).any():  # numpy would wrap or raise IndexError
                raise ValueError(f"observation is outside the observation space {self.observation_space}: {obs!r}")
            return np.concatenate([eye[columns[:, i]] for i, eye in enumerate(self._one_hot)], axis=1)
        return np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)

    def action_parameters(self, obs: np.ndarray) -> np.ndarray:
        """The action layer's output (logits or Gaussian means) for a batch of observations."""
        x = self.features(obs)
        for layer in self.layers:
            if isinstance(layer, tuple):
                weight, bias = layer
                x = x @ weight + bias
            else:
                x = layer(x)
        return x

    def sample(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One action per observation, drawn from the policy's distribution, shaped like the action space."""
        return self.sampler.sample(self.action_parameters(obs), rng)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large ``|x|``."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _categorical(logits: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """One sample per row of ``logits``, by inverting the cumulative distribution at the row's uniform number."""
    cumulative = np.exp(logits - logits.max(axis=1, keepdims=True)).cumsum(axis=1)
    thresholds = uniforms * cumulative[:, -1:]
    samples: np.ndarray = np.minimum((cumulative <= thresholds).sum(axis=1), logits.shape[1] - 1)
    return samples.astype(np.int64)
