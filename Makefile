# `make train` and `make test` create .venv on first use and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install train test test-fast lint type format peers

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

# Tianshou's REINFORCE, a peer of benchmarks.time_to_solve, in its own venv: in .venv, tianshou 2.0.1
# would downgrade pandas and filelock (benchmarks/tianshou_peer.py)
PEERS_VENV := .venv-peers

peers: $(PEERS_VENV)/.installed

$(PEERS_VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet -c constraints.txt torch==2.13.0 tianshou==2.0.1 -e .
	touch $@

train: $(STAMP)
	$(BIN)/python examples/train_pgtoy.py

# the whole suite, slow learning checks included (a few minutes on 2 cores)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "slow or not slow" --durations=20

# without the tests marked slow
test-fast: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# type-check the packages (strict on the core; configuration in pyproject.toml)
type: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: mutation

# mutation testing of the core math (estimator, buffer, the collector's batch rule) with mutmut 3,
# by their tests only ([tool.mutmut] in pyproject.toml); not part of `make test`. Its work folder is
# mutants/ (git-ignored); tests/mutation/summary.py prints killed / total per module and the survivors, and
# `$(BIN)/mutmut show NAME` shows one. One torch thread per worker: forked workers hang in torch's thread pool.
# MUTMUT_CHILDREN: parallel workers (default 1)
MUTMUT_CHILDREN ?= 1

mutation: $(STAMP)
	test -x $(BIN)/mutmut || $(BIN)/python -m pip install --quiet -c constraints.txt "mutmut>=3.2"
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/mutmut run --max-children $(MUTMUT_CHILDREN)
	$(BIN)/python -m tests.mutation.summary

.PHONY: docs figures

# the documentation site, into site/ (any warning fails the build)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# redraw the pictures of the docs, then re-run the command of every table of results of docs/*.md
# (docs/update_results.py; the Guide's baselines table is that of the baselines picture, drawn again there), and
# store the student notebook executed (docs/notebooks/execute.py);
# the time-to-solve table has Tianshou among the peers, hence .venv-peers. About an hour on 2 cores.
figures: $(STAMP) peers
	$(BIN)/python -m reinforce_sb3.analysis.plots tree --out docs/tree.png
	$(BIN)/python -m reinforce_sb3.analysis.plots frames --optimal --out docs/frames.png
	$(BIN)/python -m reinforce_sb3.analysis.plots curves --seeds 5 --timesteps 20000 --out docs/learning_curves.png
	$(BIN)/python -m reinforce_sb3.analysis.plots errors --out docs/gradient_error.png
	$(BIN)/python -m reinforce_sb3.analysis.plots baselines --n-episodes 4 --n-batches 5000 --seed 11 --out docs/baselines.png
	$(BIN)/python -m benchmarks.multicore --plot docs/multicore_speedup.png
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[mujoco]"  # the zoo page's MuJoCo table
	$(BIN)/python docs/update_results.py
	$(BIN)/python docs/notebooks/execute.py
