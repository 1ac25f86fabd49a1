"""benchmarks.multicore runs from its command line and its tables say what they measure (tiny sizes, no timing)."""

import pytest

from benchmarks import multicore
from tests.helpers import number, printed, rows


def test_multicore_benchmark_tables_and_plot(capsys, tmp_path):
    plot = tmp_path / "speedup.png"
    argv = ["--waste-steps", "1500", "--waste-envs", "8", "--updates", "1", "--workers", "1", "2", "--step-ms", "0.05"]
    argv += ["--overhead-steps", "800", "--repeats", "1", "--plot", str(plot)]
    out = printed(multicore.main, argv, capsys)
    waste_text, speedup_text, overhead_text = out.split("\n## ")[1:]
    assert all("Load average (1 min):" in text for text in (waste_text, speedup_text, overhead_text))

    waste = rows(waste_text)
    assert [(row[0], row[2]) for row in waste] == [(n, s) for n in ("8",) for s in ["paused"] * 3 + ["lockstep"] * 2]
    for row in waste:
        share = float(row[5].rstrip("%"))
        assert share == 0.0 if row[2] == "paused" else share > 10.0

    speedup_text, shares_text = speedup_text.split("\n\nWhere the time")
    speedup = rows(speedup_text)
    assert [row[0] for row in speedup] == ["1", "2"]
    shares = rows(shares_text)
    assert [row[0] for row in shares] == ["1", "2"]
    for row in shares:
        parts = [float(cell.rstrip("%")) for cell in row[1:]]
        assert len(parts) == 7 and parts[0] > 0 and all(part >= 0 for part in parts)
        assert sum(parts[:5]) <= 100 + 3  # the env's steps and the gaps between them fit in the wall time (rounding)
        assert parts[5] <= parts[4] + 1  # every env waits for the updates at a batch's end
        assert parts[5] - 1 <= parts[6] <= 100  # no env steps during the updates: every core is without one
    for row in speedup:
        dummy, paused, lockstep = (number(cell) for cell in row[1:4])
        assert min(dummy, paused, lockstep) > 0
        assert float(row[4]) == pytest.approx(paused / dummy, abs=0.01, rel=0.01)
        assert float(row[5]) == pytest.approx(lockstep / dummy, abs=0.01, rel=0.01)
        assert float(row[6]) > 0  # env alone
        assert 0 < float(row[7]) <= min(int(row[0]), multicore.cores()) + 1e-9  # the batch rule's ceiling
        assert float(row[8]) == min(int(row[0]), multicore.cores())
        assert number(row[9]) > 0  # the worker's wait between two steps
    assert plot.read_bytes().startswith(b"\x89PNG")

    overhead = rows(overhead_text)
    assert [row[0].split(",")[0] for row in overhead] == ["random actions"] * 2 + ["REINFORCE"] * 3 + ["A2C"] * 2
    assert [overhead[i][2] for i in (0, 2, 5)] == ["1.00"] * 3  # each loop on DummyVecEnv is its own reference
    assert overhead[1][3] == "1.00"  # random actions on SubprocVecEnv: the reference of the last column
    assert all(number(row[1]) > 0 for row in overhead)


def test_multicore_benchmark_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        multicore.main(["--workers", "0"])
    assert "argument --workers: must be an integer >= 1, got '0'" in capsys.readouterr().err


def test_cores_idle_counts_the_cores_beyond_the_steps_under_way():
    # 2 cores over [0, 4]: two steps on [0, 1], one on [1, 3], none on [3, 4]: 0 + 2 + 2 idle core-seconds of 8
    spans = [(0.0, 1.0), (0.0, 3.0)]
    assert multicore.cores_idle(spans, 0.0, 4.0, 2) == pytest.approx(4 / 8)
    # the parts of steps outside the window do not count: one step on [0, 0.5] and [1, 2], two on [0.5, 1]
    assert multicore.cores_idle([(-1.0, 1.0), (0.5, 5.0)], 0.0, 2.0, 2) == pytest.approx(1.5 / 4)
    # more steps under way than cores (processes waiting for one): no core idle
    assert multicore.cores_idle([(0.0, 2.0)] * 3, 0.0, 2.0, 2) == 0.0
    assert multicore.cores_idle([(5.0, 6.0)], 0.0, 2.0, 1) == 1.0
    assert multicore.cores_idle([(0.0, 1.0), (1.0, 2.0)], 0.0, 2.0, 1) == 0.0  # back to back: never idle
