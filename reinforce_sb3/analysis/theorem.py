"""The policy gradient theorem on the tree game, one identity at a time, with exact numbers (docs/theorem.md).

The tree game has a handful of trajectories, so every expectation in the derivation can be computed
*exactly*, by listing the trajectories with their probabilities, and set beside what
:mod:`gym_pgtoy.exact` computes by dynamic programming. The policy is tabular softmax: one logit per
(decision state, action), ``pi(a|s) = exp(theta[s, a]) / sum_b exp(theta[s, b])``; gradients are
arrays of shape ``(n_states, 2)`` over the states in sorted order, ``[:, 0]`` left, ``[:, 1]`` right.

    python -m reinforce_sb3.analysis.theorem [step ...]    # every step when none is named
    python -m reinforce_sb3.analysis.theorem --measured --n-episodes 32 --n-batches 200

Each step prints, as Markdown (tables, or lines in a ``text`` block), the numbers of one section of
docs/theorem.md: ``return`` (``J`` as a sum over trajectories), ``factor`` (``E[R grad log P]`` against
``E[R] E[grad log P]``), ``dynamics`` (the slip drops out of ``grad log P(tau)``, not out of the gradient),
``sampling`` (the ``1/pi`` cancels the sampling frequency), ``baseline``, ``simplex`` (the rate of moving
probability from left to right), ``softmax`` (one logit by hand), ``loss`` (the surrogate loss of the
walk-through's four episodes), ``discount``, ``reduction`` (sum or mean, normalised or not, exactly over every
batch of 8 episodes) and ``gaussian`` (the continuous variant). Only numpy and :mod:`gym_pgtoy` are used: no
sampling, no seed. ``--measured`` instead samples REINFORCE's defaults and their parts on a neural network
(:func:`measured`: torch, SB3).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from gym_pgtoy import exact
from gym_pgtoy.cli import add_debug_flag, int_at_least, run_cli
from gym_pgtoy.policies import WALKTHROUGH_GAUSSIAN, WALKTHROUGH_POLICY
from gym_pgtoy.slippery_hill import LEFT, RIGHT, SlipperyHillEnv, State

PROG = "python -m reinforce_sb3.analysis.theorem"

Policy = dict[State, np.ndarray]

WALKTHROUGH_EPISODES: tuple[tuple[tuple[int, ...], tuple[float, ...]], ...] = (
    ((LEFT, RIGHT, LEFT), (3.0, 0.0, 0.0)),  # the diamond, up the hill, left again: cut at 3 steps
    ((LEFT, LEFT), (3.0, -10.0)),  # the diamond, then the pit
    ((RIGHT,), (10.0,)),  # the flag
    ((LEFT, RIGHT, RIGHT), (3.0, 0.0, 10.0)),  # the diamond, up the hill, the flag
)
"""The four episodes the walk-through samples, as (actions, rewards)."""


def make_game(env_id: str = "PGToy-v0", **kwargs: Any) -> tuple[SlipperyHillEnv, int]:
    """The bare game of ``env_id`` (made with ``kwargs``) and its horizon, the ``max_episode_steps``."""
    env = gym.make(env_id, **kwargs)
    game = env.unwrapped
    if not isinstance(game, SlipperyHillEnv) or env.spec is None or env.spec.max_episode_steps is None:
        raise ValueError(f"{env_id} is not a game of the tree-game family with a time limit")
    return game, int(env.spec.max_episode_steps)


def as_policy(policy: Mapping[State, Sequence[float]]) -> Policy:
    """``{state: np.array([p_left, p_right])}``."""
    return {state: np.asarray(p, dtype=np.float64) for state, p in policy.items()}


def softmax(logits: Mapping[State, Sequence[float]]) -> Policy:
    """The tabular softmax policy of ``logits`` (``{state: (theta_left, theta_right)}``)."""
    policy = {}
    for state, theta in logits.items():
        z = np.exp(np.asarray(theta, dtype=np.float64) - max(theta))
        policy[state] = z / z.sum()
    return policy


def logits_of(policy: Mapping[State, Sequence[float]]) -> dict[State, np.ndarray]:
    """Logits whose softmax is ``policy``: the log-probabilities (every probability must be > 0)."""
    return {state: np.log(np.asarray(p, dtype=np.float64)) for state, p in policy.items()}


@dataclass(frozen=True)
class Trajectory:
    """One path through the tree: the states where an action was taken, the actions, the rewards that followed.

    :param policy_probability: ``prod_t pi(a_t|s_t)``, the policy's share of ``P(tau)``
    :param dynamics_probability: ``prod_t p(s_{t+1}, r_t | s_t, a_t)``, the game's share (the slip's 0.9 or 0.1)
    """

    states: tuple[State, ...]
    actions: tuple[int, ...]
    rewards: tuple[float, ...]
    policy_probability: float
    dynamics_probability: float

    @property
    def probability(self) -> float:
        """``P(tau) = prod_t pi(a_t|s_t) p(s_{t+1}|s_t, a_t)``."""
        return self.policy_probability * self.dynamics_probability

    def returns_to_go(self, gamma: float = 1.0) -> np.ndarray:
        """``G_t = r_t + gamma r_{t+1} + ...`` for every step ``t``."""
        returns = np.zeros(len(self.rewards))
        following = 0.0
        for t in reversed(range(len(self.rewards))):
            following = self.rewards[t] + gamma * following
            returns[t] = following
        return returns

    def total(self, gamma: float = 1.0) -> float:
        """``R(tau) = G_0``, the (discounted) return of the whole trajectory."""
        return float(self.returns_to_go(gamma)[0])


def trajectories(game: SlipperyHillEnv, policy: Mapping[State, np.ndarray], horizon: int) -> list[Trajectory]:
    """Every trajectory of ``game`` under ``policy``, from the start to the end (terminal or cut at ``horizon``)."""
    found: list[Trajectory] = []

    def walk(state: State, path: tuple[tuple[State, int, float], ...], p_policy: float, p_dynamics: float) -> None:
        for action in (LEFT, RIGHT):
            for prob, next_state, reward, terminated in game.P[state][action]:
                steps = (*path, (state, action, float(reward)))
                p_pi = p_policy * float(policy[state][action])
                if terminated or len(steps) == horizon:
                    states, actions, rewards = zip(*steps, strict=True)
                    found.append(Trajectory(states, actions, rewards, p_pi, p_dynamics * prob))
                else:
                    walk(next_state, steps, p_pi, p_dynamics * prob)

    walk(game.start_state, (), 1.0, 1.0)
    return found


def find(found: Sequence[Trajectory], actions: Sequence[int], rewards: Sequence[float]) -> Trajectory:
    """The trajectory of ``found`` with these actions and rewards."""
    for trajectory in found:
        if trajectory.actions == tuple(actions) and trajectory.rewards == tuple(float(r) for r in rewards):
            return trajectory
    raise ValueError(f"no trajectory with actions {tuple(actions)} and rewards {tuple(rewards)}")


def expectation(found: Sequence[Trajectory], f: Callable[[Trajectory], np.ndarray | float]) -> np.ndarray:
    """``E[f(tau)] = sum_tau P(tau) f(tau)``, exactly."""
    return np.asarray(sum(t.probability * np.asarray(f(t), dtype=np.float64) for t in found), dtype=np.float64)


def step_score(policy: Mapping[State, np.ndarray], states: Sequence[State], state: State, action: int) -> np.ndarray:
    """``grad_theta log pi(a|s)`` for tabular softmax: ``e_a - pi(.|s)`` in the row of ``s``, zeros elsewhere."""
    grad = np.zeros((len(states), 2))
    row = states.index(state)
    grad[row] = -policy[state]
    grad[row, action] += 1.0
    return grad


def score(trajectory: Trajectory, policy: Mapping[State, np.ndarray], states: Sequence[State]) -> np.ndarray:
    """``grad_theta log P(tau) = sum_t grad_theta log pi(a_t|s_t)``: the dynamics' factors have no theta in them."""
    return sum(
        (step_score(policy, states, s, a) for s, a in zip(trajectory.states, trajectory.actions, strict=True)),
        np.zeros((len(states), 2)),
    )


