"""REINFORCE (vanilla policy gradient) as a Stable-Baselines3 algorithm."""

from __future__ import annotations

import math
from typing import Any, ClassVar, TypeVar

import torch as th
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import explained_variance

from gym_pgtoy.validation import check_integer
from reinforce_sb3.episodic_algorithm import EpisodicAlgorithm, warn_user
from reinforce_sb3.estimator import Baseline, EstimatorOptions, LossReduction, Truncation, reinforce_loss, running_mean
from reinforce_sb3.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, REINFORCEPolicy
from reinforce_sb3.validation import check_hyperparameters, check_number

SelfREINFORCE = TypeVar("SelfREINFORCE", bound="REINFORCE")


class REINFORCE(EpisodicAlgorithm):
    """
    REINFORCE, the vanilla policy gradient with Monte-Carlo returns (Williams, 1992).

    Paper: https://doi.org/10.1007/BF00992696
    Introduction: https://spinningup.openai.com/en/latest/spinningup/rl_intro3.html

    Each update collects ``n_episodes`` complete episodes with the current policy and takes one
    gradient step on ``-log pi(a_t|s_t) * G_t`` (:func:`~reinforce_sb3.estimator.reinforce_loss`).
    There is no critic and, by default, no bootstrapping: a return ends at its episode's last step,
    whether it terminated or was truncated (see ``truncation``). The batch is the first ``n_episodes``
    episodes to *start* after the update, so no episode length is favoured; no env is ever reset mid-episode (see
    :class:`~reinforce_sb3.rollout.EpisodeCollector`; unused steps are logged as ``rollout/waste``).
    With ``normalize_returns=False``, ``loss_reduction="episodes"`` and either ``gamma=1`` or
    ``discounted_gradient=True``, the step is along the textbook estimate of the gradient of the
    expected (discounted) return, unbiased for it with any baseline but ``"mean"``; the defaults
    standardise the returns and average over steps: a rescaled estimate, whose average points almost
    along that gradient at a fraction of its size (docs: "What the defaults estimate").

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy) or a
        subclass of ``REINFORCEPolicy``
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, it can be a function of the current progress
        remaining (from 1 to 0); every value must be a finite number >= 0
    :param n_episodes: The number of complete episodes per gradient step, summed over all
        parallel envs
    :param gamma: Discount factor, in [0, 1]
    :param reward_to_go: If True, each action is weighted by the discounted return that
        follows it, ``G_t = r_t + gamma r_{t+1} + ...``; if False, by the whole episode's
        return ``G_0``. Both have the same expectation; reward-to-go has less variance.
    :param normalize_returns: Whether to standardise the weights of a batch (subtract their
        mean, divide by their standard deviation); a batch whose returns are all equal gives zeros
    :param loss_reduction: "mean" averages the per-step terms over the batch's steps;
        "episodes" sums them and divides by the number of episodes (the textbook estimator)
    :param baseline: What is subtracted from the returns: "none"; "mean", the mean of the returns
        over the batch's steps (it scales the estimate by about ``1 - 1/n_episodes``, since each
        return is part of it; with ``normalize_returns`` it changes nothing, as standardising
        subtracts the mean anyway); "leave_one_out", for each episode the mean return (-to-go, at
        the same time step) of the batch's *other* episodes, which keeps the estimate's expectation
        (Kool et al., 2019); or "value", a state-value network (in the policy, saved with it)
        regressed on the returns
    :param discounted_gradient: Whether to weight each step's term by ``gamma^t`` too (``t``: the
        step's time in its episode), the factor in the gradient of the discounted return. Without it
        (the default, and the common practice) a ``gamma < 1`` update is not that gradient (Nota and
        Thomas, 2020, "Is the policy gradient a gradient?"); with ``gamma = 1`` the two are the same
    :param truncation: What the return of an episode cut by a time limit (truncated and not terminated:
        SB3's ``info["TimeLimit.truncated"]``) does at its last step. "end" (the default): it ends there, as
        at a termination, so the estimate is of the gradient of the time-limited objective (the expected
        discounted sum of rewards within the limit), unbiased for it with the textbook settings; for a time
        limit that is part of the task. "bootstrap_mean": the last step's return is ``r + gamma * m``, and
        each earlier step's return-to-go has ``m`` discounted in the same way, as Tianshou's REINFORCE does
        (with its return standardisation, without which its ``m`` stays 0). ``m`` is
        ``running_return_mean``: the mean return-to-go (discounted, and bootstrapped in this way) over every
        step of every earlier batch, each step counting once (0 for the first batch; saved with the model). It
        estimates the value of an average visited state under the earlier policies, a state-independent
        stand-in for the value of the state the episode was cut in: for a limit that is only a training
        convenience, at the price of a bias for both the time-limited objective and the unlimited one
        (measured in the docs: "Time limits")
    :param vf_coef: Value function coefficient in the loss (``baseline="value"`` only)
    :param ent_coef: Entropy coefficient for the loss calculation
    :param max_grad_norm: The maximum norm for gradient clipping, None for no clipping
    :param torch_threads: The number of threads torch uses while ``learn`` runs on the CPU, and the
        most threads numpy's BLAS uses then for the rollout's numpy copy of the policy (both settings
        are restored afterwards); None leaves both alone. REINFORCE's batches are small, and one
        thread per core (torch's and OpenBLAS's default) slows them down as soon as anything else
        runs on the machine (docs/performance.md, "Threads"); raise it for large CNN policies. The
        workers of a ``PausableSubprocVecEnv`` run numpy's BLAS on one thread whatever this is.
    :param stats_window_size: Window size for the rollout logging, specifying the number of
        episodes to average the reported success rate, mean episode length, and mean reward over
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param monitor_wrapper: When creating an environment, whether to wrap it or not in a
        Monitor wrapper
    :param policy_kwargs: additional arguments to be passed to the policy on creation
        (see :class:`~reinforce_sb3.policies.REINFORCEPolicy`)
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

    def __init__(
        self,
        policy: str | type[REINFORCEPolicy],
        env: GymEnv | str | None,
        learning_rate: float | Schedule = 3e-3,
        n_episodes: int = 8,
        gamma: float = 0.99,
        reward_to_go: bool = True,
        normalize_returns: bool = True,
        loss_reduction: LossReduction = "mean",
        baseline: Baseline = "none",
        discounted_gradient: bool = False,
        truncation: Truncation = "end",
        vf_coef: float = 0.5,
        ent_coef: float = 0.0,
        max_grad_norm: float | None = None,
        torch_threads: int | None = 1,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        monitor_wrapper: bool = True,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        check_hyperparameters(locals())  # before any env is made
        super().__init__(
            policy=policy,
            env=env,
            learning_rate=learning_rate,
            n_episodes=n_episodes,
            torch_threads=torch_threads,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            monitor_wrapper=monitor_wrapper,
            seed=seed,
        )
        self.gamma = gamma
        self.reward_to_go = reward_to_go
        self.normalize_returns = normalize_returns
        self.loss_reduction = loss_reduction
        self.baseline = baseline
        self.discounted_gradient = discounted_gradient
        self.truncation = truncation
        self.running_return_mean = 0.0
        """The bootstrap value of ``truncation="bootstrap_mean"``: the mean return-to-go of the steps of every batch
        trained on so far (0 before any)."""
        self.running_return_count = 0
        """How many steps ``running_return_mean`` is the mean of."""
        self.vf_coef = vf_coef
        self.ent_coef = ent_coef
        self.max_grad_norm = max_grad_norm
        if ent_coef != 0 and (policy_kwargs or {}).get("squash_output") is True:
            warn_user(
                f"ent_coef={ent_coef} does nothing with squash_output=True: the tanh-squashed Gaussian has no "
                "closed-form entropy (SB3's SquashedDiagGaussianDistribution returns none)"
            )
        if baseline == "mean" and normalize_returns:
            warn_user(
                "baseline='mean' changes nothing with normalize_returns=True: standardising the returns subtracts "
                "their mean already. Use baseline='leave_one_out' or 'value' for a baseline that does."
            )
        if _init_setup_model:
            self._setup_model()

    @classmethod
    def _check_hyperparameters(cls, values: dict[str, Any]) -> None:
        check_hyperparameters(values)
        if "running_return_mean" in values:  # the state of truncation="bootstrap_mean", saved with the model
            check_number("running_return_mean", values["running_return_mean"])
        if "running_return_count" in values:
            check_integer("running_return_count", values["running_return_count"], low=0)

    def _policy_arguments(self) -> dict[str, Any]:
        return {"value_baseline": self.baseline == "value", **self.policy_kwargs}

    @property
    def estimator_options(self) -> EstimatorOptions:
        """The options of the gradient estimator, as :func:`~reinforce_sb3.estimator.reinforce_loss` takes them."""
        return EstimatorOptions(
            gamma=self.gamma,
            reward_to_go=self.reward_to_go,
            normalize_returns=self.normalize_returns,
            loss_reduction=self.loss_reduction,
            baseline=self.baseline,
            discounted_gradient=self.discounted_gradient,
        )

    def train(self) -> None:
        """Update the policy with one gradient step on the batch of complete episodes."""
        # Switch to train mode (this affects batch norm / dropout)
        self.policy.set_training_mode(True)
        # Update optimizer learning rate
        self._update_learning_rate(self.policy.optimizer)

        options = self.estimator_options
        buffer = self.collector.buffer
        truncation_value = self.running_return_mean if self.truncation == "bootstrap_mean" else None
        batch = buffer.episode_batch(options.gamma, options.reward_to_go, truncation_value)
        losses = reinforce_loss(self.policy, batch.to_tensors(self.device), options)
        loss = losses.policy_loss + self.ent_coef * losses.entropy_loss
        if losses.value_loss is not None:
            loss = loss + self.vf_coef * losses.value_loss

        self.policy.optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
        # Clip grad norm (an infinite norm only measures it)
        max_norm = math.inf if self.max_grad_norm is None else self.max_grad_norm
        grad_norm = th.nn.utils.clip_grad_norm_(self.policy.parameters(), max_norm)
        if not (math.isfinite(loss.item()) and math.isfinite(grad_norm.item())):
            self.policy.optimizer.zero_grad()
            raise ValueError(
                f"the loss ({loss.item()}) or its gradient (norm {grad_norm.item()}) is not finite for a batch "
                "with finite returns; no parameter was changed (check the policy's outputs and learning rate)"
            )
        self.policy.optimizer.step()
        self._n_updates += 1
        if truncation_value is not None:  # the next batches' bootstrap value counts this batch's steps too
            self.logger.record("train/truncation_value", truncation_value)
            returns_to_go = (
                batch.returns
                if options.reward_to_go
                else buffer.returns(options.gamma, True, truncation_value)[buffer.in_batch]
            )
            self.running_return_mean, self.running_return_count = running_mean(
                self.running_return_mean, self.running_return_count, returns_to_go
            )

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/policy_loss", losses.policy_loss.item())
        self.logger.record("train/entropy_loss", losses.entropy_loss.item())
        self.logger.record("train/grad_norm", grad_norm.item())
        self.logger.record("train/return_mean", float(batch.returns.mean()))
        self.logger.record("train/return_std", float(batch.returns.std()))
        self.logger.record("train/batch_steps", len(batch.returns))
        if losses.values is not None and losses.value_loss is not None:
            self.logger.record("train/value_loss", losses.value_loss.item())
            values = losses.values.detach().cpu().numpy()
            self.logger.record("train/explained_variance", explained_variance(values, batch.returns))
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []

    def learn(
        self: SelfREINFORCE,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "REINFORCE",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfREINFORCE:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
