"""``--algo reinforce`` in the zoo: REINFORCE and its optuna search space put where the zoo looks them up.

The zoo has no plugin hook for algorithms; its maintainers point to inserting into ``rl_zoo3.ALGOS``
(and ``rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER`` / ``HYPERPARAMS_CONVERTER``) before the zoo's
own entry points run, which :func:`register` does.
"""

from __future__ import annotations

from reinforce_sb3.zoo.sampler import convert_reinforce_params, sample_reinforce_params


def register() -> None:
    """Make ``--algo reinforce`` known to the zoo and its optuna support, and register the tree-game envs."""
    try:
        import rl_zoo3
        from rl_zoo3 import hyperparams_opt
    except ImportError as error:
        raise ImportError(
            f"the zoo scripts need the optional extra: pip install 'reinforce-sb3[zoo]' ({error})"
        ) from error

    import gym_pgtoy  # noqa: F401  (registers PGToy-v0 and SlipperyHill-v0)
    from reinforce_sb3 import REINFORCE

    rl_zoo3.ALGOS["reinforce"] = REINFORCE  # the same dict object as rl_zoo3.utils.ALGOS
    hyperparams_opt.HYPERPARAMS_SAMPLER["reinforce"] = sample_reinforce_params
    hyperparams_opt.HYPERPARAMS_CONVERTER["reinforce"] = convert_reinforce_params