def logit_gradient(analysis: exact.PolicyAnalysis, states: Sequence[State]) -> np.ndarray:
    """The exact ``grad_theta J`` of tabular softmax, by the chain rule through :mod:`gym_pgtoy.exact`'s dJ/dpi.

    ``dJ/dtheta[s, b] = sum_a dJ/dpi(a|s) dpi(a|s)/dtheta[s, b] = pi(b|s) (dJ/dpi(b|s) - sum_a pi(a|s) dJ/dpi(a|s))``.
    """
    rows = []
    for state in states:
        if state not in analysis.gradient:  # a state no episode reaches: J does not depend on its logits
            rows.append(np.zeros(2))
            continue
        g, p = analysis.gradient[state], analysis.policy[state]
        rows.append(p * (g - p @ g))
    return np.array(rows)


def estimate(
    batch: Sequence[Trajectory],
    policy: Mapping[State, np.ndarray],
    states: Sequence[State],
    gamma: float = 1.0,
    reward_to_go: bool = True,
    discounted_gradient: bool = False,
    baseline: float | str = 0.0,
    normalize_returns: bool = False,
    loss_reduction: str = "episodes",
) -> np.ndarray:
    """One batch's REINFORCE estimate ``sum_t w_t grad log pi(a_t|s_t) * scale``, as the library forms it.

    ``w_t`` is ``G_t`` (``reward_to_go``) or ``G_0``, less ``baseline`` (a number, or ``"mean"``: the mean over
    the batch's steps), standardised over the batch's steps if ``normalize_returns`` (zeros when all equal),
    times ``gamma^t`` if ``discounted_gradient``; ``scale`` is ``1 / n_episodes`` ("episodes") or ``1 / n_steps``
    ("mean"). The order is that of :func:`reinforce_sb3.estimator.reinforce_loss`.
    """
    weights, powers, scores = [], [], []
    for trajectory in batch:
        returns = trajectory.returns_to_go(gamma)
        for t, (state, action) in enumerate(zip(trajectory.states, trajectory.actions, strict=True)):
            weights.append(returns[t] if reward_to_go else returns[0])
            powers.append(gamma**t if discounted_gradient else 1.0)
            scores.append(step_score(policy, states, state, action))
    w = np.array(weights)
    w = w - (w.mean() if baseline == "mean" else float(baseline))
    if normalize_returns:
        std = w.std()
        w = np.zeros_like(w) if std <= 1e-6 * max(1.0, abs(w.mean())) else (w - w.mean()) / std
    w = w * np.array(powers)
    scale = 1.0 / (len(w) if loss_reduction == "mean" else len(batch))
    return np.asarray(np.tensordot(w, np.array(scores), axes=1) * scale)


