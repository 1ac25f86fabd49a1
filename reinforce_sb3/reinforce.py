"""REINFORCE (vanilla policy gradient) as a Stable-Baselines3 algorithm."""

from __future__ import annotations

import io
import math
import os
import pathlib
import uuid
import warnings
from typing import Any, ClassVar, NamedTuple, TypeVar

import numpy as np
import torch as th
import torch.nn.functional as F  # noqa: N812
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, PyTorchObs, Schedule
from stable_baselines3.common.utils import explained_variance, obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from reinforce_sb3.buffer import EpisodeBuffer
from reinforce_sb3.numpy_actor import NumpyActor
from reinforce_sb3.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, REINFORCEPolicy
from reinforce_sb3.vec_step import can_pause, step_active

SelfREINFORCE = TypeVar("SelfREINFORCE", bound="REINFORCE")

LOSS_REDUCTIONS = ("mean", "episodes")
BASELINES = ("none", "mean", "value")
SUPPORTED_ACTION_SPACES = (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)


class REINFORCE(BaseAlgorithm):
    """
    REINFORCE, the vanilla policy gradient with Monte-Carlo returns (Williams, 1992).

    Paper: https://doi.org/10.1007/BF00992696
    Introduction: https://spinningup.openai.com/en/latest/spinningup/rl_intro3.html

    Each update collects ``n_episodes`` complete episodes with the current policy, computes
    for every step the Monte-Carlo return, and takes one gradient step on
    ``-log pi(a_t|s_t) * G_t``. There is no critic and no bootstrapping: an episode's return
    ends at its last step, whether it terminated or was truncated by a time limit.

    Episodes and parallel envs: the batch is the first ``n_episodes`` episodes to *start*
    after the update (ties broken by env index), so which episodes are used does not depend
    on what happens in them and the gradient estimate is unbiased. (Taking the first
    episodes to *finish* would favour short episodes.) An env whose batch episode ends after
    the batch is full waits until every batch episode has ended; then the update is made
    and the next batch starts. With a ``DummyVecEnv`` (what ``make_vec_env`` and an env id
    give) a waiting env is simply not stepped, so no step is wasted. Other VecEnvs
    (``SubprocVecEnv``, VecEnv wrappers such as ``VecNormalize``) step all envs together:
    a waiting env runs into an episode that is not used and is reset at the update. Those
    unused steps, at most about one episode per env per batch, are logged as ``rollout/waste``.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy) or a
        subclass of ``REINFORCEPolicy``
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, it can be a function of the current progress
        remaining (from 1 to 0)
    :param n_episodes: The number of complete episodes per gradient step, summed over all
        parallel envs
    :param gamma: Discount factor, in [0, 1]
    :param reward_to_go: If True, each action is weighted by the discounted return that
        follows it, ``G_t = r_t + gamma r_{t+1} + ...``; if False, by the whole episode's
        return ``G_0``. Both are unbiased estimators of the policy gradient for ``gamma = 1``;
        reward-to-go has less variance. (For ``gamma < 1``, ``G_0`` weights give the gradient
        of the discounted return from the start, while reward-to-go follows the common
        practice of dropping the ``gamma^t`` factor.)
    :param normalize_returns: Whether to standardise the returns of a batch (subtract their
        mean, divide by their standard deviation) before weighting; a batch whose returns are
        all equal gives zero weights
    :param loss_reduction: How the per-step terms are combined: "mean" averages over all
        steps of the batch; "episodes" sums and divides by the number of episodes, the
        textbook estimator of the gradient of the expected return
    :param baseline: What is subtracted from the returns before weighting: "none"; "mean", the
        batch's mean return; or "value", a state-value network (in the policy, saved with it)
        trained by regression on the returns. A baseline that does not depend on the action
        leaves the gradient unbiased and can cut its variance (the batch mean is biased by
        O(1/n_episodes), since each return is part of it).
    :param vf_coef: Value function coefficient in the loss (``baseline="value"`` only)
    :param ent_coef: Entropy coefficient for the loss calculation
    :param max_grad_norm: The maximum norm for gradient clipping, None for no clipping
    :param stats_window_size: Window size for the rollout logging, specifying the number of
        episodes to average the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param monitor_wrapper: When creating an environment, whether to wrap it or not in a
        Monitor wrapper
    :param policy_kwargs: additional arguments to be passed to the policy on creation
        (net_arch, activation_fn, ortho_init, log_std_init, features_extractor_class,
        features_extractor_kwargs, normalize_images, optimizer_class, optimizer_kwargs)
    :param verbose: Verbosity level: 0 for no output, 1 for info messages (such as device or
        wrappers used), 2 for debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
        Setting it to auto, the code will be run on the GPU if possible.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
    policy: REINFORCEPolicy
    episode_buffer: EpisodeBuffer

    def __init__(
        self,
        policy: str | type[REINFORCEPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-3,
        n_episodes: int = 8,
        gamma: float = 0.99,
        reward_to_go: bool = True,
        normalize_returns: bool = True,
        loss_reduction: str = "mean",
        baseline: str = "none",
        vf_coef: float = 0.5,
        ent_coef: float = 0.0,
        max_grad_norm: float | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        monitor_wrapper: bool = True,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        _check_hyperparameters(
            learning_rate, n_episodes, gamma, loss_reduction, baseline, vf_coef, ent_coef, max_grad_norm
        )
        super().__init__(
            policy=policy,
            env=env,
            learning_rate=learning_rate,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            support_multi_env=True,
            monitor_wrapper=monitor_wrapper,
            seed=seed,
        )
        if self.env is not None and not isinstance(self.action_space, SUPPORTED_ACTION_SPACES):
            self.env.close()
            raise ValueError(
                "action_space must be Discrete, Box, MultiDiscrete or MultiBinary for REINFORCE, "
                f"got {self.action_space}"
            )

        self.n_episodes = n_episodes
        self.gamma = gamma
        self.reward_to_go = reward_to_go
        self.normalize_returns = normalize_returns
        self.loss_reduction = loss_reduction
        self.baseline = baseline
        self.vf_coef = vf_coef
        self.ent_coef = ent_coef
        self.max_grad_norm = max_grad_norm

        if self.env is not None and n_episodes < self.n_envs:
            warnings.warn(
                f"n_episodes={n_episodes} is smaller than the number of envs ({self.n_envs}): "
                f"{self.n_envs - n_episodes} envs have no episode in any batch (they idle, or waste their steps "
                "if the VecEnv cannot pause them). Use n_episodes >= n_envs.",
                stacklevel=2,
            )

        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(  # type: ignore[assignment]
            self.observation_space,
            self.action_space,
            self.lr_schedule,
            value_baseline=self.baseline == "value",
            **self.policy_kwargs,
        )
        self.policy = self.policy.to(self.device)
        self.episode_buffer = EpisodeBuffer(self.observation_space, self.action_space, self.n_envs)
        self._start_batch(reset_env=False)

    def _get_policy_from_name(self, policy_name: str) -> type[BasePolicy]:
        if policy_name not in self.policy_aliases:
            aliases = list(self.policy_aliases)
            raise ValueError(f"policy must be one of {aliases} or a policy class, got {policy_name!r}")
        return self.policy_aliases[policy_name]

    def _start_batch(self, reset_env: bool) -> None:
        """Begin collecting a new batch: its first episodes are those the envs start now."""
        if reset_env and self.env is not None and not np.all(self._last_episode_starts):
            # Episodes still running began under the previous policy: their steps cannot be used.
            self._last_obs = self.env.reset()  # type: ignore[assignment]
            self._last_episode_starts = np.ones((self.env.num_envs,), dtype=bool)
        self.episode_buffer.reset()
        self._batch_start_timesteps = self.num_timesteps
        self._episode_in_batch = np.arange(self.n_envs) < self.n_episodes
        self._episodes_started = int(self._episode_in_batch.sum())
        self._episodes_done = 0

    def collect_episodes(self, env: VecEnv, callback: BaseCallback, total_timesteps: int) -> bool:
        """
        Step the envs with the current policy until the batch's ``n_episodes`` episodes are
        complete, or the timestep budget is spent.

        :param env: The training environment
        :param callback: Callback called at every step (and at the start and end of the collection)
        :param total_timesteps: The budget: collection stops when ``num_timesteps`` reaches it
        :return: False if a callback stopped training, True otherwise
        """
        assert self._last_obs is not None, "No previous observation was provided"
        # Switch to eval mode (this affects batch norm / dropout)
        self.policy.set_training_mode(False)
        box = isinstance(self.action_space, spaces.Box)
        # On the CPU, actions come from a numpy copy of the actor (same distribution, a fraction of
        # torch's per-call cost at rollout sizes); its random numbers are drawn from torch's generator.
        actor = NumpyActor.from_policy(self.policy)
        rng = np.random.default_rng(int(th.randint(2**62, ()).item())) if actor is not None else None
        # A DummyVecEnv steps only the envs running batch episodes: the others wait, so no step is wasted.
        pause = can_pause(env)
        every_env = np.ones((env.num_envs,), dtype=bool)
        callback.on_rollout_start()

        while self._episodes_done < self.n_episodes and self.num_timesteps < total_timesteps:
            if actor is not None:
                actions = actor.sample(self._last_obs, rng)  # type: ignore[arg-type]
            else:
                with th.no_grad():
                    obs_tensor = obs_as_tensor(self._last_obs, self.device)  # type: ignore[arg-type]
                    actions = self.policy(obs_tensor).cpu().numpy()
            # The log-probability is that of the Gaussian sample; the env receives it clipped.
            clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high) if box else actions

            if pause:
                active = self._episode_in_batch.copy()
                new_obs, rewards, dones, infos = step_active(env, clipped_actions, active)  # type: ignore[arg-type]
            else:
                active = every_env
                new_obs, rewards, dones, infos = env.step(clipped_actions)
            self.num_timesteps += int(np.count_nonzero(active))

            # Give access to local variables
            callback.update_locals(locals())
            if not callback.on_step():
                # This step is not recorded, so the batch cannot go on: the next learn() resets the envs.
                self._last_obs = None
                return False

            self._update_info_buffer(infos, dones)
            self.episode_buffer.add(
                self._last_obs,  # type: ignore[arg-type]
                actions,
                rewards,
                self._last_episode_starts,  # type: ignore[arg-type]
                dones,
                self._episode_in_batch,
            )
            self._end_episodes(dones)
            self._last_obs = new_obs  # type: ignore[assignment]
            # an env that did not step is still at the start of the episode it will begin when it steps again
            self._last_episode_starts = self._last_episode_starts & ~active | dones

        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _end_episodes(self, dones: np.ndarray) -> None:
        """Count the batch episodes that ended; the envs' next episodes join the batch while places are left."""
        if not dones.any():  # most steps
            return
        self._episodes_done += int(np.count_nonzero(dones & self._episode_in_batch))
        restarted = np.flatnonzero(dones)
        joining = restarted[: self.n_episodes - self._episodes_started]
        self._episode_in_batch[restarted] = False
        self._episode_in_batch[joining] = True
        self._episodes_started += len(joining)

    def train(self) -> None:
        """Update the policy with one gradient step on the batch of complete episodes."""
        # Switch to train mode (this affects batch norm / dropout)
        self.policy.set_training_mode(True)
        # Update optimizer learning rate
        self._update_learning_rate(self.policy.optimizer)

        batch = self.episode_buffer.episode_batch(self.gamma, self.reward_to_go)
        # One host-to-device copy of the batch
        observations = obs_as_tensor(batch.observations, self.device)  # type: ignore[arg-type]
        actions = th.as_tensor(batch.actions, device=self.device)
        returns = th.as_tensor(batch.returns, dtype=th.float32, device=self.device)

        losses = reinforce_loss(
            self.policy,
            observations,
            actions,
            returns,
            n_episodes=self.n_episodes,
            normalize_returns=self.normalize_returns,
            loss_reduction=self.loss_reduction,
            baseline=self.baseline,
        )
        loss = losses.policy_loss + self.ent_coef * losses.entropy_loss
        if losses.value_loss is not None:
            loss = loss + self.vf_coef * losses.value_loss

        self.policy.optimizer.zero_grad()
        loss.backward()
        # Clip grad norm (an infinite norm only measures it)
        max_norm = math.inf if self.max_grad_norm is None else self.max_grad_norm
        grad_norm = th.nn.utils.clip_grad_norm_(self.policy.parameters(), max_norm)
        self.policy.optimizer.step()
        self._n_updates += 1

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/policy_loss", losses.policy_loss.item())
        self.logger.record("train/entropy_loss", losses.entropy_loss.item())
        self.logger.record("train/grad_norm", grad_norm.item())
        self.logger.record("train/return_mean", float(batch.returns.mean()))
        self.logger.record("train/return_std", float(batch.returns.std()))
        self.logger.record("train/batch_steps", len(batch.returns))
        if losses.values is not None and losses.value_loss is not None:
            self.logger.record("train/value_loss", losses.value_loss.item())
            self.logger.record(
                "train/explained_variance", explained_variance(losses.values.detach().cpu().numpy(), batch.returns)
            )
        self.logger.record(
            "rollout/waste", 1.0 - len(batch.returns) / (self.num_timesteps - self._batch_start_timesteps)
        )
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())

    # The logging of SB3's A2C and PPO: rollout/ep_rew_mean, time/fps, ...
    dump_logs = OnPolicyAlgorithm.dump_logs

    def learn(
        self: SelfREINFORCE,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 10,
        tb_log_name: str = "REINFORCE",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfREINFORCE:
        """
        Train for ``total_timesteps`` environment steps (summed over the envs).

        A batch that is not complete when the budget is spent is kept, and continues on the
        next call with ``reset_num_timesteps=False``.

        :param total_timesteps: The total number of samples (env steps) to train on
        :param callback: callback(s) called at every step with state of the algorithm.
        :param log_interval: The number of gradient steps between logs
        :param tb_log_name: the name of the run for TensorBoard logging
        :param reset_num_timesteps: whether or not to reset the current timestep number (used in logging)
        :param progress_bar: Display a progress bar using tqdm and rich.
        :return: the trained model
        """
        iteration = 0
        fresh_start = reset_num_timesteps or self._last_obs is None
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        if fresh_start:  # _setup_learn has reset the envs
            self._start_batch(reset_env=False)

        callback.on_training_start(locals(), globals())

        assert self.env is not None
        stopped = False
        while self.num_timesteps < total_timesteps:
            if not self.collect_episodes(self.env, callback, total_timesteps):
                stopped = True
                break
            if self._episodes_done < self.n_episodes:
                break  # the budget ran out before the batch was complete

            iteration += 1
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)

            # Display training infos
            if log_interval is not None and iteration % log_interval == 0:
                self.dump_logs(iteration)

            self.train()
            self._start_batch(reset_env=True)

        if iteration == 0 and not stopped:
            warnings.warn(
                f"REINFORCE made no gradient step: {self.num_timesteps - self._num_timesteps_at_start} steps ran "
                f"out before {self.n_episodes} episodes ended ({self._episodes_done} did). REINFORCE learns from "
                "complete episodes only, so it needs episodes that end: give the env a time limit "
                "(e.g. gym.make(env_id, max_episode_steps=...)) or a larger total_timesteps. The episodes "
                "collected so far are kept for learn(..., reset_num_timesteps=False).",
                stacklevel=2,
            )

        callback.on_training_end()
        return self

    def set_parameters(self, *args: Any, **kwargs: Any) -> None:
        """Load parameters as SB3 does; the envs then reset before training (running episodes used old parameters)."""
        super().set_parameters(*args, **kwargs)
        self._last_obs = None

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "episode_buffer"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []

    def save(
        self,
        path: str | pathlib.Path | io.BufferedIOBase,
        exclude: Any = None,
        include: Any = None,
    ) -> None:
        """Save as SB3 does; a file is written to a temporary name first, so an existing model is never lost."""
        if isinstance(path, io.BufferedIOBase):
            super().save(path, exclude, include)
            return
        final = pathlib.Path(path)
        if final.suffix == "":
            final = final.with_suffix(".zip")
        temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp.zip")
        try:
            super().save(temporary, exclude, include)
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfREINFORCE],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfREINFORCE:
        """Load a saved REINFORCE model, as SB3 does; a file that is not one is a clear ``ValueError``."""
        data, _, _ = load_from_zip_file(path, load_data=True, custom_objects=custom_objects, device="cpu")
        if isinstance(path, io.BufferedIOBase):
            path.seek(0)
        if data is None or "policy_class" not in data:
            raise ValueError(f"path {path!r} is not a saved Stable-Baselines3 model (it holds no model data)")
        policy_class = data["policy_class"]
        if not (isinstance(policy_class, type) and issubclass(policy_class, REINFORCEPolicy)):
            raise ValueError(
                f"path {path!r} holds a model with a {getattr(policy_class, '__name__', policy_class)}, "
                "saved by another algorithm: load it with that algorithm's class"
            )
        return super().load(path, env, device, custom_objects, print_system_info, force_reset, **kwargs)


