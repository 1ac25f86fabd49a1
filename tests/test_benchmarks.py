"""The benchmark scripts run from a fresh set-up and measure what they say (small sizes; no timing is asserted)."""

import math

import pytest
import torch as th

from benchmarks import performance, time_to_solve


def rows(markdown: str) -> list[list[str]]:
    """The body rows of the markdown table in ``markdown``."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_waste_is_zero_when_envs_pause_and_not_in_lockstep():
    table = rows(performance.waste(3000))
    waste = {(row[0], row[1].split()[0]): float(row[4].rstrip("%")) for row in table}
    assert len(table) == 6
    assert waste[("8", "DummyVecEnv")] == waste[("32", "DummyVecEnv")] == 0.0
    assert waste[("8", "VecEnv")] > 10.0
    assert waste[("32", "VecEnv")] > waste[("8", "VecEnv")]


def test_throughput_table_has_every_loop_and_consistent_ratios():
    table = rows(performance.throughput(600, repeats=1))
    assert [row[1] for row in table[:6]] == [
        "env alone",
        "plain loop (torch sampling)",
        "plain loop (numpy actor)",
        "REINFORCE.learn",
        "A2C.learn",
        "PPO.learn",
    ]
    for row in table:
        speed = float(row[2].replace(",", ""))
        assert speed > 0
        if row[1] == "REINFORCE.learn":
            assert row[4] == "1.00"


def test_memory_of_a_batch_grows_with_its_steps():
    small = performance._in_fresh_process("CartPole-v1", 1, 8, 2, None)
    large = performance._in_fresh_process("CartPole-v1", 1, 256, 2, None)
    assert large["batch_steps"] > 10 * small["batch_steps"]
    assert large["added_mib"] > 2 * small["added_mib"]


def test_vector_env_section():
    table = rows(performance.vector(seconds=0.01))
    assert len(table) == 10
    assert {row[2] for row in table} == {"1", "64", "1024", "4096"}


@pytest.mark.skipif(th.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_gpu_section_says_no_cuda():
    assert performance.gpu(1000).startswith("no CUDA")


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


@pytest.mark.skipif(not th.cuda.is_available(), reason="needs CUDA")
def test_one_host_to_device_copy_per_array_per_update_and_one_per_step():
    """The batch crosses once per update (observations, actions, returns); a rollout step sends only its obs."""
    from reinforce_sb3 import REINFORCE

    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0, device="cuda")
    model.learn(500)
    copies = performance._count_copies(model, 2000)
    assert copies["update"] == 3.0
    assert copies["step"] == 1.0