def batch_expectation(
    found: Sequence[Trajectory], n_episodes: int, f: Callable[[Sequence[Trajectory]], np.ndarray]
) -> np.ndarray:
    """``E[f(batch)]`` over every batch of ``n_episodes`` independent episodes, exactly.

    A batch's estimate does not depend on the order of its episodes, so the sum runs over multisets, each
    weighted by its multinomial probability: ``C(n_episodes + k - 1, k - 1)`` terms for ``k`` trajectories.
    """
    total = np.zeros(())
    for combination in itertools.combinations_with_replacement(range(len(found)), n_episodes):
        counts = np.bincount(combination, minlength=len(found))
        ways = math.factorial(n_episodes) / math.prod(math.factorial(int(c)) for c in counts)
        probability = ways * math.prod(found[i].probability ** int(c) for i, c in enumerate(counts))
        if probability > 0.0:
            total = total + probability * f([found[i] for i in combination])
    return np.asarray(total)


def simplex_rate(analysis: exact.PolicyAnalysis, state: State) -> float:
    """``dJ/de`` for ``pi(.|s) = (p_left - e, p_right + e)``: ``dJ/dpi(right|s) - dJ/dpi(left|s)``."""
    g = analysis.gradient[state]
    return float(g[RIGHT] - g[LEFT])


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The cosine similarity of two gradients."""
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def scale(a: np.ndarray, b: np.ndarray) -> float:
    """``|a| / |b|``."""
    return float(np.linalg.norm(a) / np.linalg.norm(b))


# The Gaussian policy of the continuous variant: a ~ Normal(mu(s), sigma), right when a >= 0.


def normal_pdf(x: np.ndarray | float) -> np.ndarray:
    """The standard normal density."""
    return np.exp(-0.5 * np.square(x)) / math.sqrt(2.0 * math.pi)


def gaussian_gradient(
    analysis: exact.PolicyAnalysis, means: Mapping[State, float], sigma: float, states: Sequence[State]
) -> tuple[np.ndarray, float]:
    """The exact ``(dJ/dmu(s) for s in states, dJ/dlog_sigma)`` by the chain rule through ``Phi(mu / sigma)``.

    ``p_right = Phi(mu / sigma)``: ``dp_right/dmu = phi(mu / sigma) / sigma`` and ``dp_right/dlog_sigma =
    -phi(mu / sigma) mu / sigma``; ``p_left`` moves the other way. One log-std is shared by every state.
    """
    rates = np.array([simplex_rate(analysis, s) for s in states])
    z = np.array([means[s] / sigma for s in states])
    return rates * normal_pdf(z) / sigma, float(np.sum(rates * normal_pdf(z) * -z))


def gaussian_score_expectation(
    analysis: exact.PolicyAnalysis,
    means: Mapping[State, float],
    sigma: float,
    states: Sequence[State],
    clipped: bool = False,
    n_points: int = 400_001,
) -> tuple[np.ndarray, float]:
    """``E[sum_t grad log pi(a_t|s_t) G_t]`` for Gaussian actions, by numerical integration over ``a``.

    With the score of the sample ``a`` as drawn, ``d/dmu log N(a; mu, sigma) = (a - mu) / sigma^2`` and
    ``d/dlog_sigma = (a - mu)^2 / sigma^2 - 1``; ``clipped=True`` puts ``clip(a, -1, 1)`` in place of ``a``
    (the action the env receives), which is the mistake the docs warn about. Given the state and the
    direction of ``a``, the return that follows has expectation Q, so the expectation is
    ``sum_s [dJ/dpi(left|s) E[score 1(a < 0)] + dJ/dpi(right|s) E[score 1(a >= 0)]]``.
    """
    d_means, d_log_sigma = [], 0.0
    for state in states:
        mu = means[state]
        d_mu = 0.0
        # left of 0 the action moves left, from 0 on right: one grid on each side, split at the jump
        sides = ((min(mu - 12.0 * sigma, -1.0), 0.0, LEFT), (0.0, max(mu + 12.0 * sigma, 1.0), RIGHT))
        for low, high, action in sides:
            a = np.linspace(low, high, n_points)
            density = normal_pdf((a - mu) / sigma) / sigma
            x = np.clip(a, -1.0, 1.0) if clipped else a
            weight = analysis.gradient[state][action]
            d_mu += weight * float(np.trapezoid(density * (x - mu) / sigma**2, a))
            d_log_sigma += weight * float(np.trapezoid(density * ((x - mu) ** 2 / sigma**2 - 1.0), a))
        d_means.append(d_mu)
    return np.array(d_means), d_log_sigma


# What each step prints.


def _n(x: float, digits: int = 4) -> str:
    """``x`` with ``digits`` decimals, never ``-0.0000``."""
    return f"{round(float(x), digits) + 0.0:.{digits}f}"


def _row(values: np.ndarray, digits: int = 4) -> str:
    return "(" + ", ".join(_n(v, digits) for v in np.ravel(values)) + ")"


def _walkthrough() -> tuple[SlipperyHillEnv, int, Policy, list[State], list[Trajectory], exact.PolicyAnalysis]:
    game, horizon = make_game()
    policy = as_policy(WALKTHROUGH_POLICY)
    states = sorted(policy, key=lambda s: (-s[1], s[0]))  # the order of the tree: (2, 1), (1, 0), (2, 0)
    found = trajectories(game, policy, horizon)
    return game, horizon, policy, states, found, exact.analyze(game, policy, horizon=horizon)


def _describe(trajectory: Trajectory) -> str:
    return " ".join("L" if a == LEFT else "R" for a in trajectory.actions)


def _text(lines: Sequence[str]) -> str:
    """Lines of output as a Markdown ``text`` block, so that the page shows them one per line."""
    return "\n".join(["```text", *lines, "```"])


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def step_return() -> str:
    """J as a sum over the trajectories, beside the dynamic programme."""
    _, _, _, _, found, analysis = _walkthrough()
    rows = [
        [
            _describe(t),
            ", ".join(f"{r:g}" for r in t.rewards),
            _n(t.policy_probability),
            _n(t.dynamics_probability, 1),
            _n(t.probability),
            f"{t.total():g}",
            _n(t.probability * t.total()),
        ]
        for t in found
    ]
    header = ["actions", "rewards", "prod pi", "prod p (slip)", "P(tau)", "R(tau)", "P(tau) R(tau)"]
    total = float(expectation(found, lambda t: t.total()))
    probability = sum(t.probability for t in found)
    return (
        f"{_table(header, rows)}\n\n{len(found)} trajectories; sum of P(tau) = {_n(probability)}\n\n"
        f"J = sum of P(tau) R(tau) = {_n(total)}; gym_pgtoy.exact (dynamic programming): {_n(analysis.expected_return)}"
    )


def step_factor() -> str:
    """E[R grad log P] is the gradient; E[R] E[grad log P] is zero."""
    _, _, policy, states, found, analysis = _walkthrough()
    mean_score = expectation(found, lambda t: score(t, policy, states))
    mean_return = float(expectation(found, lambda t: t.total()))
    weighted = expectation(found, lambda t: t.total() * score(t, policy, states))
    truth = logit_gradient(analysis, states)
    rows = [
        [str(s), _row(mean_score[i]), _row(mean_return * mean_score[i]), _row(weighted[i]), _row(truth[i])]
        for i, s in enumerate(states)
    ]
    header = ["state", "E[grad log P]", "E[R] E[grad log P]", "E[R grad log P]", "exact grad J"]
    return (
        "Gradients with respect to the logits (theta_left, theta_right) of each state:\n\n"
        f"{_table(header, rows)}\n\nE[R] = {_n(mean_return)}"
    )


def step_dynamics() -> str:
    """The slip drops out of grad log P(tau), not out of grad J."""
    _, horizon, policy, states, found, analysis = _walkthrough()
    slippery_game, _ = make_game("PGToy-v0", slip_prob=0.3)
    slippery_found = trajectories(slippery_game, policy, horizon)
    actions, rewards = WALKTHROUGH_EPISODES[3]
    lines = []
    for name, pool in (("slip 0.1", found), ("slip 0.3", slippery_found)):
        t = find(pool, actions, rewards)
        lines.append(
            f"{name}: L R R to the flag: log P(tau) = log prod pi + log prod p = {_n(math.log(t.policy_probability))}"
            f" + {_n(math.log(t.dynamics_probability))} = {_n(math.log(t.probability))}; "
            f"grad log P(tau) = {_row(score(t, policy, states))}"
        )
    slippery = exact.analyze(slippery_game, policy, horizon=horizon)
    lines.append(f"grad J, slip 0.1: {_row(logit_gradient(analysis, states))}")
    lines.append(f"grad J, slip 0.3: {_row(logit_gradient(slippery, states))}")
    lines.append(f"J: {_n(analysis.expected_return)} (slip 0.1), {_n(slippery.expected_return)} (slip 0.3)")
    return _text(lines)


def step_sampling() -> str:
    """How often an action is sampled, what it earns, and the 1/pi that cancels the frequency."""
    _, _, policy, states, found, analysis = _walkthrough()
    rows = []
    for state in states:
        for action, name in ((LEFT, "left"), (RIGHT, "right")):

            def count(t: Trajectory, state: State = state, action: int = action) -> np.ndarray:
                returns = t.returns_to_go()
                hits = [
                    i for i, (s, a) in enumerate(zip(t.states, t.actions, strict=True)) if (s, a) == (state, action)
                ]
                return np.array([len(hits), sum(returns[i] for i in hits)])

            frequency, weighted = expectation(found, count)
            p = policy[state][action]
            rows.append(
                [
                    f"{state} {name}",
                    _n(frequency),
                    _n(weighted),
                    _n(p, 1),
                    _n(weighted / p),
                    _n(analysis.gradient[state][action]),
                ]
            )
    header = ["action", "E[times taken]", "E[sum of its G_t]", "pi", "E[sum of G_t] / pi", "exact dJ/dpi"]
    return _table(header, rows)


def step_baseline() -> str:
    """sum_a grad pi(a|s) = 0, so a constant subtracted from every return leaves the expectation alone."""
    _, _, policy, states, found, analysis = _walkthrough()
    lines = []
    for state in states:
        p = policy[state]
        jacobian = np.diag(p) - np.outer(p, p)  # dpi(a|s)/dtheta[s, b]: row a, column b
        lines.append(f"{state}: sum over a of dpi(a|s)/dtheta = {_row(jacobian.sum(axis=0))}")
    truth = logit_gradient(analysis, states)
    for b in (0.0, 5.0, 11.0):
        expected = expectation(found, functools.partial(_one_episode, policy=policy, states=states, baseline=b))
        lines.append(f"{f'E[sum_t (G_t - {b:g}) grad log pi(a_t|s_t)]':<41} = {_row(expected)}")
    lines.append(f"{'exact grad J':<41} = {_row(truth)}")
    return _text(lines)


def _one_episode(trajectory: Trajectory, **options: Any) -> np.ndarray:
    """:func:`estimate` of a batch of one episode."""
    return estimate([trajectory], **options)


def step_simplex() -> str:
    """The rate of moving probability from left to right, in each state."""
    _, _, _, states, _, analysis = _walkthrough()
    rows = []
    for state in states:
        g = analysis.gradient[state]
        reach = sum(layer.get(state, 0.0) for layer in analysis.reach)
        q = next(layer[state] for layer in analysis.q_values if state in layer)  # one time per state on PGToy-v0
        rows.append(
            [
                str(state),
                _n(reach),
                _row(q),
                _n(g[LEFT]),
                _n(g[RIGHT]),
                _n(simplex_rate(analysis, state)),
            ]
        )
    header = ["state", "reach", "(Q left, Q right)", "dJ/dpi(left)", "dJ/dpi(right)", "rate along the simplex"]
    return _table(header, rows)


def step_softmax() -> str:
    """One logit's gradient, by hand: theta_right at the start."""
    _, _, policy, states, _, analysis = _walkthrough()
    start = states[0]
    p, g = policy[start], analysis.gradient[start]
    baseline = float(p @ g)
    by_chain = p[RIGHT] * (g[RIGHT] - baseline)
    by_rate = p[LEFT] * p[RIGHT] * simplex_rate(analysis, start)
    right_score, left_score = (step_score(policy, states, start, a)[0] for a in (RIGHT, LEFT))
    return _text(
        [
            f"pi(.|{start}) = {_row(p, 1)}, dJ/dpi = {_row(g)}",
            f"grad log pi(right|{start}) over (theta_left, theta_right) = {_row(right_score)}",
            f"grad log pi(left|{start})  over (theta_left, theta_right) = {_row(left_score)}",
            f"sum_a pi(a|s) dJ/dpi(a|s) = {_n(p[LEFT])} x {_n(g[LEFT])} + {_n(p[RIGHT])} x {_n(g[RIGHT])}"
            f" = {_n(baseline)}",
            f"dJ/dtheta_right = pi(right) (dJ/dpi(right) - {_n(baseline)}) = {_n(p[RIGHT])} x {_n(g[RIGHT] - baseline)}"
            f" = {_n(by_chain)}",
            f"                = pi(left) pi(right) x rate = {_n(p[LEFT])} x {_n(p[RIGHT])} x "
            f"{_n(simplex_rate(analysis, start))} = {_n(by_rate)}",
            f"exact grad J at {start}: {_row(logit_gradient(analysis, states)[0])}",
        ]
    )


