# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The policy gradient theorem on the tree game
#
# A robot on a hilltop chooses between a safe flag (+10) and a diamond (+3) on a slippery
# hillside above a fire pit (-10). On this tiny game everything can be computed exactly, so we
# can watch REINFORCE's sampled gradient estimates converge to the true gradient.
#
# It runs top to bottom in well under a minute on a CPU, and needs the project installed with
# the `plots` extra (`make train` does that) and `ipywidgets` for the sliders of section 3 (the
# `test` extra has it). Run it in Jupyter with the project's environment as the kernel, or as a
# plain script: `python docs/notebooks/tree_game.py` (the numbers without the pictures).

# %%
# %matplotlib inline
import gymnasium as gym
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import gym_pgtoy
from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from reinforce_sb3.analysis import theorem
from reinforce_sb3.analysis.diagnostics import check_gradient
from reinforce_sb3.analysis.estimators import Estimator
from reinforce_sb3.analysis.learning import ExactReturnCallback
from reinforce_sb3.analysis.plots import plot_learning_curves, plot_tree
from reinforce_sb3.analysis.tree import rate_towards_right, state_name

gym.register_envs(gym_pgtoy)

# %% [markdown]
# ## 1. The game
#
# Cells lie on a line: 0 is the fire pit, 1 the hillside with the diamond, 2 the hilltop where
# the robot starts, 3 the flag. The observation is `(cell, diamond_present)`; action 0 goes left,
# 1 goes right. Climbing back up from the hillside slips into the pit with probability 0.1, and
# the game lasts at most 3 steps. Let us play left, right, right:

# %%
env = gym.make("PGToy-v0", render_mode="ansi")
obs, info = env.reset(seed=0)
print(env.render())
for action in (0, 1, 1):
    obs, reward, terminated, truncated, info = env.step(action)
    print(f"action {action} -> observation {obs}, reward {reward:+.0f}")
    print(env.render())
    if terminated or truncated:
        break

# %% [markdown]
# The rules are a transition table, `P[state][action] = [(probability, next state, reward, terminated), ...]`.
# Going right from the hillside `(1, 0)` (diamond taken) is the risky step:

# %%
env.unwrapped.P[(1, 0)][1]

# %% [markdown]
# ## 2. The exact expected return and gradient of a hand-set policy
#
# A policy gives `(P(left), P(right))` in each state the robot can be in. Take the policy of the
# walk-through: mostly left at the start, hesitant on the hillside, mostly left again on the
# hilltop once the diamond is taken.

# %%
game = env.unwrapped
policy = {(2, 1): (0.7, 0.3), (1, 0): (0.4, 0.6), (2, 0): (0.8, 0.2)}
analysis = exact.analyze("PGToy-v0", policy)
print(f"expected return J = {analysis.expected_return:.3f}")
print(f"optimum: {exact.optimal_return('PGToy-v0'):.3f} (left, right, right); 'always right' earns 10")

# %% [markdown]
# The walk-through first computes J path by path: each trajectory's probability (the policy's
# choices times the hill's slips) times its return, summed. The derivation page
# ([the policy gradient theorem on the tree game](../theorem.md)) does it with
# `reinforce_sb3.analysis.theorem`, code of its own, and lands on the same number:

# %%
print(theorem.step_return())

# %% [markdown]
# The policy gradient theorem says: the derivative of J with respect to the probability of
# action a in state s is **P(reaching s) x Q(s, a)**, the expected return after taking a there.
# The exact analysis knows both, at every time step `t`:

# %%
for t, states in enumerate(analysis.reach):
    for state, reach in states.items():
        q_left, q_right = analysis.q_values[t][state]
        name = state_name(game, state)
        print(f"t={t} {name} {state}: reach {reach:.3f}, Q(left) {q_left:+.2f}, Q(right) {q_right:+.2f}")
print()
for state, (d_left, d_right) in analysis.gradient.items():
    print(f"dJ/dpi at {state_name(game, state)} {state}: left {d_left:+.3f}, right {d_right:+.3f}")

# %% [markdown]
# Each partial derivative holds the other probability of its state fixed, which a policy cannot
# do: P(left) falls as P(right) rises. Moving probability from left to right in one state changes
# J at the rate dJ/dpi(right) - dJ/dpi(left), the walk-through's slope along the line
# P(left) + P(right) = 1:

# %%
for state, derivatives in analysis.gradient.items():
    d_left, d_right = derivatives
    rate = rate_towards_right(derivatives)
    print(
        f"{state_name(game, state)}: {d_right:+.2f} - ({d_left:+.2f}) = {rate:+.2f} per unit of probability moved right"
    )

# %% [markdown]
# Moving probability to the right pays most at the start: this policy goes left too often there.
# The tree shows the same numbers on every edge (`left→right` on each decision); the legend
# under it says what each mark means:

# %%
plot_tree("PGToy-v0", policy)

# %% [markdown]
# ## 3. Play with the policy
#
# `show` sets the probability of moving right in each of the three decision states, then prints
# the exact J and gradient and draws the tree. In Jupyter the sliders below call it on every
# change, starting from the walk-through's policy. Here it is called once by hand, so that the
# numbers are on the page even where widgets do not run (GitHub shows this stored run), with the
# optimal policy: left, then right twice (P(right) = 0, 1, 1), J = 11. Even there `left→right` at
# the start is negative: moving probability towards the flag (10) would lose what the diamond
# path (11) earns. Try 1 at the start: the flag, J = 10.

# %%
STATES = {"p_hilltop": (2, 1), "p_hillside": (1, 0), "p_hilltop_again": (2, 0)}


