"""Fixtures for the adapted SB3 tests."""

from collections.abc import Iterator

import pytest
import torch as th


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One torch thread per test: these tiny networks gain nothing from more, and on shared cores lose a lot
    (A2C's 500 Pendulum steps: 0.7 s with one thread, 10 s with two on a busy 2-core machine)."""
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)
