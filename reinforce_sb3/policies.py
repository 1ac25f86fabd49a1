"""The REINFORCE policy: features extractor, MLP, action distribution (and a value network only on request)."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import (
    BernoulliDistribution,
    CategoricalDistribution,
    DiagGaussianDistribution,
    Distribution,
    MultiCategoricalDistribution,
    SquashedDiagGaussianDistribution,
    make_proba_distribution,
)
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
    create_mlp,
)
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import nn

from reinforce_sb3.validation import check_bool, check_number, check_observations


class REINFORCEPolicy(BasePolicy):
    """
    Policy for REINFORCE: observation -> features extractor -> MLP -> action distribution.

    Unlike SB3's ``ActorCriticPolicy`` there is no value network unless REINFORCE's learned
    baseline asks for one: nothing in the optimizer or the saved file is unused by the algorithm.

    :param observation_space: Observation space
    :param action_space: Action space (Discrete, Box, MultiDiscrete or MultiBinary)
    :param lr_schedule: Learning rate schedule (``lr_schedule(1)`` is the initial learning rate)
    :param net_arch: The sizes of the hidden layers after the features extractor
        (default ``[64, 64]``, or ``[]`` after a ``NatureCNN``): a list for the policy (and the
        value network, if any), or SB3's ``dict(pi=[...], vf=[...])`` (a missing key means no
        hidden layer, as in SB3)
    :param activation_fn: Activation function of the hidden layers
    :param ortho_init: Whether to use orthogonal initialization (gain sqrt(2) for the hidden
        layers, 0.01 for the action layer, as in SB3's ``ActorCriticPolicy``)
    :param log_std_init: Initial value of the log standard deviation (Box actions: a diagonal
        Gaussian whose log-std is a learned parameter, independent of the state)
    :param features_extractor_class: Features extractor to use
    :param features_extractor_kwargs: Keyword arguments to pass to the features extractor
    :param normalize_images: Whether to normalize images or not, dividing by 255.0
    :param optimizer_class: The optimizer to use, ``th.optim.Adam`` by default
    :param optimizer_kwargs: Additional keyword arguments, excluding the learning rate,
        to pass to the optimizer
    :param value_baseline: Whether to add a state-value network (same hidden layers, its own
        weights) for REINFORCE's learned baseline. It reads the features detached, so training
        it never changes the policy's gradient. Set by ``REINFORCE(baseline="value")``.
    :param squash_output: Box actions only: squash the Gaussian sample ``u`` with ``tanh`` into
        (-1, 1) and rescale it to the action space's bounds (SB3's
        ``SquashedDiagGaussianDistribution``, as in SAC), instead of clipping the sample to the
        bounds. The log-probability is that of ``tanh(u)``, with the change-of-variables term
        ``-sum log(1 - tanh(u)^2)``, which does not depend on the parameters. The bounds must be
        finite. The distribution has no closed-form entropy, so an entropy bonus has no effect.
    """

    def __init__(
        self,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        lr_schedule: Schedule,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.Tanh,
        ortho_init: bool = True,
        log_std_init: float = 0.0,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        value_baseline: bool = False,
        squash_output: bool = False,
    ) -> None:
        squash_output = check_bool("squash_output", squash_output)
        if squash_output and not (
            isinstance(action_space, spaces.Box)
            and np.isfinite(action_space.low).all()
            and np.isfinite(action_space.high).all()
        ):
            raise ValueError(
                f"squash_output=True needs a Box action space with finite bounds (tanh's (-1, 1) is rescaled "
                f"to them), got {action_space}"
            )
        super().__init__(
            observation_space,
            action_space,
            features_extractor_class,
            features_extractor_kwargs,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            normalize_images=normalize_images,
            squash_output=squash_output,
        )
        if net_arch is None:
            net_arch = [] if features_extractor_class == NatureCNN else [64, 64]
        self.net_arch = net_arch
        pi_arch, vf_arch = _split_net_arch(net_arch)
        check_bool("ortho_init", ortho_init)
        check_bool("normalize_images", normalize_images)
        check_number("log_std_init", log_std_init)
        self.activation_fn = activation_fn
        self.ortho_init = ortho_init
        self.log_std_init = log_std_init
        self.value_baseline = value_baseline

        self.features_extractor = self.make_features_extractor()
        self.features_dim = self.features_extractor.features_dim
        self.latent_net = nn.Sequential(*create_mlp(self.features_dim, -1, pi_arch, activation_fn))
        latent_dim = pi_arch[-1] if pi_arch else self.features_dim

        self.action_dist = (
            SquashedDiagGaussianDistribution(get_action_dim(action_space))
            if squash_output
            else make_proba_distribution(action_space)
        )
        self.action_net: nn.Module
        if isinstance(self.action_dist, DiagGaussianDistribution):
            self.action_net, self.log_std = self.action_dist.proba_distribution_net(
                latent_dim=latent_dim, log_std_init=log_std_init
            )
        else:
            self.action_net = self.action_dist.proba_distribution_net(latent_dim=latent_dim)  # type: ignore[assignment]  # SB3 types every distribution's net as a union with the Gaussian's pair

        self.value_net = (
            nn.Sequential(*create_mlp(self.features_dim, 1, vf_arch, activation_fn)) if value_baseline else None
        )

        if ortho_init:
            module_gains = {self.features_extractor: np.sqrt(2), self.latent_net: np.sqrt(2), self.action_net: 0.01}
            if self.value_net is not None:
                module_gains[self.value_net] = 1.0
            for module, gain in module_gains.items():
                module.apply(partial(self.init_weights, gain=gain))

        self.optimizer = self.optimizer_class(
            self.parameters(),
            lr=lr_schedule(1),  # type: ignore[call-arg]  # every torch optimizer takes lr; the base class stub does not
            **self.optimizer_kwargs,
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            dict(
                net_arch=self.net_arch,
                activation_fn=self.activation_fn,
                ortho_init=self.ortho_init,
                log_std_init=self.log_std_init,
                lr_schedule=self._dummy_schedule,  # not needed to load the policy alone
                optimizer_class=self.optimizer_class,
                optimizer_kwargs=self.optimizer_kwargs,
                features_extractor_class=self.features_extractor_class,
                features_extractor_kwargs=self.features_extractor_kwargs,
                value_baseline=self.value_baseline,
                squash_output=self.squash_output,
            )
        )
        return data

    def action_parameters(self, obs: PyTorchObs) -> th.Tensor:
        """The action layer's output (logits, or the Gaussian's means) for a batch of observations."""
        latent = self.latent_net(self.extract_features(obs, self.features_extractor))
        action_params: th.Tensor = self.action_net(latent)
        return action_params

    def get_distribution(self, obs: PyTorchObs) -> Distribution:
        """The action distribution for a batch of (preprocessed-to-tensor) observations."""
        action_params = self.action_parameters(obs)
        if isinstance(self.action_dist, DiagGaussianDistribution):
            return self.action_dist.proba_distribution(action_params, self.log_std)
        if isinstance(self.action_dist, (CategoricalDistribution, MultiCategoricalDistribution, BernoulliDistribution)):
            return self.action_dist.proba_distribution(action_logits=action_params)
        raise ValueError(f"Unsupported action distribution {self.action_dist}")

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """Actions for a batch of observations, shaped like the action space (SB3's sampling; squashed
        actions in (-1, 1), which ``predict`` rescales to the action space's bounds)."""
        actions = self.get_distribution(obs).get_actions(deterministic=deterministic)
        return actions.reshape((-1, *(self.action_space.shape or ())))

    def obs_to_tensor(self, observation: np.ndarray | dict[str, np.ndarray]) -> tuple[PyTorchObs, bool]:
        """SB3's conversion, after a ``ValueError`` for observations that are not finite or out of the space."""
        check_observations(observation, self.observation_space)
        return super().obs_to_tensor(observation)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self.forward(observation, deterministic)

    def predict_values(self, obs: PyTorchObs) -> th.Tensor:
        """The learned state values, shape ``(batch,)``, from the features detached from the policy's graph."""
        if self.value_net is None:
            raise ValueError("this policy has no value network: use REINFORCE(baseline='value')")
        features = self.extract_features(obs, self.features_extractor).detach()
        values: th.Tensor = self.value_net(features)
        return values.flatten()


def _split_net_arch(net_arch: Any) -> tuple[list[int], list[int]]:
    """The hidden layers of the policy and of the value network, from a list or ``dict(pi=..., vf=...)``."""
    if isinstance(net_arch, dict):
        unknown = set(net_arch) - {"pi", "vf"}
        if unknown:
            raise ValueError(f"net_arch as a dict takes the keys 'pi' and 'vf', got {sorted(unknown)}")
        pi_arch, vf_arch = net_arch.get("pi", []), net_arch.get("vf", [])
    else:
        pi_arch = vf_arch = net_arch
    for arch in (pi_arch, vf_arch):
        if not isinstance(arch, (list, tuple)) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in arch
        ):
            raise ValueError(
                f"net_arch must be a list of positive layer sizes or dict(pi=[...], vf=[...]), got {net_arch!r}"
            )
    return list(pi_arch), list(vf_arch)


class REINFORCECnnPolicy(REINFORCEPolicy):
    """:class:`REINFORCEPolicy` for image observations: ``NatureCNN`` features and no hidden layers by default."""

    def __init__(
        self,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        lr_schedule: Schedule,
        features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            observation_space, action_space, lr_schedule, features_extractor_class=features_extractor_class, **kwargs
        )


class REINFORCEMultiInputPolicy(REINFORCEPolicy):
    """:class:`REINFORCEPolicy` for ``Dict`` observations: a ``CombinedExtractor`` (CNN for images, else flatten)."""

    def __init__(
        self,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        lr_schedule: Schedule,
        features_extractor_class: type[BaseFeaturesExtractor] = CombinedExtractor,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            observation_space, action_space, lr_schedule, features_extractor_class=features_extractor_class, **kwargs
        )


MlpPolicy = REINFORCEPolicy
CnnPolicy = REINFORCECnnPolicy
MultiInputPolicy = REINFORCEMultiInputPolicy