def step_loss() -> str:
    """The walk-through's four episodes: the loss's value, and its gradient."""
    _, _, policy, states, found, analysis = _walkthrough()
    batch = [find(found, actions, rewards) for actions, rewards in WALKTHROUGH_EPISODES]
    log_form = -sum(
        math.log(policy[s][a]) * g
        for t in batch
        for s, a, g in zip(t.states, t.actions, t.returns_to_go(), strict=True)
    ) / len(batch)
    ratio_form = -sum(float(t.returns_to_go().sum()) for t in batch) / len(batch)
    grad = estimate(batch, policy, states)
    lines = [
        f"episode {_describe(t)}: rewards {t.rewards}, G_t {tuple(float(g) for g in t.returns_to_go())}" for t in batch
    ]
    lines += [
        f"loss = -(1/4) sum log pi(a_t|s_t) G_t = {_n(log_form)}",
        f"loss = -(1/4) sum [pi / pi.detach()] G_t = {_n(ratio_form)}",
        f"{'-grad of either loss (the estimate)':<35} = {_row(grad)}",
        f"{'exact grad J':<35} = {_row(logit_gradient(analysis, states))}",
        f"J = {_n(analysis.expected_return)}",
    ]
    return _text(lines)


def step_discount(gamma: float = 0.9) -> str:
    """gamma in G_t, and gamma^t in front of each step's term: the gradient of J_gamma needs both."""
    game, horizon, policy, states, found, _ = _walkthrough()
    analysis = exact.analyze(game, policy, gamma=gamma, horizon=horizon)
    truth = logit_gradient(analysis, states)
    with_power = expectation(found, lambda t: estimate([t], policy, states, gamma, discounted_gradient=True))
    without = expectation(found, lambda t: estimate([t], policy, states, gamma))
    lines = [
        f"gamma = {gamma:g}: J_gamma = {_n(analysis.expected_return)}",
        f"{'exact grad J_gamma':<42} = {_row(truth)}",
        f"{'E[sum_t gamma^t G_t grad log pi(a_t|s_t)]':<42} = {_row(with_power)}  (discounted_gradient=True)",
        f"{'E[sum_t G_t grad log pi(a_t|s_t)]':<42} = {_row(without)}  (gamma^t dropped)",
        f"the usual code against grad J_gamma: scale {_n(scale(without, truth))}, cosine {_n(cosine(without, truth))}",
    ]
    return _text(lines)


