"""Bad input gets a ValueError that names the argument and what is allowed: the checks of
reinforce_sb3.validation alone (with hypothesis), and the one path the constructor, load and every
learning-rate value go through."""

import math
import re

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import FloatSchedule, LinearSchedule

from gym_pgtoy.validation import check_integer
from reinforce_sb3 import REINFORCE
from reinforce_sb3.validation import (
    check_bool,
    check_choice,
    check_learning_rate,
    check_number,
    check_observations,
    check_spaces,
)
from tests.envs import DictObsEnv, ScriptedRewardEnv

# Anything a user might pass: Python and numpy numbers (NaN and infinities too), bools, strings, None, containers
ANYTHING = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.builds(np.bool_, st.booleans()),
    st.builds(np.int64, st.integers(-100, 100)),
    st.builds(np.float32, st.floats(-1e6, 1e6, width=32)),
    st.builds(np.float64, st.floats(allow_nan=True, allow_infinity=True)),
    st.sampled_from(["False", "True", "1", "", "mean", "none", "0.5"]),
    st.none(),
    st.lists(st.integers(0, 3), max_size=2),
    st.builds(complex, st.integers(0, 2), st.integers(0, 2)),
)


def is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


@settings(max_examples=300, deadline=None)
@given(ANYTHING, st.integers(-3, 3))
def test_check_integer_accepts_integers_from_the_minimum_only(value, minimum):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum:
        assert check_integer("n_things", value, minimum) == value
        assert type(check_integer("n_things", value, minimum)) is int
    else:
        with pytest.raises(ValueError, match=rf"^n_things must be an integer >= {minimum}, got"):
            check_integer("n_things", value, minimum)


def test_check_integer_says_the_upper_limit():
    assert check_integer("n", 10**6, 1, 10**6) == 10**6
    with pytest.raises(ValueError, match=r"^n must be an integer in \[1, 1_000_000\] \(or fewer\), got 1000001$"):
        check_integer("n", 10**6 + 1, 1, 10**6, " (or fewer)")


@settings(max_examples=300, deadline=None)
@given(ANYTHING, st.sampled_from([(-math.inf, math.inf), (0.0, 1.0), (0.0, math.inf), (-1.0, 1.0)]), st.booleans())
def test_check_number_accepts_finite_numbers_in_range_only(value, bounds, exclusive_minimum):
    low, high = bounds
    ok = is_real(value) and math.isfinite(value) and low <= value <= high
    ok = ok and not (exclusive_minimum and value == low)
    if ok:
        assert check_number("rate", value, low, high, exclusive_minimum) == float(value)
    else:
        with pytest.raises(ValueError, match=r"^rate must be a finite number.*, got"):
            check_number("rate", value, low, high, exclusive_minimum)


def test_check_number_refuses_an_int_too_large_for_a_float():
    with pytest.raises(ValueError, match="gamma must be a finite number"):
        check_number("gamma", 10**400, 0.0, 1.0)


@pytest.mark.parametrize(
    ("bounds", "allowed"),
    [
        (dict(minimum=0.0, maximum=1.0), r"in \[0, 1\]"),
        (dict(minimum=0.0, maximum=1.0, exclusive_minimum=True), r"in \(0, 1\]"),
        (dict(minimum=0.0), ">= 0"),
        (dict(minimum=0.0, exclusive_minimum=True), "> 0"),
        ({}, ""),
    ],
)
def test_check_number_says_what_is_allowed(bounds, allowed):
    with pytest.raises(ValueError, match=rf"^rate must be a finite number{' ' if allowed else ''}{allowed}, got nan$"):
        check_number("rate", math.nan, **bounds)


@settings(max_examples=200, deadline=None)
@given(ANYTHING)
def test_check_bool_accepts_true_and_false_only(value):
    if isinstance(value, (bool, np.bool_)):
        assert check_bool("flag", value) is bool(value)
    else:  # "False" would be truthy, 0 and 1 are not options
        with pytest.raises(ValueError, match=r"^flag must be True or False, got"):
            check_bool("flag", value)


@settings(max_examples=200, deadline=None)
@given(ANYTHING)
def test_check_choice_accepts_the_choices_only(value):
    choices = ("mean", "none")
    if isinstance(value, str) and value in choices:
        assert check_choice("mode", value, choices) == value
    else:
        with pytest.raises(ValueError, match=r"^mode must be one of \('mean', 'none'\), got"):
            check_choice("mode", value, choices)