class Losses(NamedTuple):
    """The terms of REINFORCE's loss for one batch (``values``: the learned baseline's predictions, if any)."""

    policy_loss: th.Tensor
    entropy_loss: th.Tensor
    value_loss: th.Tensor | None
    values: th.Tensor | None


def reinforce_loss(
    policy: BasePolicy,
    observations: PyTorchObs,
    actions: th.Tensor,
    returns: th.Tensor,
    n_episodes: int,
    normalize_returns: bool = False,
    loss_reduction: str = "episodes",
    baseline: str = "none",
    ratio_form: bool = False,
) -> Losses:
    """
    REINFORCE's loss terms for a batch of steps from ``n_episodes`` complete episodes.

    :param policy: the policy: any SB3 policy with ``get_distribution`` (and ``predict_values``
        for ``baseline="value"``)
    :param observations: the steps' observations (a tensor or a dict of tensors)
    :param actions: the actions taken
    :param returns: the Monte-Carlo return weighting each step (reward-to-go or whole-episode)
    :param n_episodes: the number of episodes in the batch (for ``loss_reduction="episodes"``)
    :param normalize_returns: standardise the weights (zeros if they are all equal)
    :param loss_reduction: "mean" over steps, or "episodes": sum over steps / ``n_episodes``
    :param baseline: "none", "mean" (the batch's mean return) or "value" (the policy's value network)
    :param ratio_form: weight ``pi / pi.detach()`` instead of ``log pi``: the likelihood-ratio form,
        whose gradient is the same (``grad pi / pi = grad log pi``); for teaching and checking
    """
    # Weights: the returns, less the baseline, standardised if asked
    values = None
    if baseline == "mean":
        advantages = returns - returns.mean()
    elif baseline == "value":
        values = policy.predict_values(observations).flatten()  # SB3 critics give (batch, 1)
        advantages = returns - values.detach()
    else:
        advantages = returns
    weights = _standardize(advantages) if normalize_returns else advantages

    # get_distribution: any SB3 policy has it (A2C's too), so the diagnostics can use this loss
    distribution = policy.get_distribution(observations)
    log_prob, entropy = distribution.log_prob(actions), distribution.entropy()
    # "mean": average over the batch's steps; "episodes": sum over steps / number of episodes
    scale = 1.0 / (len(weights) if loss_reduction == "mean" else n_episodes)
    surrogate = th.exp(log_prob - log_prob.detach()) if ratio_form else log_prob
    return Losses(
        # Policy gradient loss: ascend sum_t log pi(a_t|s_t) * G_t
        policy_loss=-(surrogate * weights).sum() * scale,
        # Entropy loss favours exploration
        entropy_loss=-entropy.sum() * scale,
        # The learned baseline regresses on the returns (its input features are detached)
        value_loss=None if values is None else F.mse_loss(values, returns),
        values=values,
    )