REDUCTION_VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("sum / episodes (the textbook estimator)", {}),
    ("mean over steps", {"loss_reduction": "mean"}),
    ("normalized returns, sum / episodes", {"normalize_returns": True}),
    (
        "normalized returns, mean over steps (REINFORCE's defaults)",
        {"normalize_returns": True, "loss_reduction": "mean"},
    ),
    ("batch-mean baseline, sum / episodes", {"baseline": "mean"}),
)


def step_reduction(n_episodes: int = 8) -> str:
    """Every variant's exact expectation over all batches of ``n_episodes`` episodes, against grad J."""
    _, _, policy, states, found, analysis = _walkthrough()
    truth = logit_gradient(analysis, states)
    rows = []
    for name, options in REDUCTION_VARIANTS:
        expected = batch_expectation(
            found, n_episodes, functools.partial(estimate, policy=policy, states=states, **options)
        )
        rows.append([name, _n(scale(expected, truth), 3), _n(cosine(expected, truth))])

    def n_steps(batch: Sequence[Trajectory]) -> np.ndarray:
        return np.array(float(sum(len(t.actions) for t in batch)))

    steps = batch_expectation(found, n_episodes, n_steps)
    return (
        f"Exact expectations over every batch of {n_episodes} episodes "
        "(tabular softmax, the walk-through's policy):\n\n"
        f"{_table(['estimator', 'scale', 'cosine'], rows)}\n\n"
        f"E[steps per batch] = {_n(float(steps))}; 1/mean episode length = {_n(n_episodes / float(steps))}"
    )