@pytest.mark.parametrize("bad", [math.nan, -0.1, math.inf, "0.1", None, 1j])
@pytest.mark.parametrize("wrap", [lambda schedule: schedule, FloatSchedule], ids=["function", "FloatSchedule"])
def test_a_schedule_is_checked_at_any_progress(bad, wrap):
    schedule = wrap(lambda progress: 1e-3 if progress > 0.5 else bad)
    assert check_learning_rate(schedule, 1.0) == 1e-3 and check_learning_rate(schedule, 0.75) == 1e-3
    with pytest.raises(ValueError, match=r"^learning_rate must be a finite number >= 0 .*progress_remaining=0.25"):
        check_learning_rate(schedule, 0.25)
    assert check_learning_rate(0.5, 0.1) == 0.5
    assert check_learning_rate(LinearSchedule(1e-3, 0.0, 1.0), 0.5) == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="at progress_remaining=1 it is"):
        check_learning_rate(bad)  # a constant, checked at progress 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_episodes": 0}, r"n_episodes must be an integer in \[1, 1_000_000\]"),
        ({"n_episodes": -3}, r"n_episodes must be an integer in \[1, 1_000_000\]"),
        ({"n_episodes": 2.5}, r"n_episodes must be an integer in \[1, 1_000_000\]"),
        ({"n_episodes": True}, r"n_episodes must be an integer in \[1, 1_000_000\]"),
        ({"gamma": -0.1}, r"gamma must be a finite number in \[0, 1\]"),
        ({"gamma": 1.01}, r"gamma must be a finite number in \[0, 1\]"),
        ({"gamma": math.nan}, r"gamma must be a finite number in \[0, 1\]"),
        ({"learning_rate": -1e-3}, "learning_rate must be a finite number >= 0"),
        ({"learning_rate": math.inf}, "learning_rate must be a finite number >= 0"),
        ({"learning_rate": lambda progress: -0.1}, "learning_rate must be a finite number >= 0"),
        ({"loss_reduction": "sum"}, r"loss_reduction must be one of \('mean', 'episodes'\)"),
        ({"ent_coef": math.nan}, "ent_coef must be a finite number"),
        ({"baseline": "median"}, r"baseline must be one of \('none', 'mean', 'leave_one_out', 'value'\)"),
        ({"truncation": "bootstrap"}, r"truncation must be one of \('end', 'bootstrap_mean'\), got 'bootstrap'"),
        ({"truncation": None}, r"truncation must be one of \('end', 'bootstrap_mean'\), got None"),
        ({"vf_coef": -1.0}, "vf_coef must be a finite number >= 0"),
        ({"max_grad_norm": 0.0}, "max_grad_norm must be a finite number > 0"),
        ({"max_grad_norm": -1.0}, "max_grad_norm must be a finite number > 0"),
        ({"torch_threads": 0}, r"torch_threads must be an integer in \[1, 1_024\]"),
        # strings are not booleans: "False" would count as True
        ({"reward_to_go": "False"}, "reward_to_go must be True or False, got 'False'"),
        ({"normalize_returns": "True"}, "normalize_returns must be True or False"),
        ({"normalize_returns": 1}, "normalize_returns must be True or False"),
        ({"discounted_gradient": "yes"}, "discounted_gradient must be True or False"),
        ({"monitor_wrapper": "False"}, "monitor_wrapper must be True or False, got 'False'"),
        ({"monitor_wrapper": 0}, "monitor_wrapper must be True or False"),
        ({"policy_kwargs": {"ortho_init": "False"}}, "ortho_init must be True or False"),
        ({"policy_kwargs": {"normalize_images": "no"}}, "normalize_images must be True or False"),
        ({"policy_kwargs": {"log_std_init": math.nan}}, "log_std_init must be a finite number, got nan"),
        ({"policy_kwargs": {"log_std_init": -math.inf}}, "log_std_init must be a finite number, got -inf"),
        ({"policy_kwargs": {"net_arch": {"pi": [64], "qf": [64]}}}, "net_arch as a dict takes the keys 'pi' and 'vf'"),
        ({"policy_kwargs": {"net_arch": [64, 0]}}, "net_arch must be a list of positive layer sizes"),
        ({"policy_kwargs": {"net_arch": dict(pi=[8.5])}}, "net_arch must be a list of positive layer sizes"),
    ],
)
def test_invalid_hyperparameters_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        REINFORCE("MlpPolicy", "Pendulum-v1", **kwargs)


