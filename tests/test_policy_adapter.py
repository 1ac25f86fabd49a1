"""The SB3 policy adapter of the exact analysis: SB3 models and policies, checked against the env's spaces."""

import gymnasium as gym
import pytest
import torch
from stable_baselines3 import A2C

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from reinforce_sb3.analysis.policy_adapter import check_spaces

WALKTHROUGH = exact.WALKTHROUGH_POLICY


def test_exact_gradient_of_an_sb3_policy():
    """An SB3 model's policy: its exact gradient agrees with a finite-difference directional derivative."""

    model = A2C("MlpPolicy", "PGToy-v0", seed=0, device="cpu", policy_kwargs={"net_arch": [16]})
    grads = exact.parameter_gradient("PGToy-v0", model)
    parameters = list(model.policy.parameters())
    assert [g.shape for g in grads] == [p.shape for p in parameters]
    value_head = dict(model.policy.named_parameters())["value_net.weight"]
    assert grads[[p is value_head for p in parameters].index(True)].abs().sum() == 0

    direction = [torch.randn(p.shape, generator=torch.Generator().manual_seed(i)) for i, p in enumerate(parameters)]
    eps = 1e-2

    def shifted_return(scale):
        with torch.no_grad():
            for p, d in zip(parameters, direction, strict=True):
                p += scale * d
            value = exact.expected_return("PGToy-v0", model)
            for p, d in zip(parameters, direction, strict=True):
                p -= scale * d
        return value

    directional = (shifted_return(eps) - shifted_return(-eps)) / (2 * eps)
    predicted = sum(float((g * d).sum()) for g, d in zip(grads, direction, strict=True))
    assert directional == pytest.approx(predicted, rel=2e-2)

    # the SB3 policy is also accepted where plain policies are: its probabilities, evaluated exactly
    obs = torch.as_tensor([[2, 1], [1, 0], [2, 0]])
    with torch.no_grad():
        probs = model.policy.get_distribution(model.policy.obs_to_tensor(obs.numpy())[0]).distribution.probs.numpy()
    table = {state: tuple(p) for state, p in zip(WALKTHROUGH, probs, strict=True)}
    assert exact.expected_return("PGToy-v0", model) == pytest.approx(exact.expected_return("PGToy-v0", table))


@pytest.mark.parametrize(
    ("trained_on", "analysed_on"),
    [
        ("PGToy-v0", "SlipperyHill-v0"),
        ("SlipperyHill-v0", "PGToy-v0"),
        ("SlipperyHill-v0", gym.make("SlipperyHill-v0", hill_length=4)),
        ("CartPole-v1", "PGToy-v0"),
    ],
)
def test_a_model_made_for_other_spaces_is_refused(trained_on, analysed_on):
    model = REINFORCE("MlpPolicy", trained_on, seed=0, device="cpu")
    for analysis in (exact.expected_return, exact.analyze, exact.action_probability_gradient, exact.parameter_gradient):
        with pytest.raises(ValueError, match="analyse a policy on the game variant it was trained on"):
            analysis(analysed_on, model)
    with pytest.raises(ValueError, match=r"policy was made for observation_space=.* but the env has MultiDiscrete"):
        exact.surrogate_objective(analysed_on, model.policy)


def test_a_model_of_the_same_variant_is_accepted_however_made():
    """The spaces decide, not the id: a SlipperyHill-v0 model fits a PGToy-v0 env made with hill_length=3."""
    model = REINFORCE("MlpPolicy", "SlipperyHill-v0", seed=0, device="cpu")
    same = gym.make("PGToy-v0", hill_length=3, max_episode_steps=20)
    assert exact.expected_return(same, model) == pytest.approx(exact.expected_return("SlipperyHill-v0", model))
    check_spaces(model, same.observation_space, same.action_space)
    with pytest.raises(ValueError, match="MultiDiscrete"):
        check_spaces(model.policy, gym.make("PGToy-v0").observation_space, same.action_space)


def test_plain_policies_are_checked_by_their_states_and_outputs():
    """A dict or a callable knows no spaces: a dict must cover the decision states, a callable give 2 probabilities."""
    slippery_states = exact.uniform_policy(3)
    assert exact.expected_return("PGToy-v0", slippery_states) == pytest.approx(4.875)  # a superset is fine
    with pytest.raises(ValueError, match="no action probabilities for the decision states"):
        exact.expected_return("SlipperyHill-v0", WALKTHROUGH)
    with pytest.raises(ValueError, match="policy must give"):
        exact.expected_return("PGToy-v0", lambda obs: torch.tensor([0.2, 0.3, 0.5]))
