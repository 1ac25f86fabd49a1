"""Frames of one episode of the tree game: what a recorded video shows, as one picture.

``python -m reinforce_sb3.analysis.plots frames`` draws them (:mod:`reinforce_sb3.analysis.plots`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from gym_pgtoy import exact
from reinforce_sb3.analysis import figures

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def play_episode(
    env: str | gym.Env, policy: Any = None, seed: int = 0, max_steps: int = 100
) -> tuple[list[np.ndarray], list[str]]:
    """The ``"rgb_array"`` frames of one episode of ``policy`` on ``env`` (the start and one per step, as a video
    recorded with gymnasium's ``RecordVideo`` shows them) and a caption of each: the step, the move and its reward.

    :param env: an id of the tree-game family, or an env whose ``spec`` makes it (made again to render)
    :param policy: anything :mod:`gym_pgtoy.exact` accepts; default: the walk-through's policy on a hill of one cell,
        else the uniform policy
    :param seed: seeds the env (its slips) and the choice of actions
    :param max_steps: the most steps played, on top of the env's own time limit
    """
    game = gym.make(env) if isinstance(env, str) else env
    if game.spec is None:
        raise ValueError(f"env must be an id or an env made by gym.make, got {env!r}")
    unwrapped = game.unwrapped
    continuous = bool(getattr(unwrapped, "continuous", False))
    if policy is None:
        hill = getattr(unwrapped, "hill_length", 1)
        policy = exact.WALKTHROUGH_POLICY if hill == 1 else exact.uniform_policy(hill)
    probabilities = exact.analyze(game, policy).policy
    render_env = gym.make(game.spec, render_mode="rgb_array")
    rng = np.random.default_rng(seed)
    observation, _ = render_env.reset(seed=seed)
    frames: list[np.ndarray] = [_frame(render_env)]
    captions = ["start"]
    for t in range(max_steps):
        move = int(rng.random() < probabilities[(int(observation[0]), int(observation[1]))][1])
        action: Any = np.array([1.0 if move else -1.0], dtype=np.float32) if continuous else move
        observation, reward, terminated, truncated, _ = render_env.step(action)
        frames.append(_frame(render_env))
        captions.append(f"step {t + 1}: {'right' if move else 'left'}, reward {reward:+g}")
        if terminated or truncated:
            break
    render_env.close()
    return frames, captions


def _frame(env: gym.Env) -> np.ndarray:
    """The ``"rgb_array"`` frame of ``env`` now."""
    frame = env.render()
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"the env rendered {type(frame).__name__}, not an rgb_array frame")
    return frame


def plot_frames(
    frames: Sequence[np.ndarray], captions: Sequence[str] | None = None, path: str | Path | None = None
) -> Figure:
    """
    Frames of an episode one under the other, at their own resolution, each with its caption.

    :param frames: ``"rgb_array"`` images of the same shape, as :func:`play_episode` returns them
    :param captions: one per frame (optional)
    :param path: where to save the PNG (optional)
    """
    if not frames or any(np.shape(frame) != np.shape(frames[0]) for frame in frames):
        raise ValueError("frames must hold at least one image, all of the same shape")
    if captions is not None and len(captions) != len(frames):
        raise ValueError(f"captions must hold one caption per frame ({len(frames)}), got {len(captions)}")
    plt = figures.pyplot()
    height, width = np.shape(frames[0])[:2]
    band = 24  # pixels above each frame for its caption
    strip = np.full((len(frames) * (band + height), width, 3), 255, dtype=np.uint8)
    for i, frame in enumerate(frames):
        top = i * (band + height) + band
        strip[top : top + height] = frame
    # one axes filling a figure of the strip's size: one pixel of the PNG per pixel of a frame
    figure = plt.figure(figsize=(width / figures.DPI, strip.shape[0] / figures.DPI))
    ax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.imshow(strip, interpolation="nearest")
    ax.set_axis_off()
    for i, caption in enumerate(captions or []):
        ax.text(4, i * (band + height) + band / 2, caption, va="center", fontsize=9)
    return figures.save(figure, path)
