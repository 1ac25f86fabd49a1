"""The benchmark scripts run from a fresh set-up and measure what they say (small sizes; no timing is asserted).

Most sections run through their command line, so that the CLI, the machine line and the table are checked at once.
"""

import contextlib
import json
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch as th
import yaml

from benchmarks import (
    gpu,
    mujoco_speed,
    mujoco_summary,
    performance,
    scale,
    threads,
    throughput,
    time_to_solve,
    vector_env,
    waste,
    zoo_table,
)
from tests.helpers import number, printed, rows


def test_waste_is_zero_when_envs_pause_and_not_in_lockstep(capsys):
    table = rows(printed(waste.main, ["--steps", "3000"], capsys))
    share = {(row[0], row[1].split()[0]): float(row[4].rstrip("%")) for row in table}
    assert len(table) == 6
    assert share[("8", "DummyVecEnv")] == share[("32", "DummyVecEnv")] == 0.0
    assert share[("8", "VecEnv")] > 10.0
    assert share[("32", "VecEnv")] > share[("8", "VecEnv")]


def test_throughput_table_has_every_loop_and_consistent_ratios(capsys):
    out = printed(throughput.main, ["--steps", "600", "--repeats", "1"], capsys)
    table = rows(out)
    assert [(row[0], row[1]) for row in table] == [(n_envs, loop) for n_envs in ("1", "8") for loop in throughput.LOOPS]
    shares = re.search(r"checking the observations .*: ([\d.]+)% with 1 env, ([\d.]+)% with 8 envs", out)
    assert shares and all(0 < float(share) < 50 for share in shares.groups()), out
    n_loops = len(throughput.LOOPS)
    for block in (table[:n_loops], table[n_loops:]):
        speeds = {row[1]: number(row[2]) for row in block}
        for row in block:
            assert number(row[2]) > 0
            # the ratio column divides REINFORCE's speed by the row's, to the 2 decimals printed
            assert float(row[4]) == pytest.approx(speeds["REINFORCE.learn"] / number(row[2]), abs=0.01, rel=0.01)


@pytest.mark.parametrize("n_envs", [None, 2])
def test_mujoco_speed_table_has_every_loop_and_the_ratio_of_its_medians(capsys, n_envs, monkeypatch):
    pytest.importorskip("mujoco")
    built = []  # the number of envs of each model the loops built
    entry_model = mujoco_speed.entry_model

    @contextlib.contextmanager
    def counted(env_id, n_envs=None):
        with entry_model(env_id, n_envs) as model:
            built.append(model.get_env().num_envs)
            yield model

    monkeypatch.setattr(mujoco_speed, "entry_model", counted)
    learned = []  # the steps the trained model had when each of its measurements began
    learn_speed = mujoco_speed.learn_speed

    def recorded(model, steps, reset_num_timesteps=True):
        if not reset_num_timesteps:  # the trained model, going on
            learned.append(model.num_timesteps)
        return learn_speed(model, steps, reset_num_timesteps)

    monkeypatch.setattr(mujoco_speed, "learn_speed", recorded)
    options = [] if n_envs is None else ["--n-envs", str(n_envs)]
    args = ["--envs", "Reacher-v5", "--steps", "1000", "--repeats", "2", "--trained", "1000", *options]
    table = rows(printed(mujoco_speed.main, args, capsys))
    import yaml

    from reinforce_sb3.zoo import HYPERPARAMS_FILE

    expected = n_envs or yaml.safe_load(HYPERPARAMS_FILE.read_text())["Reacher-v5"]["n_envs"]  # the entry's own
    assert len(table) == 1 and table[0][:2] == ["Reacher-v5", str(expected)]
    speeds = [number(cell) for cell in table[0][2:6]]  # env alone, VecEnv, from scratch, trained
    assert all(speed > 0 for speed in speeds)
    assert float(table[0][6]) == pytest.approx(speeds[2] / speeds[0], abs=0.01, rel=0.01)
    assert float(table[0][7]) == pytest.approx(speeds[3] / speeds[0], abs=0.01, rel=0.01)
    # the trained model: built once, before the repeats, and measured after its 1000 steps, going on
    assert built == [expected] * 5  # the trained model, then the VecEnv's and REINFORCE's of each repeat
    assert learned[0] >= 1000 and learned[1] >= learned[0] + 1000