def test_every_boolean_option_refuses_what_is_not_a_bool():
    """The same check for each boolean argument of the constructor and of the policy."""
    from reinforce_sb3.validation import HYPERPARAMETERS, check_bool

    booleans = [name for name, check in HYPERPARAMETERS.items() if check is check_bool]
    assert sorted(booleans) == ["discounted_gradient", "monitor_wrapper", "normalize_returns", "reward_to_go"]
    for name in booleans:
        for bad in ("False", "", 0, 1.0, None, np.int64(1)):
            with pytest.raises(ValueError, match=rf"^{name} must be True or False, got {re.escape(repr(bad))}$"):
                REINFORCE("MlpPolicy", "CartPole-v1", **{name: bad})
        REINFORCE("MlpPolicy", "CartPole-v1", **{name: np.bool_(True)})


def test_unknown_policy_name():
    with pytest.raises(ValueError, match=r"policy must be one of \['MlpPolicy', 'CnnPolicy', 'MultiInputPolicy'\]"):
        REINFORCE("MlpLstmPolicy", "CartPole-v1")


def test_dict_observations_need_multi_input_policy():
    with pytest.raises(ValueError, match="MultiInputPolicy"):
        REINFORCE("MlpPolicy", DictObsEnv())


class TupleObsEnv(ScriptedRewardEnv):
    observation_space = spaces.Tuple([spaces.Discrete(2), spaces.Discrete(3)])

    def __init__(self) -> None:
        super().__init__([[1.0]])
        self.observation_space = TupleObsEnv.observation_space

    def _obs(self):
        return (0, 0)


@pytest.mark.parametrize("policy", ["MlpPolicy", "MultiInputPolicy"])
def test_tuple_spaces_are_refused_at_construction_by_name(policy):
    with pytest.raises(
        ValueError, match=r"observation_space must be Box, .* got Tuple\(Discrete\(2\), Discrete\(3\)\)"
    ):
        REINFORCE(policy, TupleObsEnv())
    tuple_actions = ScriptedRewardEnv([[1.0]], action_space=spaces.Tuple([spaces.Discrete(2), spaces.Discrete(3)]))
    with pytest.raises(ValueError, match=r"action_space must be Discrete, Box, MultiDiscrete or MultiBinary .*Tuple"):
        REINFORCE(policy, tuple_actions)


def test_check_spaces_names_what_is_nested_in_a_dict():
    """(Through the constructor SB3 refuses a nested space first, with its own NotImplementedError.)"""
    closed = []
    observation_space = spaces.Dict({"a": spaces.Box(-1, 1, (2,)), "t": spaces.Tuple([spaces.Discrete(2)])})
    with pytest.raises(ValueError, match=r"observation_space: a Dict of .* got \['t'\] nested"):
        check_spaces(observation_space, spaces.Discrete(2), on_error=lambda: closed.append(True))
    assert closed == [True]  # e.g. the env is closed before the error
    check_spaces(spaces.Dict({"a": spaces.Box(-1, 1, (2,)), "d": spaces.Discrete(3)}), spaces.MultiBinary(2))
    with pytest.raises(ValueError, match="action_space must be"):
        check_spaces(spaces.Box(-1, 1, (2,)), spaces.Dict({"a": spaces.Discrete(2)}))