def step_gaussian(sigma: float = 1.0) -> str:
    """The continuous variant: a mean per state, one log-std, the score of the unclipped sample."""
    game, horizon = make_game("PGToy-v0", continuous=True)
    means = {s: mu for s, (mu, _) in WALKTHROUGH_GAUSSIAN.items()}
    states = sorted(means, key=lambda s: (-s[1], s[0]))
    policy = {s: np.array([1.0 - p_right, p_right]) for s, p_right in ((s, _phi(means[s] / sigma)) for s in states)}
    analysis = exact.analyze(game, policy, horizon=horizon)
    d_means, d_log_sigma = gaussian_gradient(analysis, means, sigma, states)
    e_means, e_log_sigma = gaussian_score_expectation(analysis, means, sigma, states)
    c_means, c_log_sigma = gaussian_score_expectation(analysis, means, sigma, states, clipped=True)
    return _text(
        [
            f"means mu(s) = {_row(np.array([means[s] for s in states]))} for {', '.join(map(str, states))}; "
            f"sigma = {sigma:g}; P(right) = Phi(mu / sigma) = {_row(np.array([policy[s][RIGHT] for s in states]), 2)}",
            f"J = {_n(analysis.expected_return)}",
            f"{'exact (dJ/dmu(s), dJ/dlog_sigma)':<37} = {_row(d_means)}, {_n(d_log_sigma)}",
            f"{'E[score x G], score of the sample a':<37} = {_row(e_means)}, {_n(e_log_sigma)}",
            f"{'E[score x G], score of clip(a, -1, 1)':<37} = {_row(c_means)}, {_n(c_log_sigma)}",
        ]
    )


