"""Steps per second of REINFORCE on each MuJoCo entry of ``reinforce.yml``, beside the env alone with random actions.

For every MuJoCo task with an entry (``pip install "reinforce-sb3[mujoco]"``), three loops, each
for ``--steps`` env steps:

- ``env alone``: one ``gym.make`` env stepped with random actions drawn in advance, reset at
  each episode's end, no policy and no wrapper beyond Gymnasium's own (the physical limit);
- ``entry's VecEnv``: the VecEnv the zoo builds for the entry (its ``n_envs`` envs with
  Monitor, and VecNormalize) stepped with random actions: what the wrappers cost;
- ``REINFORCE.learn``: the model the zoo builds from the entry (:func:`benchmarks.cartpole_zoo.make_model`),
  learning from scratch: acting, storing the steps and the updates;
- ``REINFORCE.learn, trained``: one such model that has first learned for ``--trained`` steps (once per
  task, not timed), going on learning. From scratch, the episodes of most tasks are short: an update
  every few hundred steps, and at each batch's end the envs whose episodes have ended wait for the
  last one (see docs/performance.md). Later in training the episodes are longer, and this is the speed
  of most of a run's steps.

Each figure is the median of ``--repeats`` measurements, interleaved (one of each loop per
repeat) so that a slow spell of the machine does not fall on one loop only; the ratio
``REINFORCE ÷ env alone`` is of those medians (from scratch, and trained). One torch thread.

``--n-envs N`` builds the entries with N envs instead of their own (the zoo's ``--hyperparams
n_envs:N``). A REINFORCE batch is ``n_episodes`` whole episodes of one policy however many envs
run them, so this changes how many envs each vectorised step steps (and the order in which
VecNormalize sees the observations), not what a batch is: the per-step costs of the policy and
of VecNormalize are shared by more env steps.

    python -m benchmarks.mujoco_speed
    python -m benchmarks.mujoco_speed --envs Hopper-v5 --steps 5000 --repeats 1
    python -m benchmarks.mujoco_speed --n-envs 8
    python -m benchmarks.mujoco_speed --trained 0     # no trained column
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import tempfile
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm

from benchmarks.cartpole_zoo import make_model
from benchmarks.common import learn_speed, run_benchmark, steps_per_second, table
from gym_pgtoy.cli import int_at_least
from reinforce_sb3.zoo import HYPERPARAMS_FILE

LOOPS = ("env alone", "entry's VecEnv", "REINFORCE.learn")
TRAINED = "REINFORCE.learn, trained"
STEPS, REPEATS = 20_000, 3  # env steps per measurement and measurements per loop, by default
TRAINED_STEPS = 200_000  # steps the trained model learns before its measurements, by default


def mujoco_entries() -> list[str]:
    """The env ids of ``reinforce.yml`` whose env is one of Gymnasium's MuJoCo tasks."""
    entries = yaml.safe_load(HYPERPARAMS_FILE.read_text())
    specs = {env_id: gym.envs.registry.get(env_id) for env_id in entries}
    return [id_ for id_, spec in specs.items() if spec and str(spec.entry_point).startswith("gymnasium.envs.mujoco")]


def mujoco_installed() -> bool:
    """Whether the ``mujoco`` extra is installed."""
    return importlib.util.find_spec("mujoco") is not None


def env_alone(env_id: str, n_steps: int, n_envs: int | None = None) -> float:
    """Steps/s of one env with random actions drawn in advance, reset when an episode ends (always one env)."""
    env = gym.make(env_id)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(n_steps)]
    env.reset(seed=0)

    def run() -> int:
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        return n_steps

    speed = steps_per_second(run)
    env.close()
    return speed


@contextlib.contextmanager
def entry_model(env_id: str, n_envs: int | None = None) -> Iterator[BaseAlgorithm]:
    """The model the zoo builds from the entry (seed 0, logs in a temporary folder), with ``n_envs`` envs if given;
    its VecEnv is closed after."""
    hyperparams = None if n_envs is None else {"n_envs": n_envs}
    with tempfile.TemporaryDirectory() as folder:
        model, _, _ = make_model("reinforce", 0, folder, env_id=env_id, hyperparams=hyperparams)
        try:
            yield model
        finally:
            model.get_env().close()  # type: ignore[union-attr]  # make_model gives the model its env


