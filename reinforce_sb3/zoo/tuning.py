"""Optuna studies for the zoo that score a trial on several seeds, and share a study across processes and machines.

The zoo's ``-optimize`` trains each trial once, unseeded, and scores it on a 10-episode evaluation
of the last checkpoint: a lucky seed wins the study. :class:`MultiSeedExperimentManager` trains
every trial on the same ``n_seeds`` training seeds, one after another, and returns a robust
statistic of the seeds' scores, :func:`robust_score` (their mean minus one standard error). A
seed's score is its final policy's evaluation (``--score final``, the default) or the mean of its
evaluations during training (``--score curve``: the area under the learning curve, which rewards
learning fast as well as ending well). An evaluation is the exact expected return on the tree
game (``PGToy-v0``, ``SlipperyHill-v0``: :func:`gym_pgtoy.exact.expected_return`, since a few
episodes cannot tell the optimum from the trap) and the zoo's evaluation (``--eval-episodes``
episodes) elsewhere.

Pruning: every seed is evaluated ``n_evaluations`` times; evaluation ``j`` of seed ``i`` is
reported at step ``i * n_evaluations + j``, with the value :func:`robust_score` of the finished
seeds' scores and the current seed's score so far. Every trial trains the same seeds in the same
order, so a pruner compares like with like at every step, and a bad setting is stopped during its
first seed.

Across processes and machines: ``--storage`` takes any SQLAlchemy URL (``sqlite:///study.db`` on
one machine, ``postgresql+psycopg://user@host/db`` for many) or a ``.log`` journal file, as in the
zoo. A URL gets an :class:`optuna.storages.RDBStorage` with heartbeats: a worker that dies
mid-trial (killed, out of memory, machine lost) stops beating, the next trial any worker starts
marks the dead trial FAIL, and :class:`optuna.storages.RetryHeartbeatStaleTrialCallback` queues its
parameters again, so the study loses nothing. A worker that was only late (its trial failed by
another while it still ran) leaves that trial to its retry and goes on. (The zoo passes
``--storage`` to optuna as a string, which gives no heartbeat; that is why
:meth:`MultiSeedExperimentManager.hyperparameters_optimization` creates the study itself.) Setting
the study's user attribute ``stop_workers`` stops every worker after its current trial
(:func:`stop_when_asked`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from pprint import pprint
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState
from rl_zoo3.exp_manager import ExperimentManager
from rl_zoo3.hyperparams_opt import HYPERPARAMS_SAMPLER
from rl_zoo3.utils import ALGOS, get_callback_list
from stable_baselines3 import HerReplayBuffer
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv, sync_envs_normalization

from gym_pgtoy.slippery_hill import SlipperyHillEnv
from reinforce_sb3.zoo.study import (
    COUNTED_STATES,
    EVAL_SEED_OFFSET,
    SETTINGS_ATTRIBUTE,
    STOP_ATTRIBUTE,
    TuningOptions,
    make_storage,
    robust_score,
    stop_when_asked,
)


class SeedEvaluations(BaseCallback):
    """
    Evaluate during training and report to the trial; stop training when the trial should be pruned.

    Evaluation ``j`` (``j = 1 .. n_evaluations - 1``) happens when ``num_timesteps`` first reaches
    ``j * n_timesteps / n_evaluations``; the last one is made by the caller on the final policy.

    :param evaluate: the score of the current model
    :param report: records a score of evaluation ``j`` and says whether to prune
    :param n_timesteps: the training budget
    :param n_evaluations: evaluations per seed, the final one included
    """

    def __init__(
        self,
        evaluate: Callable[[BaseAlgorithm], float],
        report: Callable[[int, float], bool],
        n_timesteps: int,
        n_evaluations: int,
    ) -> None:
        super().__init__()
        self.evaluate = evaluate
        self.report = report
        self.thresholds = [j * n_timesteps / n_evaluations for j in range(1, n_evaluations)]
        self.is_pruned = False
        self.n_done = 0

    def _on_step(self) -> bool:
        while self.thresholds and self.num_timesteps >= self.thresholds[0]:
            self.thresholds.pop(0)
            self.n_done += 1
            if self.report(self.n_done, self.evaluate(self.model)):
                self.is_pruned = True
                return False
        return True


class MultiSeedExperimentManager(ExperimentManager):
    """
    The zoo's ``ExperimentManager`` whose ``-optimize`` scores each trial on several seeds (see the module docstring).

    Training without ``-optimize`` is the zoo's, unchanged. :func:`configured` gives a subclass
    with the options set, which :func:`reinforce_sb3.zoo.run` puts in the zoo's place for the run.
    """

    tuning: ClassVar[TuningOptions] = TuningOptions()

    @classmethod
    def configured(cls, options: TuningOptions) -> type[MultiSeedExperimentManager]:
        """This class with ``options`` (the zoo's train script constructs it with the zoo's own arguments only)."""
        return type(cls.__name__, (cls,), {"tuning": options, "__doc__": cls.__doc__})

    def is_exact(self) -> bool:
        """Whether the env is the tree game, whose exact expected return scores a policy."""
        env = gym.make(self.env_name.gym_id, **self.eval_env_kwargs)
        try:
            return isinstance(env.unwrapped, SlipperyHillEnv)
        finally:
            env.close()

    def _check_study(self, study: optuna.Study) -> None:
        """
        Record the training seeds and the score in the study, or refuse to join a study that used others.

        They are one user attribute, written in one call, so a worker starting beside the first one never
        sees half of them. Two first workers with different settings may both write: the later write
        stays, and the other worker refuses here, either on reading it back or when it checks again
        before recording a trial (:meth:`objective`).
        """
        mine = {
            "trial_seeds": self.tuning.seeds,
            "score": self.tuning.score,
            "stochastic_eval": self.tuning.stochastic_eval,
        }
        if SETTINGS_ATTRIBUTE not in study.user_attrs:
            study.set_user_attr(SETTINGS_ATTRIBUTE, mine)
            study.set_user_attr("objective", "mean - standard error of the seeds' scores")
        recorded = study.user_attrs[SETTINGS_ATTRIBUTE]
        if recorded != mine:
            raise ValueError(
                f"study {study.study_name!r} was run with {recorded}, this worker would use {mine}: "
                "give every worker the same --n-seeds, --first-seed, --score and --stochastic-eval"
            )

    def objective(self, trial: optuna.Trial) -> float:
        """Train the sampled hyperparameters on every seed; the robust score of their final policies."""
        kwargs = self._hyperparams.copy()
        n_envs = 1 if self.algo == "ars" else self.n_envs
        additional_args = {
            "using_her_replay_buffer": kwargs.get("replay_buffer_class") == HerReplayBuffer,
            "her_kwargs": kwargs.get("replay_buffer_kwargs", {}),
        }
        sampled_hyperparams = HYPERPARAMS_SAMPLER[self.algo](trial, self.n_actions, n_envs, additional_args)
        kwargs.update(sampled_hyperparams)
        seeds = self.tuning.seeds
        n_evaluations = max(1, self.n_evaluations or 1)
        trial.set_user_attr("seeds", seeds)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        exact = self.is_exact()
        seed_scores: list[float] = []

        def reporter(seed_index: int) -> Callable[[int, float], bool]:
            evaluations: list[float] = []

            def report(j: int, value: float) -> bool:
                evaluations.append(value)
                score = float(np.mean(evaluations)) if self.tuning.score == "curve" else value
                if j == n_evaluations:  # the final policy's evaluation: the seed is done
                    seed_scores.append(score)
                    trial.set_user_attr("seed_scores", seed_scores)
                    trial.set_user_attr(f"seed_{seeds[seed_index]}_evaluations", evaluations)
                    trial.report(robust_score(seed_scores), (seed_index + 1) * n_evaluations)
                else:
                    trial.report(robust_score([*seed_scores, score]), seed_index * n_evaluations + j)
                return trial.should_prune()

            return report

        for index, seed in enumerate(seeds):
            pruned = self._train_seed(trial, kwargs, n_envs, seed, exact, n_evaluations, reporter(index))
            if pruned and index + 1 < len(seeds):
                raise optuna.TrialPruned()
        self._check_study(trial.study)  # a first worker racing this one may have written other settings
        return robust_score(seed_scores)

    def _train_seed(
        self,
        trial: optuna.Trial,
        kwargs: dict[str, Any],
        n_envs: int,
        seed: int,
        exact: bool,
        n_evaluations: int,
        report: Callable[[int, float], bool],
    ) -> bool:
        """Train one seed and report its evaluations, the last on the final policy; whether to prune the trial."""
        env = self.create_envs(n_envs, no_log=True)
        model = ALGOS[self.algo](
            env=env,
            tensorboard_log=None,
            seed=seed,  # seeds torch, numpy, the action space and the envs
            verbose=self.verbose if self.verbose >= 2 else 0,
            device=self.device,
            **kwargs,
        )
        eval_env: VecEnv | None = None
        if exact:
            game = gym.make(self.env_name.gym_id, **self.eval_env_kwargs)

            def evaluate(model: BaseAlgorithm) -> float:
                from gym_pgtoy import exact as exact_analysis

                return exact_analysis.expected_return(game, model)

        else:
            eval_env = self.create_envs(n_envs=self.n_eval_envs, eval_env=True)
            eval_env.seed(seed + EVAL_SEED_OFFSET)

            def evaluate(model: BaseAlgorithm) -> float:
                assert eval_env is not None
                sync_envs_normalization(model.get_env(), eval_env)  # type: ignore[arg-type]  # both are VecEnvs
                returns, _ = evaluate_policy(
                    model,
                    eval_env,
                    n_eval_episodes=self.n_eval_episodes,
                    deterministic=self.deterministic_eval and not self.tuning.stochastic_eval,
                )
                return float(np.mean(returns))

        evaluations = SeedEvaluations(evaluate, report, self.n_timesteps, n_evaluations)
        callbacks = get_callback_list({"callback": self.specified_callbacks})
        try:
            model.learn(self.n_timesteps, callback=[*callbacks, evaluations])
            pruned = evaluations.is_pruned or report(n_evaluations, evaluate(model))
        except (AssertionError, ValueError) as error:  # as the zoo: settings that diverge are pruned
            print(error, "\n============\nSampled hyperparameters:")
            pprint(kwargs)
            raise optuna.TrialPruned() from error
        finally:
            env.close()
            if eval_env is not None:
                eval_env.close()
            if exact:
                game.close()
        if self.optimization_log_path is not None and not evaluations.is_pruned:
            folder = Path(self.optimization_log_path) / f"trial_{trial.number}"
            folder.mkdir(parents=True, exist_ok=True)
            model.save(folder / f"seed_{seed}")
        return pruned

    def hyperparameters_optimization(self) -> None:
        """The zoo's study loop, with a storage that has heartbeats and retries (see the module docstring)."""
        if self.verbose > 0:
            print(f"Optimizing hyperparameters on seeds {self.tuning.seeds} per trial")
        if self.storage is not None and self.study_name is None:
            warnings.warn(
                f"--storage {self.storage} without --study-name: optuna generates a name; give one to share the study",
                stacklevel=2,
            )
        self.tensorboard_log = None
        storage = make_storage(self.storage, self.tuning.heartbeat_interval, self.tuning.trial_retries)
        study = optuna.create_study(
            sampler=self._create_sampler(self.sampler),
            pruner=self._create_pruner(self.pruner),
            storage=storage,
            study_name=self.study_name,
            load_if_exists=True,
            direction="maximize",
        )
        self._check_study(study)
        if "command" not in study.user_attrs:
            study.set_user_attr("command", " ".join(sys.orig_argv))
            for key in sorted(self._hyperparams):
                study.set_user_attr(key, str(self._hyperparams[key]))
        if study.user_attrs.get(STOP_ATTRIBUTE):
            print(f"The study asks its workers to stop: set its user attribute {STOP_ATTRIBUTE} to False to go on.")
        else:
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stop, and still write the report
                self._optimize(study)
        self._report(study)

    def _optimize(self, study: optuna.Study) -> None:
        """
        Run ``--n-trials`` trials, or until the study holds ``--max-total-trials``, or until asked to stop.

        A worker whose heartbeat came later than the grace period (a stalled machine, a slow database)
        may find its running trial failed by another worker, which has queued its parameters again;
        optuna's loop then raises as it records the trial, and this worker goes on with the trials it
        has left instead of dying.
        """
        callbacks: list[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = [stop_when_asked]
        if self.max_total_trials is not None:
            callbacks.append(MaxTrialsCallback(self.max_total_trials, states=COUNTED_STATES))
        started: list[int] = []  # the ids of the trials this worker started
        failed_here: set[int] = set()  # ... and of those its objective failed itself
        lost: set[int] = set()  # ... and of those another worker failed

        def objective(trial: optuna.Trial) -> float:
            started.append(trial._trial_id)
            try:
                return self.objective(trial)
            except (optuna.TrialPruned, optuna.exceptions.UpdateFinishedTrialError):
                raise
            except BaseException:
                failed_here.add(trial._trial_id)
                raise

        while True:
            if self.max_total_trials is not None:
                if len(study.get_trials(deepcopy=False, states=COUNTED_STATES)) >= self.max_total_trials:
                    return
            elif len(started) >= self.n_trials:
                return
            if started and study.user_attrs.get(STOP_ATTRIBUTE):
                return
            try:
                study.optimize(
                    objective,
                    n_jobs=self.n_jobs,
                    n_trials=None if self.max_total_trials is not None else self.n_trials - len(started),
                    callbacks=callbacks,
                    gc_after_trial=True,
                )
                return
            except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
                newly_lost = [
                    trial_id
                    for trial_id in started
                    if trial_id not in failed_here | lost
                    and study._storage.get_trial(trial_id).state == TrialState.FAIL
                ]
                if not newly_lost:
                    raise
            lost.update(newly_lost)
            numbers = ", ".join(str(study._storage.get_trial(trial_id).number) for trial_id in newly_lost)
            print(
                f"Trial {numbers} was failed by another worker while this one ran it (its heartbeats came later "
                "than the grace period); its parameters are queued again. Going on.",
                file=sys.stderr,
            )

    def _report(self, study: optuna.Study) -> None:
        """Print the best trial and write the zoo's report files (``report_*.csv`` and ``.pkl``)."""
        print("Number of finished trials: ", len(study.trials))
        completed = study.get_trials(states=(TrialState.COMPLETE,))
        if completed:
            best = study.best_trial
            print(f"Best trial: {best.number}\nValue: {best.value}\nParams: ")
            for key, value in best.params.items():
                print(f"    {key}: {value}")
            print("User Attributes: ")
            for key, value in best.user_attrs.items():
                print(f"    {key}: {value}")
        report_name = (
            f"report_{self.env_name}_{self.n_trials}-trials-{self.n_timesteps}"
            f"-{self.sampler}-{self.pruner}_{int(time.time())}"
        )
        log_path = os.path.join(self.log_folder, self.algo, report_name)
        if self.verbose:
            print(f"Writing report to {log_path}")
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        study.trials_dataframe().to_csv(f"{log_path}.csv")
        with open(f"{log_path}.pkl", "wb+") as file:
            pickle.dump(study, file)
        if self.no_optim_plots or not completed:
            return
        try:
            from optuna.visualization import plot_optimization_history, plot_param_importances

            plot_optimization_history(study).show()
            plot_param_importances(study).show()
        except (ValueError, ImportError, RuntimeError):
            pass