def _phi(z: float) -> float:
    """The standard normal distribution function."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


MEASURED_ESTIMATORS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("textbook: raw returns, sum / episodes", {}),
    ("mean over steps", {"loss_reduction": "mean"}),
    ("normalized returns", {"normalize_returns": True}),
    (
        "REINFORCE's defaults: normalized returns, mean over steps",
        {"normalize_returns": True, "loss_reduction": "mean"},
    ),
    ("batch-mean baseline", {"baseline": "mean"}),
    ("batch-mean baseline and normalized returns", {"baseline": "mean", "normalize_returns": True}),
)
"""The estimators :func:`measured` compares: the textbook one, REINFORCE's defaults and their parts."""

MEASURED_GAMMA = 0.9
"""The discount of :func:`measured`'s second table."""

MEASURED_DISCOUNT: tuple[tuple[str, dict[str, Any]], ...] = (
    ("textbook, gamma^t dropped (the default)", {}),
    ("textbook, discounted_gradient=True", {"discounted_gradient": True}),
)
"""The estimators of :func:`measured`'s second table: with and without ``gamma^t``, at :data:`MEASURED_GAMMA`."""


def measured(n_episodes: int = 32, n_batches: int = 200, seed: int = 0) -> str:
    """Sampled estimates of REINFORCE's defaults and their parts beside the exact gradient, on a neural network.

    The policy is the diagnostics' untrained one (REINFORCE's MlpPolicy with PyTorch's default initialisation,
    ``seed``) on PGToy-v0; the gradient is that of the undiscounted expected return (``gamma = 1``). Uses
    :func:`reinforce_sb3.analysis.diagnostics.compare_estimators` (torch and SB3 are imported here only).
    """
    from reinforce_sb3 import REINFORCE
    from reinforce_sb3.analysis.diagnostics import compare_estimators, format_table
    from reinforce_sb3.analysis.estimators import Estimator

    model = REINFORCE("MlpPolicy", "PGToy-v0", seed=seed, device="cpu", policy_kwargs={"ortho_init": False})
    estimators = [Estimator(name, **options) for name, options in MEASURED_ESTIMATORS]
    checks = compare_estimators(model, "PGToy-v0", n_episodes, n_batches, estimators, gamma=1.0, seed=seed)
    discounted = [Estimator(name, **options) for name, options in MEASURED_DISCOUNT]
    discount_checks = compare_estimators(
        model, "PGToy-v0", n_episodes, n_batches, discounted, gamma=MEASURED_GAMMA, seed=seed
    )
    return (
        f"REINFORCE's defaults and their parts on PGToy-v0 against the exact gradient (gamma = 1, seed {seed}):\n\n"
        f"{format_table(checks)}\n\n"
        f"The textbook estimator with gamma = {MEASURED_GAMMA:g}, against the exact gradient of the discounted return "
        f"J_gamma (seed {seed}):\n\n{format_table(discount_checks)}"
    )


