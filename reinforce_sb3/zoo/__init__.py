"""REINFORCE in RL Baselines3 Zoo (rl_zoo3): ``python -m reinforce_sb3.zoo.train``, ``.enjoy`` and ``.record_video``.

Every flag of the zoo's scripts works the same, plus ``--algo reinforce`` with the hyperparameters
shipped in ``hyperparams/reinforce.yml``, multi-seed ``-optimize`` studies and ``--debug``; bad input
ends in one line on stderr and exit status 2. The modules, each importing only those above it:

- :mod:`~reinforce_sb3.zoo.sampler`: the optuna search space (sampler and converter);
- :mod:`~reinforce_sb3.zoo.registration`: ``--algo reinforce`` and that search space put in the zoo;
- :mod:`~reinforce_sb3.zoo.config`: the shipped hyperparameter file and the default output;
- :mod:`~reinforce_sb3.zoo.checks`: the options checked before the zoo acts on them;
- :mod:`~reinforce_sb3.zoo.hooks`: the zoo's classes swapped for ours during a run;
- :mod:`~reinforce_sb3.zoo.tuning_options`: the options of ``-optimize`` studies;
- :mod:`~reinforce_sb3.zoo.scripts`: :func:`~reinforce_sb3.zoo.scripts.run` and the command lines;
- :mod:`~reinforce_sb3.zoo.tuning`, :mod:`~reinforce_sb3.zoo.study` and :mod:`~reinforce_sb3.zoo.postgres`:
  multi-seed studies, shared through a database (docs/tuning.md).

This package imports neither rl_zoo3 nor optuna until a run needs them. The zoo is an optional
extra: ``pip install "reinforce-sb3[zoo]"``; a PostgreSQL study also needs the ``tune`` extra (psycopg).
"""

# The names people use, re-exported ("import x as x": public here, documented once, in their modules)
from reinforce_sb3.zoo.config import HYPERPARAMS_FILE as HYPERPARAMS_FILE
from reinforce_sb3.zoo.config import with_default_config as with_default_config
from reinforce_sb3.zoo.hooks import zoo_experiment_manager as zoo_experiment_manager
from reinforce_sb3.zoo.registration import register as register
from reinforce_sb3.zoo.sampler import convert_reinforce_params as convert_reinforce_params
from reinforce_sb3.zoo.sampler import sample_reinforce_params as sample_reinforce_params
from reinforce_sb3.zoo.scripts import cli as cli
from reinforce_sb3.zoo.scripts import run as run
from reinforce_sb3.zoo.tuning_options import split_tuning_options as split_tuning_options
from reinforce_sb3.zoo.tuning_options import tuning_parser as tuning_parser