def test_mujoco_speed_without_a_trained_model_has_the_from_scratch_columns_only(capsys):
    pytest.importorskip("mujoco")
    args = ["--envs", "Reacher-v5", "--steps", "1000", "--repeats", "1", "--trained", "0"]
    output = printed(mujoco_speed.main, args, capsys)
    assert "trained" not in output
    assert len(rows(output)[0]) == 6


def test_mujoco_speed_measures_the_mujoco_entries_only():
    assert set(mujoco_speed.mujoco_entries()) >= {"InvertedPendulum-v5", "Hopper-v5", "Reacher-v5"}
    assert "CartPole-v1" not in mujoco_speed.mujoco_entries()


def test_mujoco_speed_without_mujoco_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(mujoco_speed, "mujoco_installed", lambda: False)
    threads = th.get_num_threads()
    try:
        with pytest.raises(SystemExit, match=r"MuJoCo is not installed: pip install .*\[mujoco\]"):
            mujoco_speed.main(["--envs", "Reacher-v5"])
    finally:
        th.set_num_threads(threads)  # the benchmark set one thread before it stopped; the suite keeps its own


def test_memory_of_a_batch_grows_with_its_steps(capsys):
    argv = ["--n-envs", "1", "--n-episodes", "8", "256", "--lengths", "--min-steps", "0"]
    table = rows(printed(scale.main, argv, capsys))
    assert [row[:3] for row in table] == [["CartPole-v1", "1", "8"], ["CartPole-v1", "1", "256"]]
    (small_steps, small_mib), (large_steps, large_mib) = [(number(row[3]), float(row[5])) for row in table]
    assert large_steps > 10 * small_steps
    assert large_mib > 2 * small_mib


def test_vector_env_section(capsys):
    table = rows(printed(vector_env.main, ["--seconds", "0.01"], capsys))
    assert len(table) == 10
    assert {row[2] for row in table} == {"1", "64", "1024", "4096"}
    assert all(number(row[3]) > 0 for row in table)


def test_threads_trainings_run_with_the_thread_count_of_their_setting():
    """Real trainings in fresh processes: the defaults run learn() on one thread (torch's and BLAS's), torch's
    default on its own count; the counts are read inside learn()."""
    speed, n_threads, blas_threads = threads._run_together("defaults", 1, 300)
    assert speed > 0 and (n_threads, blas_threads) == (1, 1)
    speed, n_threads, _ = threads._run_together("torch's default", 2, 300)
    assert speed > 0 and n_threads == th.get_num_threads()
    speed, n_threads, blas_threads = threads._run_together("defaults", 1, 300, n_envs=3, net_arch=[16, 16])
    assert speed > 0 and (n_threads, blas_threads) == (1, 1)


def test_threads_table_compares_each_setting_with_one_thread_in_the_same_layout(monkeypatch):
    """The table's arithmetic, on made-up speeds (the measurement itself is the test above)."""
    speeds = {"defaults": 900.0, "torch.set_num_threads(1)": 1000.0, "torch's default": 250.0}
    monkeypatch.setattr(threads, "_run_together", lambda setting, n, *_args: (speeds[setting] * n, 1, 2))
    text = threads.threads(steps=10, repeats=2, n_envs=8, net_arch=[256, 256])
    assert text.startswith("CartPole-v1, 8 env(s), REINFORCE defaults with net_arch=[256, 256]")
    table = rows(text)
    assert [(row[0], row[1]) for row in table] == [
        (layout, setting) for layout in ("alone", "two side by side") for setting in threads.SETTINGS
    ]
    assert [(row[2], row[3]) for row in table] == [("1", "2")] * 6
    assert [row[6] for row in table] == ["0.90", "1.00", "0.25"] * 2
    assert [row[4] for row in table[3:]] == ["1,800", "2,000", "500"]