STEPS: dict[str, Callable[[], str]] = {
    "return": step_return,
    "factor": step_factor,
    "dynamics": step_dynamics,
    "sampling": step_sampling,
    "baseline": step_baseline,
    "simplex": step_simplex,
    "softmax": step_softmax,
    "loss": step_loss,
    "discount": step_discount,
    "reduction": step_reduction,
    "gaussian": step_gaussian,
}
"""The steps of docs/theorem.md, in the order of the page."""


def main(argv: list[str] | None = None) -> None:
    """Print the numbers of the named steps (all of them by default)."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument(
        "steps", nargs="*", metavar="step", help=f"the steps to print: {', '.join(STEPS)} (default: all)"
    )
    parser.add_argument(
        "--measured",
        action="store_true",
        help="instead, sample REINFORCE's defaults and their parts on a neural network against the exact gradient",
    )
    parser.add_argument("--n-episodes", type=int_at_least(1), default=32, help="--measured: episodes per batch")
    parser.add_argument("--n-batches", type=int_at_least(2), default=200, help="--measured: batches per estimator")
    parser.add_argument("--seed", type=int_at_least(0), default=0, help="--measured: seed of the policy and episodes")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    unknown = [name for name in args.steps if name not in STEPS]
    if unknown:
        parser.error(f"unknown step {unknown[0]!r}; the steps are {', '.join(STEPS)}")
    if args.measured:
        if args.steps:
            parser.error("--measured prints its own table: name no step with it")
        print(measured(args.n_episodes, args.n_batches, args.seed))
        return
    for index, name in enumerate(args.steps or STEPS):
        if index:
            print()
        print(STEPS[name]())


def cli(argv: list[str] | None = None) -> None:
    """``main`` as a command-line tool (one-line errors, see :mod:`gym_pgtoy.cli`)."""
    run_cli(main, PROG, argv)


if __name__ == "__main__":
    cli()