def entry_vec_env(env_id: str, n_steps: int, n_envs: int | None = None) -> float:
    """Steps/s of the entry's VecEnv (as the zoo builds it) with random actions, no policy."""
    with entry_model(env_id, n_envs) as model:
        env = model.get_env()
        assert env is not None
        rng = np.random.default_rng(0)
        low, high = env.action_space.low, env.action_space.high  # type: ignore[attr-defined]
        actions = rng.uniform(low, high, size=(n_steps // env.num_envs, env.num_envs, *low.shape))
        env.reset()

        def run() -> int:
            for action in actions:
                env.step(action)
            return int(actions.shape[0] * env.num_envs)

        return steps_per_second(run)


def reinforce_learn(env_id: str, n_steps: int, n_envs: int | None = None) -> float:
    """Steps/s of ``learn(n_steps)`` of the model the zoo builds from the entry, from scratch."""
    with entry_model(env_id, n_envs) as model:
        return learn_speed(model, n_steps)


MEASURE = {"env alone": env_alone, "entry's VecEnv": entry_vec_env, "REINFORCE.learn": reinforce_learn}


def entry_n_envs(env_id: str) -> int:
    """The number of envs of the entry (the zoo's default, 1, if it sets none)."""
    return int(yaml.safe_load(HYPERPARAMS_FILE.read_text())[env_id].get("n_envs", 1))


def mujoco_speed(
    envs: list[str] | None = None,
    steps: int = STEPS,
    repeats: int = REPEATS,
    n_envs: int | None = None,
    trained: int = TRAINED_STEPS,
) -> str:
    """The table: each task's loops (median of ``repeats``, interleaved) and REINFORCE's share of the env alone,
    from scratch and, unless ``trained`` is 0, after ``trained`` steps of learning."""
    if not mujoco_installed():
        sys.exit('benchmarks.mujoco_speed: MuJoCo is not installed: pip install "reinforce-sb3[mujoco]"')
    loops = [*LOOPS, TRAINED] if trained else list(LOOPS)
    rows = []
    for env_id in envs or mujoco_entries():
        measured: dict[str, list[float]] = {loop: [] for loop in loops}
        with contextlib.ExitStack() as stack:
            trained_model = stack.enter_context(entry_model(env_id, n_envs)) if trained else None
            if trained_model is not None:
                trained_model.learn(trained)
            for _ in range(repeats):
                for loop in LOOPS:
                    measured[loop].append(MEASURE[loop](env_id, steps, n_envs))
                if trained_model is not None:
                    measured[TRAINED].append(learn_speed(trained_model, steps, reset_num_timesteps=False))
        speeds = {loop: float(np.median(values)) for loop, values in measured.items()}
        row = [env_id, str(n_envs or entry_n_envs(env_id)), *(f"{speeds[loop]:,.0f}" for loop in loops)]
        ratios = [speeds[loop] / speeds["env alone"] for loop in loops[2:]]
        rows.append([*row, *(f"{ratio:.2f}" for ratio in ratios)])
    header = ["task", "n_envs", *(f"{loop} (steps/s)" for loop in loops), "REINFORCE ÷ env alone"]
    if trained:
        header[-1] += ", from scratch"
        header.append("REINFORCE ÷ env alone, trained")
    built = "the entries' own n_envs" if n_envs is None else f"n_envs {n_envs} in place of the entries' own"
    after = f"; trained: one model that learned {trained:,} steps first, going on" if trained else ""
    return (
        f"MuJoCo entries of reinforce.yml ({built}), {steps:,} env steps per measurement, median of {repeats} "
        "interleaved repeats; env alone: one env with random actions; entry's VecEnv: the zoo's VecEnv for the "
        f"entry (n_envs, Monitor, VecNormalize) with random actions; REINFORCE.learn: from scratch{after}\n\n"
        + table(header, rows)
    )


def main(argv: list[str] | None = None) -> None:
    """Print the machine and the MuJoCo speed table."""
    run_benchmark(
        __doc__,
        "mujoco_speed",
        mujoco_speed,
        argv,
        envs={"nargs": "+", "choices": mujoco_entries(), "default": None, "help": "(default: every MuJoCo entry)"},
        steps={"type": int_at_least(1000), "default": STEPS, "help": "env steps per measurement"},
        repeats={"type": int_at_least(1), "default": REPEATS, "help": "measurements per loop (median)"},
        n_envs={"type": int_at_least(1), "default": None, "help": "envs in place of each entry's own n_envs"},
        trained={
            "type": int_at_least(0),
            "default": TRAINED_STEPS,
            "help": "steps the trained model learns before its measurements (0: no trained column)",
        },
    )


if __name__ == "__main__":
    main()
