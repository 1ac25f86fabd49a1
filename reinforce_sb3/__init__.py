"""REINFORCE (vanilla policy gradient) as a Stable-Baselines3 algorithm."""