@pytest.mark.skipif(th.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_gpu_section_says_no_cuda(capsys):
    assert "no CUDA" in printed(gpu.main, ["--steps", "1000"], capsys)


@pytest.mark.skipif(th.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_performance_runs_the_chosen_sections_under_one_machine_line(capsys):
    out = printed(performance.main, ["--sections", "gpu"], capsys)
    assert [line.split(" (")[0] for line in out.splitlines() if line.startswith("## ")] == ["## gpu"]
    assert "no CUDA" in out


@pytest.mark.parametrize(
    ("main", "argv", "argument"),
    [
        (waste.main, ["--steps", "0"], "--steps"),
        (throughput.main, ["--repeats", "two"], "--repeats"),
        (scale.main, ["--min-steps", "-1"], "--min-steps"),
        (vector_env.main, ["--seconds", "0"], "--seconds"),
        (performance.main, ["--sections", "speed"], "--sections"),
        (time_to_solve.main, ["--eval-freq", "0"], "--eval-freq"),
        (zoo_table.main, ["--envs", "Pong-v5"], "--envs"),
        (mujoco_speed.main, ["--envs", "CartPole-v1"], "--envs"),
        (zoo_table.main, ["--conf-file", "missing.yml"], "--conf-file"),
        (zoo_table.main, ["--algos", "reinforce", "a2cc"], "--algos"),
    ],
)
def test_bad_arguments_are_one_line_errors_naming_the_argument(main, argv, argument, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert f"argument {argument}" in capsys.readouterr().err


def test_zoo_table_measures_a_candidate_file_at_its_budget(tmp_path):
    candidate = tmp_path / "candidate.yml"
    candidate.write_text("PGToy-v0:\n  n_timesteps: 400\n  policy: 'MlpPolicy'\n  n_episodes: 4\n")
    output = tmp_path / "runs.jsonl"
    markdown = zoo_table.zoo_table(
        ["PGToy-v0"], 1, 1, 5, ["reinforce"], output, 7, conf_file=candidate, per_seed=True, evaluations=2
    )
    assert rows(markdown)[0][:3] == ["PGToy-v0", "400", "7-7"]
    (run,) = [json.loads(line) for line in output.read_text().splitlines()]
    assert rows(markdown)[0][4] == f"{run['mean']:.1f} (exact {run['exact']:.3f})"  # one seed: no interval
    # Tianshou's metric: the best of the evaluations during training (every 200 steps) and the final one
    assert "reinforce best during training, IQM [95% CI]" in markdown.splitlines()[0]
    assert run["max_over_training"] >= run["mean"] and rows(markdown)[0][5] == f"{run['max_over_training']:.1f}"
    assert rows(markdown)[0][6] == f"{run['mean']:.1f}"  # the per-seed column
    assert run["budget"] == 400 and run["seed"] == 7 and 400 <= run["timesteps"] < 440  # whole batches of episodes
    assert math.isfinite(run["exact"]) and run["exact"] <= 11  # the optimum is 11


def test_zoo_table_gives_the_iqm_and_its_bootstrap_interval_beside_the_mean(monkeypatch):
    """Made-up runs (the training is the test above): 4 seeds of REINFORCE, one far off, and A2C."""
    scores = {"reinforce": [3.0, 1.0, 100.0, 2.0], "a2c": [6.0, 4.0, 4.0, 6.0]}

    def made_up(algo, env_id, budget, seed, *args):
        return {"algo": algo, "env": env_id, "budget": budget, "seed": seed, "mean": scores[algo][seed]}

    monkeypatch.setattr(zoo_table, "train_and_evaluate", made_up)
    markdown = zoo_table.zoo_table(["CartPole-v1"], 4, 1, 5, ["reinforce", "a2c"], None)
    assert markdown.splitlines()[0] == (
        "| task | budget | seeds | reinforce mean ± std | reinforce IQM [95% CI] | a2c mean ± std | a2c IQM [95% CI] |"
    )
    (row,) = rows(markdown)
    assert row[3] == f"26.5 ± {np.std(scores['reinforce']):.1f}" and row[5] == "5.0 ± 1.0"
    # the IQM of 4 runs is the mean of the middle two: (2 + 3) / 2, not pulled up by the 100 as the mean is
    point, low, high = (float(x) for x in row[4].replace("[", "").replace("]", "").replace(",", "").split())
    assert point == 2.5 and 1.0 <= low <= point < high <= 100.0
    assert row[6].startswith("5.0 [4.0, ")


def zoo_entries(algo):
    import rl_zoo3

    return yaml.safe_load((Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo}.yml").read_text())


def test_zoo_hyperparameters_fall_back_to_the_older_version_of_the_task_then_to_the_default():
    assert zoo_table.zoo_hyperparameters("a2c", "CartPole-v1") == ("", None)  # the zoo's own entry
    note, entry = zoo_table.zoo_hyperparameters("ppo", "Hopper-v5")
    assert entry == zoo_entries("ppo")["Hopper-v4"] and "Hopper-v5" not in zoo_entries("ppo")
    assert note == "ppo on Hopper-v5: the zoo's Hopper-v4 hyperparameters (it has none for Hopper-v5)"
    note, entry = zoo_table.zoo_hyperparameters("a2c", "Reacher-v5")  # no Reacher in the zoo's a2c.yml
    assert entry is None and "default" in note
    assert not any(re.fullmatch(r"Reacher-v\d+", key) for key in zoo_entries("a2c"))


def test_zoo_table_trains_on_the_older_versions_entry_and_says_so(monkeypatch):
    """Made-up runs: what each run is given to train with, and the note under the table."""
    given = {}

    def made_up(algo, env_id, budget, seed, eval_episodes, folder, conf_file, evaluations):
        given[algo] = None if conf_file is None else yaml.safe_load(conf_file.read_text())
        return {"algo": algo, "env": env_id, "budget": budget, "seed": seed, "mean": 1.0}

    monkeypatch.setattr(zoo_table, "train_and_evaluate", made_up)
    markdown = zoo_table.zoo_table(["Hopper-v5"], 1, 1, 5, ["reinforce", "a2c", "ppo"], None)
    assert given == {
        "reinforce": None,  # the shipped reinforce.yml
        "a2c": {"Hopper-v5": zoo_entries("a2c")["Hopper-v4"]},
        "ppo": {"Hopper-v5": zoo_entries("ppo")["Hopper-v4"]},
    }
    assert markdown.splitlines()[-3:] == [
        "",  # the notes are not rows of the table
        "- a2c on Hopper-v5: the zoo's Hopper-v4 hyperparameters (it has none for Hopper-v5)",
        "- ppo on Hopper-v5: the zoo's Hopper-v4 hyperparameters (it has none for Hopper-v5)",
    ]
    markdown = zoo_table.zoo_table(["CartPole-v1"], 1, 1, 5, ["reinforce", "a2c"], None)
    assert given["a2c"] is None and markdown.splitlines()[-1].startswith("| CartPole-v1 |")  # no note


def test_a2c_on_a_task_the_zoo_has_only_for_an_older_version_trains_with_that_versions_hyperparameters(tmp_path):
    pytest.importorskip("mujoco")
    conf = tmp_path / "a2c.yml"
    conf.write_text(yaml.safe_dump({"Hopper-v5": zoo_table.zoo_hyperparameters("a2c", "Hopper-v5")[1]}))
    run = zoo_table.train_and_evaluate("a2c", "Hopper-v5", 200, 0, 1, tmp_path, conf)
    assert run["timesteps"] >= 200 and math.isfinite(run["mean"])
    from rl_zoo3 import get_saved_hyperparams

    saved, stats_path = get_saved_hyperparams(str(tmp_path / "a2c-Hopper-v5-0" / "a2c" / "Hopper-v5_1" / "Hopper-v5"))
    # the v4 entry normalizes, the zoo's default entry does not
    assert saved["normalize"] is True and stats_path is not None


def test_a_failed_run_is_a_note_under_the_table_and_the_scores_are_over_the_others(monkeypatch):
    """Made-up runs: seed 1 of 3 failed (the training test is below)."""

    def made_up(algo, env_id, budget, seed, *args):
        run = {"algo": algo, "env": env_id, "budget": budget, "seed": seed}
        return {**run, "failed": "ValueError: diverged"} if seed == 1 else {**run, "mean": 10.0 * (seed + 1)}

    monkeypatch.setattr(zoo_table, "train_and_evaluate", made_up)
    markdown = zoo_table.zoo_table(["CartPole-v1"], 3, 1, 5, ["reinforce"], None, per_seed=True)
    (row,) = rows(markdown)
    assert row[3] == "20.0 ± 10.0" and row[5] == "10.0, failed, 30.0"  # seeds 0 and 2: 10 and 30
    assert markdown.splitlines()[-1] == (
        "- reinforce on CartPole-v1, seed 1: training failed (ValueError: diverged); "
        "its scores are over the other 2 runs"
    )


def test_a_run_whose_training_fails_gives_the_zoos_one_line_error(tmp_path):
    candidate = tmp_path / "candidate.yml"
    candidate.write_text("PGToy-v0:\n  n_timesteps: 400\n  policy: 'MlpPolicy'\n  n_episodes: 0\n")
    run = zoo_table.train_and_evaluate("reinforce", "PGToy-v0", 400, 0, 5, tmp_path, candidate)
    assert run["seed"] == 0 and "mean" not in run
    assert "error" in run["failed"] and "n_episodes" in run["failed"]


def test_time_to_solve_runs_and_reports_unsolved_runs():
    runs = time_to_solve.time_to_solve(["reinforce"], [0], eval_freq=1000, max_steps=2000)
    assert len(runs) == 1 and runs[0]["algo"] == "reinforce"
    assert [step for step, _ in runs[0]["evaluations"]] == [1000, 2000] or runs[0]["solved"]
    assert all(0 < mean <= 500 for _, mean in runs[0]["evaluations"])
    table = rows(time_to_solve.format_table(runs))
    assert table[0][0] == "reinforce"
    assert table[0][4] == f"{int(runs[0]['solved'])}/1"
    if not runs[0]["solved"]:
        assert table[0][5] == "∞" and math.isinf(time_to_solve._median([None]))


def test_time_to_solve_table_gives_each_median_its_bootstrap_interval():
    """Made-up runs: 4 seeds of REINFORCE, one unsolved (infinite), and 2 of PPO."""

    def runs(algo, steps):
        return [
            {"algo": algo, "hyperparams": "h", "n_envs": 1, "budget": 5000, "solved": step is not None,
             "steps": step, "seconds": None if step is None else step / 1000}
            for step in steps
        ]  # fmt: skip

    table = rows(time_to_solve.format_table(runs("reinforce", [1000, 2000, 3000, None]) + runs("ppo", [1000, 3000])))
    # REINFORCE's median is (2000 + 3000) / 2. A resample has median infinity when 2 of its 4 runs are the
    # unsolved one (probability 0.26 > 0.025): the upper bound is infinite; its median is 1000 when 3 of 4 are
    # the 1000 run (probability 0.051 > 0.025): the lower bound is 1000.
    assert table[0][4:7] == ["3/4", "2,500 [1,000, ∞]", "2.5 [1.0, ∞]"]
    # two seeds: the interval spans them (resamples (a, a), (a, b), (b, b))
    assert table[1][4:7] == ["2/2", "2,000 [1,000, 3,000]", "2.0 [1.0, 3.0]"]
    assert table[1][8:] == ["0.80", "0.80"]  # the ratios divide the medians themselves


@pytest.mark.skipif(not th.cuda.is_available(), reason="needs CUDA")
def test_one_host_to_device_copy_per_array_per_update_and_one_per_step():
    """The batch crosses once per update (observations, actions, returns); a rollout step sends only its obs."""
    from reinforce_sb3 import REINFORCE

    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0, device="cuda")
    model.learn(500)
    copies = gpu.count_copies(model, 2000)
    assert copies["update"] == 3.0
    assert copies["step"] == 1.0


def test_time_to_solve_measures_a_candidate_file(tmp_path):
    candidate = tmp_path / "candidate.yml"
    candidate.write_text("CartPole-v1:\n  n_timesteps: 1000\n  policy: 'MlpPolicy'\n  n_episodes: 2\n")
    (run,) = time_to_solve.time_to_solve(["reinforce"], [0], eval_freq=500, conf_file=candidate)
    assert run["hyperparams"] == "candidate candidate.yml" and run["budget"] == 1000
    assert [step for step, _ in run["evaluations"]] == [500, 1000]


def test_time_to_solve_full_budget_trains_on_after_the_first_solve(tmp_path, monkeypatch):
    """Made-up evaluations (a tiny budget cannot solve CartPole): solved at 500, a dip at 1000, good at the budget."""
    from benchmarks import cartpole_zoo

    candidate = tmp_path / "candidate.yml"
    candidate.write_text("CartPole-v1:\n  n_timesteps: 1500\n  policy: 'MlpPolicy'\n  n_episodes: 2\n")
    scores = {500: 480.0, 1000: 400.0, 1500: 490.0}
    monkeypatch.setattr(cartpole_zoo, "evaluate", lambda model, env, seed, deterministic: scores[model.num_timesteps])
    (first,) = time_to_solve.time_to_solve(["reinforce"], [0], eval_freq=500, conf_file=candidate)
    assert first["steps"] == 500 and first["steps_run"] == 500 and "final" not in first  # stops at the first solve
    (run,) = time_to_solve.time_to_solve(["reinforce"], [0], eval_freq=500, conf_file=candidate, full_budget=True)
    assert run["evaluations"] == list(scores.items()) and run["steps_run"] == 1500
    assert run["steps"] == 500 and run["final"] == 490.0  # the first solve is kept; the score at the budget is the last
    assert 0 < run["seconds"] <= run["train_seconds"]  # training seconds to the first solve
    header = time_to_solve.format_table([run]).splitlines()[0]
    assert header.endswith("| ≥ 475 at the budget | score at the budget [95% CI] | evaluations after the solve < 475 |")
    assert rows(time_to_solve.format_table([run]))[0][4:6] == ["1/1", "500"]
    assert rows(time_to_solve.format_table([run]))[0][10:] == ["1/1", "490.0", "1/2; per seed 0.50"]
    with pytest.raises(ValueError, match="full_budget: the peers stop at the first solve, pytorch_example"):
        time_to_solve.time_to_solve(["reinforce", "pytorch_example"], [0], full_budget=True)


def test_tune_workers_trials_are_the_shipped_cartpole_entry():
    import yaml

    from benchmarks import tune_workers
    from reinforce_sb3.zoo import HYPERPARAMS_FILE, convert_reinforce_params

    # the entry leaves REINFORCE's default baseline out
    entry = {"baseline": "none", **yaml.safe_load(HYPERPARAMS_FILE.read_text())["CartPole-v1"]}
    converted = convert_reinforce_params(tune_workers.PARAMS)
    policy_kwargs = converted.pop("policy_kwargs")
    assert converted["gamma"] == pytest.approx(entry.pop("gamma"))
    assert {key: value for key, value in converted.items() if key != "gamma"} == {
        key: value for key, value in entry.items() if key not in ("n_timesteps", "policy", "policy_kwargs")
    }
    assert f"net_arch={policy_kwargs['net_arch']}" in entry["policy_kwargs"]
    assert f"betas={policy_kwargs['optimizer_kwargs']['betas']}" in entry["policy_kwargs"]
    assert f"activation_fn=nn.{policy_kwargs['activation_fn'].__name__}" in entry["policy_kwargs"]


def mujoco_page(monkeypatch, scores, command_tail=""):
    """A page with one results block of zoo_table per MuJoCo task, made from made-up final scores per seed."""

    def made_up(algo, env_id, budget, seed, *args):
        mean = scores[env_id][seed]
        run = {"algo": algo, "env": env_id, "budget": budget, "seed": seed}
        return {**run, "mean": mean, "max_over_training": mean + 1}

    monkeypatch.setattr(zoo_table, "train_and_evaluate", made_up)
    blocks = []
    for task, seed_scores in scores.items():
        command = f"python -m benchmarks.zoo_table --envs {task} --algos reinforce --seeds {len(seed_scores)}"
        n_seeds = len(seed_scores)
        markdown = zoo_table.zoo_table([task], n_seeds, 1, 10, ["reinforce"], None, per_seed=True, evaluations=2)
        output = f"Machine: m\n\n**zoo (1 s)**\n\n{markdown}\n"
        blocks.append(f"<!-- results: {command}{command_tail} -->\n{output}<!-- /results -->")
    return "# MuJoCo\n\n" + "\n\ntext\n\n".join(blocks) + "\n"


def made_up_mujoco_scores():
    """Five seeds per task: all above Tianshou's figure, except HalfCheetah's (two below) and Swimmer's (all below)."""
    figures = mujoco_summary.TIANSHOU
    scores = {task: [figure + 10.0 * (seed + 1) for seed in range(5)] for task, figure in figures.items()}
    scores["HalfCheetah-v5"] = [800.0, 850.0, 900.0, 950.0, 1000.0]
    scores["Swimmer-v5"] = [30.0] * 5
    return scores


def test_mujoco_summary_gathers_the_entries_blocks_beside_tianshous_figures(monkeypatch, tmp_path):
    page = tmp_path / "zoo.md"
    page.write_text(mujoco_page(monkeypatch, made_up_mujoco_scores()))
    summary = mujoco_summary.mujoco_summary(page)
    table_rows = {row[0]: row for row in rows(summary)}
    assert list(table_rows) == list(mujoco_summary.TIANSHOU)
    entries = yaml.safe_load(mujoco_summary.HYPERPARAMS_FILE.read_text())
    for task, row in table_rows.items():
        budget = int(float(entries[task]["n_timesteps"]))
        assert row[1] == f"{budget:,}" and row[3] == str(mujoco_summary.TIANSHOU[task])
        assert row[2] == str(Fraction(budget, 3_000_000))  # the share of Tianshou's 3M steps
    assert table_rows["Hopper-v5"][6] == "5 of 5" and table_rows["HalfCheetah-v5"][6] == "3 of 5"
    assert table_rows["Swimmer-v5"][6] == "0 of 5"
    # HalfCheetah: IQM of the middle three, 900 >= 884, but the interval reaches below; Swimmer's IQM 30 < 35.3
    assert table_rows["HalfCheetah-v5"][4].startswith("900.0 [")
    assert summary.splitlines()[-1] == (
        "At or above Tianshou's figure: the IQM on 6 of 7 tasks, the lower end of its interval on 5, every seed on 5."
    )


def test_mujoco_summary_reads_only_the_shipped_entries_runs_and_refuses_a_missing_or_stale_one(monkeypatch, tmp_path):
    scores = made_up_mujoco_scores()
    page = tmp_path / "zoo.md"
    text = mujoco_page(monkeypatch, scores)
    candidates = mujoco_page(monkeypatch, {"Hopper-v5": [0.0] * 5}, command_tail=" --conf-file candidate.yml")
    page.write_text(text + candidates)  # a candidate's block is not the entry's
    assert {row[0]: row for row in rows(mujoco_summary.mujoco_summary(page))}["Hopper-v5"][6] == "5 of 5"
    page.write_text(text.replace("--envs Reacher-v5 --algos reinforce", "--envs Reacher-v5 --algos reinforce a2c"))
    with pytest.raises(ValueError, match="Reacher-v5: 0 results blocks"):
        mujoco_summary.mujoco_summary(page)
    budget = int(float(yaml.safe_load(mujoco_summary.HYPERPARAMS_FILE.read_text())["Hopper-v5"]["n_timesteps"]))
    page.write_text(text.replace(f"| Hopper-v5 | {budget:,} |", f"| Hopper-v5 | {2 * budget:,} |"))
    with pytest.raises(ValueError, match=f"Hopper-v5: its results block trained {2 * budget:,} steps"):
        mujoco_summary.mujoco_summary(page)


def baseline_block(monkeypatch, task, algos, seed_scores, first_seed=0):
    """A results block of zoo_table running ``algos`` (A2C, PPO) on ``task``, from made-up final scores per seed."""

    def made_up(algo, env_id, budget, seed, *args):
        mean = seed_scores[seed - first_seed] + (1000.0 if algo == "ppo" else 0.0)
        return {"algo": algo, "env": env_id, "budget": budget, "seed": seed, "mean": mean, "max_over_training": mean}

    monkeypatch.setattr(zoo_table, "train_and_evaluate", made_up)
    n_seeds = len(seed_scores)
    markdown = zoo_table.zoo_table(
        [task], n_seeds, 1, 10, algos, None, first_seed=first_seed, per_seed=True, evaluations=2
    )
    command = f"python -m benchmarks.zoo_table --envs {task} --algos {' '.join(algos)} --seeds {n_seeds}"
    return f"<!-- results: {command} -->\nMachine: m\n\n**zoo (1 s)**\n\n{markdown}\n<!-- /results -->\n"


def test_mujoco_summary_puts_a2c_and_ppo_beside_where_the_page_has_their_block(monkeypatch, tmp_path):
    page = tmp_path / "zoo.md"
    text = mujoco_page(monkeypatch, made_up_mujoco_scores())
    hopper = baseline_block(monkeypatch, "Hopper-v5", ["a2c", "ppo"], [100.0, 200.0, 300.0, 400.0, 500.0])
    page.write_text(text + "\n" + hopper)
    summary = mujoco_summary.mujoco_summary(page)
    header = summary.split("\n\n")[1].splitlines()[0]
    assert "A2C (zoo), final IQM [95% CI]" in header and "PPO (zoo), final IQM [95% CI]" in header
    table_rows = {row[0]: row for row in rows(summary)}
    assert table_rows["Hopper-v5"][7].startswith("300.0 [") and table_rows["Hopper-v5"][8].startswith("1300.0 [")
    assert table_rows["Reacher-v5"][7:] == ["not run", "not run"]
    # the REINFORCE columns are those without the block
    page.write_text(text)
    without = {row[0]: row[:7] for row in rows(mujoco_summary.mujoco_summary(page))}
    assert {task: row[:7] for task, row in table_rows.items()} == without
    # a block on other seeds than the entry's, and a second block of one algorithm, are refused
    page.write_text(text + baseline_block(monkeypatch, "Hopper-v5", ["a2c"], [1.0] * 5, first_seed=200))
    with pytest.raises(ValueError, match=r"Hopper-v5: its a2c block trained .* on seeds 200-204, the entry's block"):
        mujoco_summary.mujoco_summary(page)
    page.write_text(text + hopper + baseline_block(monkeypatch, "Hopper-v5", ["a2c"], [1.0] * 5))
    with pytest.raises(ValueError, match="Hopper-v5: two results blocks of a2c"):
        mujoco_summary.mujoco_summary(page)


def test_mujoco_summary_of_a_missing_page_is_a_one_line_error(tmp_path):
    with pytest.raises(SystemExit, match="page: no such file"):
        mujoco_summary.main([str(tmp_path / "zoo.md")])