def _standardize(weights: th.Tensor) -> th.Tensor:
    """(weights - mean) / std; zeros when the weights are all equal (never NaN)."""
    mean = weights.mean()
    centered = weights - mean
    std = centered.pow(2).mean().sqrt()
    # one comparison on the device, no host synchronisation
    return th.where(
        std > 1e-8 * th.clamp(mean.abs(), min=1.0), centered / std.clamp(min=1e-30), th.zeros_like(centered)
    )


def _check_hyperparameters(
    learning_rate: float | Schedule,
    n_episodes: int,
    gamma: float,
    loss_reduction: str,
    baseline: str,
    vf_coef: float,
    ent_coef: float,
    max_grad_norm: float | None,
) -> None:
    """Raise a ValueError naming the first invalid argument."""
    initial_lr = learning_rate(1.0) if callable(learning_rate) else learning_rate
    if not isinstance(initial_lr, (int, float)) or not math.isfinite(initial_lr) or initial_lr < 0:
        raise ValueError(f"learning_rate must be a finite number >= 0 (or a schedule of such), got {learning_rate!r}")
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) or n_episodes < 1:
        raise ValueError(f"n_episodes must be an integer >= 1, got {n_episodes!r}")
    if not isinstance(gamma, (int, float)) or not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    if loss_reduction not in LOSS_REDUCTIONS:
        raise ValueError(f"loss_reduction must be one of {LOSS_REDUCTIONS}, got {loss_reduction!r}")
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    if not isinstance(vf_coef, (int, float)) or not math.isfinite(vf_coef) or vf_coef < 0:
        raise ValueError(f"vf_coef must be a finite number >= 0, got {vf_coef!r}")
    if not isinstance(ent_coef, (int, float)) or not math.isfinite(ent_coef):
        raise ValueError(f"ent_coef must be a finite number, got {ent_coef!r}")
    if max_grad_norm is not None and (not isinstance(max_grad_norm, (int, float)) or not max_grad_norm > 0):
        raise ValueError(f"max_grad_norm must be a number > 0 or None (no clipping), got {max_grad_norm!r}")