def show(p_hilltop: float = 0.3, p_hillside: float = 0.6, p_hilltop_again: float = 0.2) -> None:
    """The exact J, dJ/dpi and tree of the policy that moves right with these probabilities: at the hilltop
    with the diamond there, on the hillside once it is taken, and back on the hilltop without it."""
    rights = {"p_hilltop": p_hilltop, "p_hillside": p_hillside, "p_hilltop_again": p_hilltop_again}
    chosen = {STATES[name]: (1.0 - p, p) for name, p in rights.items()}
    result = exact.analyze("PGToy-v0", chosen)
    print(f"expected return J = {result.expected_return:.3f} (optimum 11, 'always right' 10)")
    for state, derivatives in result.gradient.items():
        print(
            f"{state_name(game, state):24s} P(right) {chosen[state][1]:.2f}: dJ/dpi left {derivatives[0]:+7.3f}, "
            f"right {derivatives[1]:+7.3f}; left→right {rate_towards_right(derivatives):+7.3f}"
        )
    figure = plot_tree("PGToy-v0", chosen)
    display(figure)
    plt.close(figure)  # shown once, by display


show(0.0, 1.0, 1.0)

# %%
sliders = {
    name: widgets.FloatSlider(
        value=policy[state][1],
        min=0.0,
        max=1.0,
        step=0.05,
        description=f"P(right) {state_name(game, state)}",
        continuous_update=False,  # redraw on release, not on every pixel
        style={"description_width": "initial"},
        layout={"width": "480px"},
    )
    for name, state in STATES.items()
}
widgets.interact(show, **sliders)
# %% [markdown]
# ## 4. REINFORCE's estimates converge to the exact gradient
#
# Why can sampled episodes estimate reach x Q at all? On the tree game each action is taken at
# most once per episode, with probability reach x pi, and the return that follows it averages Q.
# So the return after the action divided by pi (0 in episodes without the action) averages
# reach x Q, the exact dJ/dpi. The derivation page's table, for the walk-through's policy, with
# exact expectations over every trajectory:

# %%
print(theorem.step_sampling())

# %% [markdown]
# A neural-network policy has parameters, not a table. `exact.parameter_gradient` back-propagates
# the partial derivatives above through the network: the *true* gradient of J with respect to
# every weight. REINFORCE never sees the tree: it plays episodes and weights `log pi(a|s)` by the
# return that followed. `check_gradient` computes an estimate on each of `n_batches` independent
# batches of `n_episodes` episodes, with REINFORCE's loss function, and compares them with the
# truth. Its default estimator is the textbook one: raw reward-to-go returns, summed over the
# steps of an episode and averaged over episodes. The textbook estimate is unbiased for the
# gradient of J: its average over batches is the exact gradient.

# %%
model = REINFORCE("MlpPolicy", "PGToy-v0", seed=0, device="cpu", policy_kwargs={"ortho_init": False})
print(f"J of the untrained network: {exact.expected_return('PGToy-v0', model):.3f}")

for n_episodes in (4, 16, 64, 256):
    check = check_gradient(model, "PGToy-v0", n_episodes=n_episodes, n_batches=20, seed=0)
    errors = np.linalg.norm(check.estimates - check.exact, axis=1) / np.linalg.norm(check.exact)
    cosines = check.estimates @ check.exact / (np.linalg.norm(check.estimates, axis=1) * np.linalg.norm(check.exact))
    print(
        f"{n_episodes:4d} episodes per batch: one batch's error {errors.mean():.3f}, "
        f"cosine {cosines.mean():.3f}; average of 20 batches: error {check.relative_error:.3f}"
    )

# %% [markdown]
# The error of one batch's estimate falls like `1 / sqrt(episodes)`: four times the episodes, half
# the error. The average of many batches is closer still, because this textbook estimate is
# unbiased for the gradient of J: only its noise averages away.
#
# REINFORCE trains with other settings by default: `normalize_returns=True` (returns standardised
# within the batch) and `loss_reduction="mean"` (the loss averaged over all steps, not summed per
# episode). That estimator is *rescaled*: on average it points the right way, but its length is
# not that of the exact gradient, so it is not unbiased for dJ/dtheta. The same check shows it:

# %%
defaults = Estimator("REINFORCE's defaults", normalize_returns=True, loss_reduction="mean")
for estimator in (Estimator("textbook"), defaults):
    check = check_gradient(model, "PGToy-v0", n_episodes=32, n_batches=50, estimator=estimator, seed=0)
    print(
        f"{estimator.name:21s}: scale |average| / |exact| {check.scale:.3f}, cosine of the average {check.cosine:.4f}"
    )

# %% [markdown]
# A scale far from 1 with a cosine near 1: the direction is right, the length is not the
# gradient's. Adam, REINFORCE's optimiser, divides each step by a running average of the
# gradient's size, so a constant rescaling barely changes the steps it takes.
#
# ## 5. A short training run
#
# REINFORCE with its defaults, 20,000 steps. Because the exact value is known, the learning curve
# shows the *true* expected return of the policy after every update, not a noisy estimate.

# %%
callback = ExactReturnCallback("PGToy-v0")
trained = REINFORCE("MlpPolicy", "PGToy-v0", seed=0, device="cpu").learn(20_000, callback=callback)
print(f"exact expected return after training: {exact.expected_return('PGToy-v0', trained):.3f}")
plot_learning_curves({"seed 0": (callback.timesteps, callback.returns)}, exact.optimal_return("PGToy-v0"))

# %% [markdown]
# The policy it learned, as a tree. With seed 0 it goes left for the diamond, then right twice:
# the slippery path, worth 11 on average, rather than the safe 10 of "always right".

# %%
plot_tree("PGToy-v0", trained)