@pytest.mark.parametrize(
    ("space", "obs", "message"),
    [
        (spaces.Box(-1, 1, (2,)), [0.0, math.nan], "observation is not finite"),
        (spaces.Box(-1, 1, (2,)), [[math.inf, 0.0]], "observation is not finite"),
        (spaces.Discrete(4), 4, "outside the observation space Discrete"),
        (spaces.Discrete(4), -1, "outside the observation space Discrete"),
        (spaces.Discrete(4), 1.5, "outside the observation space Discrete"),
        (spaces.Discrete(4, start=2), 1, "outside the observation space Discrete"),
        (spaces.Discrete(4), math.nan, "observation must be integers in Discrete"),
        (spaces.MultiDiscrete([4, 2]), [7, 0], r"outside the observation space MultiDiscrete\(\[4 2\]\): \[7, 0\]"),
        (spaces.MultiDiscrete([4, 2]), [[0, 1], [0, -1]], "outside the observation space MultiDiscrete"),
        (spaces.MultiBinary(3), [0, 2, 1], "outside the observation space MultiBinary"),
        (spaces.Dict({"c": spaces.Discrete(2)}), {"c": 5}, "outside the observation space Discrete"),
    ],
)
def test_check_observations_refuses(space, obs, message):
    with pytest.raises(ValueError, match=message):
        check_observations(np.asarray(obs) if not isinstance(obs, dict) else obs, space)


@pytest.mark.parametrize(
    ("space", "obs"),
    [
        (spaces.Box(-1, 1, (2,)), [5.0, -7.0]),  # a Box bound is not enforced (SB3 does not either): finite is enough
        (spaces.Discrete(4, start=2), 5),
        (spaces.MultiDiscrete([4, 2]), [[3, 1], [0, 0]]),
        (spaces.MultiBinary(3), [1, 0, 1]),
        (spaces.Dict({"c": spaces.Discrete(2), "v": spaces.Box(-1, 1, (1,))}), {"c": 1, "v": [0.5]}),
    ],
)
def test_check_observations_accepts(space, obs):
    check_observations(obs if isinstance(obs, dict) else np.asarray(obs), space)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("validation") / "model.zip"
    REINFORCE("MlpPolicy", "PGToy-v0", n_episodes=2, policy_kwargs=dict(net_arch=[8]), device="cpu").save(path)
    return path


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gamma": 5}, r"gamma must be a finite number in \[0, 1\], got 5"),
        ({"n_episodes": 0}, r"n_episodes must be an integer in \[1, 1_000_000\], got 0"),
        ({"reward_to_go": "no"}, "reward_to_go must be True or False"),
        ({"baseline": "median"}, "baseline must be one of"),
        ({"truncation": "bootstrap"}, "truncation must be one of"),
        ({"running_return_mean": math.nan}, "running_return_mean must be a finite number, got nan"),
        ({"running_return_count": -1}, "running_return_count must be an integer >= 0, got -1"),
        ({"learning_rate": -1.0}, "learning_rate must be a finite number >= 0"),
        ({"gamme": 0.5}, r"load\(\) got unknown keyword arguments \['gamme'\]"),  # a typo is not a new attribute
    ],
)
def test_load_validates_as_the_constructor_does(saved_model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        REINFORCE.load(saved_model, **kwargs)
    loaded = REINFORCE.load(saved_model, gamma=0.5, n_episodes=3)  # valid overrides are taken
    assert loaded.gamma == 0.5 and loaded.n_episodes == 3 and loaded.collector.n_episodes == 3


class ParametersBeforeEachUpdate(BaseCallback):
    """Keeps a copy of the parameters when a batch is complete, just before its update."""

    def _on_rollout_end(self) -> None:
        self.parameters = [p.detach().clone() for p in self.model.policy.parameters()]

    def _on_step(self) -> bool:
        return True


@pytest.mark.parametrize("bad", [math.nan, -1e-3, "1e-3"])
def test_a_learning_rate_schedule_going_bad_during_training_stops_it(make_model, tmp_path, bad):
    """The schedule is checked at every update: the error names the progress, and that update does not happen."""
    model = make_model(learning_rate=lambda progress: 1e-2 if progress > 0.5 else bad)
    before_update = ParametersBeforeEachUpdate()
    with pytest.raises(
        ValueError, match=r"learning_rate must be a finite number >= 0.*at progress_remaining="
    ) as error:
        model.learn(400, callback=before_update)
    progress = model._current_progress_remaining
    assert progress <= 0.5 and f"at progress_remaining={progress:g} it is {bad!r}" in str(error.value)
    assert model._n_updates > 0  # the first half went fine
    for kept, parameter in zip(before_update.parameters, model.policy.parameters(), strict=True):
        assert th.equal(kept, parameter)
    model.save(tmp_path / "model.zip")
    assert REINFORCE.load(tmp_path / "model.zip")._n_updates == model._n_updates
