"""The gradient REINFORCE applies is an unbiased estimate of the exact policy gradient (gym_pgtoy.exact), with
every baseline that is action-independent; the learned baseline never changes the policy's step."""

import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from gym_pgtoy import exact
from tests.envs import Lockstep
from tests.helpers import AverageGradient, cosine, flat, relative_error, textbook_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def gradient_model(
    n_episodes: int, n_envs: int = 1, learning_rate: float = 1.0, seed: int = 0, lockstep: bool = False, **kwargs
):
    """The textbook model on PGToy-v0. ``lockstep``: wrap the DummyVecEnv (in a VecEnv wrapper that changes
    nothing), so that all envs step together and waiting envs run unused episodes, instead of pausing."""
    env = make_vec_env("PGToy-v0", n_envs=n_envs, seed=seed)
    return textbook_model(Lockstep(env) if lockstep else env, n_episodes, learning_rate, seed, **kwargs)


def applied_and_exact_gradient(n_episodes: int, n_envs: int = 1, reward_to_go: bool = True, seed: int = 0):
    """One SGD step with learning rate 1 moves the parameters by exactly the gradient estimate."""
    model = gradient_model(n_episodes, n_envs, seed=seed, reward_to_go=reward_to_go)
    before = flat(p.detach().clone() for p in model.policy.parameters())
    truth = flat(exact.parameter_gradient("PGToy-v0", model))
    # continue while no update has been made: stops right after the first one
    model.learn(10**9, callback=lambda _locals, _globals: model._n_updates == 0)
    assert model._n_updates == 1
    applied = flat(p.detach() for p in model.policy.parameters()) - before
    return applied, truth


def test_gradient_estimate_converges_to_the_exact_gradient():
    errors = {}
    for n_episodes in (100, 1000, 10000):
        applied, truth = applied_and_exact_gradient(n_episodes)
        errors[n_episodes] = relative_error(applied, truth)
    applied_cosine = cosine(applied, truth)
    assert applied_cosine > 0.99
    # the error of a Monte-Carlo mean shrinks like 1/sqrt(n): about 3x per 10x episodes
    assert errors[10000] < errors[1000] < errors[100]
    assert errors[10000] < errors[100] / 5


@pytest.mark.parametrize(
    ("n_envs", "n_episodes", "reward_to_go", "lockstep"),
    [(8, 8, True, True), (6, 6, False, True), (3, 8, True, False), (6, 16, False, False)],
)
def test_small_batches_from_parallel_envs_are_unbiased(n_envs, n_episodes, reward_to_go, lockstep):
    """Envs that run into more episodes than the batch needs (lockstep), or that finish their episodes
    sooner than others and so start more of them (paused): had the batch been the first episodes to
    *finish*, short episodes would be favoured and the average would be off."""
    # learning rate 0: the parameters stay put, so every batch estimates the same gradient
    model = gradient_model(n_episodes, n_envs, learning_rate=0.0, seed=1, reward_to_go=reward_to_go, lockstep=lockstep)
    truth = flat(exact.parameter_gradient("PGToy-v0", model))
    n_batches = 1000
    callback = AverageGradient(n_batches)
    model.learn(10**9, callback=callback)
    average = callback.average
    assert cosine(average, truth) > 0.99
    assert relative_error(average, truth) < 0.05


@pytest.mark.parametrize(("baseline", "scale"), [("value", 1.0), ("leave_one_out", 1.0), ("mean", 1 - 1 / 16)])
def test_baselines_keep_the_gradient_estimate_on_target(baseline, scale):
    """At fixed parameters (learning rate 0), the average estimate matches the exact gradient. The value network
    stays at its initial, arbitrary values: any action-independent baseline works. The batch mean is not
    independent of the action (each return is part of it): as documented, it shrinks the gradient by about
    1 - 1/n_episodes, which leave-one-out does not."""
    model = gradient_model(16, n_envs=4, learning_rate=0.0, seed=3, baseline=baseline)
    truth = flat(exact.parameter_gradient("PGToy-v0", model, parameters=model.policy.parameters()))
    n_batches = 400
    callback = AverageGradient(n_batches)
    model.learn(10**9, callback=callback)
    average = callback.average
    if baseline == "value":  # the value network's gradient is not part of the policy gradient
        mask = th.cat([th.full((p.numel(),), "value_net" not in name) for name, p in model.policy.named_parameters()])
        assert not mask.all()
        average, truth = average[mask], truth[mask]
    assert cosine(average, truth) > 0.99
    assert relative_error(average, scale * truth) < 0.04


def test_value_loss_does_not_touch_the_policy():
    """The value network reads detached features: the policy's step is the same whatever vf_coef is."""
    steps = {}
    for vf_coef in (0.0, 1.0):
        model = gradient_model(8, seed=2, baseline="value", vf_coef=vf_coef)
        before = {name: p.detach().clone() for name, p in model.policy.named_parameters()}
        model.learn(10**6, callback=lambda _l, _g, m=model: m._n_updates == 0)
        steps[vf_coef] = {name: p.detach() - before[name] for name, p in model.policy.named_parameters()}
    for name in steps[0.0]:
        if "value_net" in name:
            assert steps[0.0][name].abs().sum() == 0 and steps[1.0][name].abs().sum() > 0
        else:
            th.testing.assert_close(steps[0.0][name], steps[1.0][name])


@pytest.mark.parametrize("discounted_gradient", [True, False])
def test_discounted_gradient_is_the_gradient_of_the_discounted_return(discounted_gradient):
    """gamma = 0.5 < 1: with gamma^t in each step's term the average estimate is the exact gradient of the
    discounted return; without it (the common practice) it is measurably another vector."""
    model = gradient_model(16, n_envs=4, learning_rate=0.0, seed=5, gamma=0.5, discounted_gradient=discounted_gradient)
    truth = flat(exact.parameter_gradient("PGToy-v0", model, gamma=0.5))
    callback = AverageGradient(400)
    model.learn(10**9, callback=callback)
    if discounted_gradient:
        assert cosine(callback.average, truth) > 0.99
        assert relative_error(callback.average, truth) < 0.05
    else:
        assert relative_error(callback.average, truth) > 0.15
