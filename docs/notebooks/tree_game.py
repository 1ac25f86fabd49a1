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
# the `plots` extra (`make train` does that). Run it in Jupyter with the project's environment as
# the kernel, or as a plain script: `python docs/notebooks/tree_game.py`.

# %%
# %matplotlib inline
import gymnasium as gym
import numpy as np

import gym_pgtoy
from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from reinforce_sb3.analysis.diagnostics import check_gradient
from reinforce_sb3.analysis.learning import ExactReturnCallback
from reinforce_sb3.analysis.plots import plot_learning_curves, plot_tree

gym.register_envs(gym_pgtoy)

# %% [markdown]
# ## 1. The game
#
# Cells lie on a line: 0 is the pit, 1 the hillside with the diamond, 2 the hilltop where the
# robot starts, 3 the flag. The observation is `(cell, diamond_present)`; action 0 goes left,
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
policy = {(2, 1): (0.7, 0.3), (1, 0): (0.4, 0.6), (2, 0): (0.8, 0.2)}
analysis = exact.analyze("PGToy-v0", policy)
print(f"expected return J = {analysis.expected_return:.3f}")
print(f"optimum: {exact.optimal_return('PGToy-v0'):.3f} (left, right, right); 'always right' earns 10")

# %% [markdown]
# The policy gradient theorem says: the derivative of J with respect to the probability of
# action a in state s is **P(reaching s) x Q(s, a)**, the expected return after taking a there.
# The exact analysis knows both, at every time step `t`:

# %%
for t, states in enumerate(analysis.reach):
    for state, reach in states.items():
        q_left, q_right = analysis.q_values[t][state]
        print(f"t={t} state {state}: reach {reach:.3f}, Q(left) {q_left:+.2f}, Q(right) {q_right:+.2f}")
print()
for state, (d_left, d_right) in analysis.gradient.items():
    print(f"dJ/dpi at {state}: left {d_left:+.3f}, right {d_right:+.3f}")

# %% [markdown]
# Raising P(right) at the start pays most (+10 per unit): this policy goes left too often. The
# picture shows the same numbers on every edge of the game tree:

# %%
plot_tree("PGToy-v0", policy)

# %% [markdown]
# ## 3. REINFORCE's estimates converge to the exact gradient
#
# A neural-network policy has parameters, not a table. `exact.parameter_gradient` back-propagates
# the partial derivatives above through the network: the *true* gradient of J with respect to
# every weight. REINFORCE never sees the tree: it plays episodes and weights `log pi(a|s)` by the
# return that followed. `check_gradient` computes REINFORCE's estimate on `n_batches` independent
# batches of `n_episodes` episodes each, with REINFORCE's own loss function, and compares them with
# the truth.

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
# the error. The average of many batches is closer still, because the estimate is unbiased.

# %% [markdown]
# ## 4. A short training run
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
